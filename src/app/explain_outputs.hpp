#pragma once
// What `mpitrain explain` writes into its output directory (rank 0), and what rank 0 prints.

#include <filesystem>
#include <vector>

#include "app/explain_settings.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/explain/explanation.hpp"
#include "mpitrain/explain/permutation.hpp"

namespace mpitrain::app {

// attributions.h5, importance.csv, top20.png and, for image samples, class_heat_maps.png and
// sample_<i>.png for each --show sample; prints the top features and the samples whose completeness gap
// exceeds 5 % (integrated gradients). Every file is written atomically (a complete file or none).
void write_attribution_outputs(const std::filesystem::path& dir, const ExplainSettings& settings,
                               const data::Dataset& ds, const explain::Explanation& e);

// importance.csv (mean and std of the score drops), permutation_repeats.csv (the raw matrix) and
// top20.png; prints the score, the top groups and the sum of the others.
void write_permutation_outputs(const std::filesystem::path& dir, const ExplainSettings& settings,
                               const std::vector<explain::FeatureGroup>& groups,
                               const explain::PermutationResult& result);

}  // namespace mpitrain::app
