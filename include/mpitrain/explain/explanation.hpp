#pragma once
/// @file explanation.hpp
/// Gradient attributions of a whole evaluation set across the ranks: the rows are cut into the evaluation's
/// fixed 256-row chunks (train/evaluation.hpp), each rank attributes a contiguous run of whole chunks, the
/// per-sample results are gathered to rank 0 in sample order and the per-chunk importance sums are added on
/// rank 0 in chunk order. Every chunk is computed with the same shapes at any world size, so every output
/// is the same, bit for bit, at 1, 2 or 3 ranks (given the same threads per rank: nn::set_compute_threads).

#include <cstdint>
#include <vector>

#include "mpitrain/data/dataset.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/explain/attribution.hpp"
#include "mpitrain/explain/importance.hpp"
#include "mpitrain/explain/target.hpp"
#include "mpitrain/nn/model.hpp"

namespace mpitrain::explain {

/// The attributions of a set. Per-sample fields are filled on rank 0 only (empty elsewhere).
struct Explanation {
  std::int64_t samples = 0;               ///< N.
  std::int64_t features = 0;              ///< F, the model's input width.
  std::vector<float> attributions;        ///< N × F.
  std::vector<double> values;             ///< N: f(x), the explained output.
  std::vector<double> base_values;        ///< N: f(x′).
  std::vector<double> gaps;               ///< N: completeness gaps (attribution.hpp).
  std::vector<std::int32_t> predictions;  ///< N: arg-max logit.
  std::vector<std::int32_t> targets;      ///< N: the explained class.
  std::vector<float> baseline;            ///< F: x′ (on every rank).
  FeatureSums sums{0, 1};                 ///< On rank 0: per feature and class.
};

/// Attributes every row of @p ds (scaled features; labels when @p target is true_class) with @p options,
/// from @p baseline (F values), across @p comm. The model is reserve()d for a chunk.
/// @throws std::invalid_argument when the data's width differs from the model's, for a fixed target class
///         outside [0, K); as Attributor.
Explanation explain_dataset(nn::Model& model, const data::Dataset& ds, const TargetChoice& target,
                            const AttributionOptions& options, std::vector<float> baseline,
                            const dist::Communicator& comm);

/// The samples whose completeness gap exceeds @p share of |f(x) − f(x′)| (integrated gradients' check;
/// a sample with f(x) = f(x′) is listed when its gap is not 0).
std::vector<std::int64_t> samples_over_gap(const Explanation& e, double share);

}  // namespace mpitrain::explain
