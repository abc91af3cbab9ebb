#pragma once
/// @file permutation.hpp
/// Permutation importance (Breiman 2001; scikit-learn's sklearn.inspection.permutation_importance): the
/// drop of a score when one feature, or a group of features, is shuffled across the whole evaluation set.
/// One global permutation per repeat, from (seed, repeat), shared by every group as scikit-learn does;
/// each rank holds the whole set, so a shuffled column takes its values from any sample. Scores are sums
/// over fixed 256-row chunks added in chunk order: the result is the same at any world size.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/dist/communicator.hpp"

namespace mpitrain::explain {

/// Features shuffled together.
struct FeatureGroup {
  std::string name;                    ///< e.g. `pixel_3_4` or `patch_r0-3_c4-7`.
  std::vector<std::int64_t> features;  ///< Indices into the flattened sample (channels last).
};

/// The groups `--group` names for samples of @p shape: `single` (one group per feature, named as
/// feature_names names it) or `patch:P` (P × P pixel patches with all their channels, from the top-left
/// corner, smaller at the right and bottom edges; needs an image shape (H, W, C)).
/// @throws std::invalid_argument "--group VALUE: ..." for another value, P < 1, or patches of a non-image.
std::vector<FeatureGroup> feature_groups(const std::string& spec, const base::Shape& shape);

/// The score of some rows: the SUM over them of a per-sample score, greater is better (correct
/// predictions; minus the loss). @p rows are rows × F (maybe shuffled), @p first the global index of the
/// first row (for the labels).
using ChunkScore = std::function<double(base::ConstMatrixMap rows, std::int64_t first)>;

/// Score drops of every group and repeat.
struct PermutationResult {
  double score = 0.0;         ///< The mean score of the unshuffled set (score sum / samples).
  std::int64_t repeats = 0;   ///< R.
  std::vector<double> drops;  ///< groups × R, row-major: score − the mean score with the group shuffled.
  /// Mean of group @p g's drops over the repeats.
  [[nodiscard]] double mean(std::size_t g) const;
  /// Population standard deviation (numpy's std, as scikit-learn reports) of group @p g's drops.
  [[nodiscard]] double std(std::size_t g) const;
};

/// Permutation importance of @p groups over @p features (samples × F, the same on every rank of @p comm).
/// Repeat r shuffles the sample indices with base::shuffle from SplitMix64(keyed_seed({seed, key, r})).
/// @throws std::invalid_argument for repeats < 1; whatever @p score throws.
PermutationResult permutation_importance(const base::RowMatrix& features, const std::vector<FeatureGroup>& groups,
                                         int repeats, std::uint64_t seed, const ChunkScore& score,
                                         const dist::Communicator& comm);

/// importance.csv of permutation importance: `group,features,mean_drop,std_drop` sorted by mean drop
/// descending (ties: group order), 17 significant digits.
std::string permutation_csv(const PermutationResult& result, const std::vector<FeatureGroup>& groups);

/// permutation_repeats.csv: the raw matrix, `group,repeat_0,...`, groups in their order.
std::string permutation_repeats_csv(const PermutationResult& result, const std::vector<FeatureGroup>& groups);

/// The group indices sorted by mean drop descending (ties: group order).
std::vector<std::size_t> permutation_order(const PermutationResult& result, std::size_t groups);

}  // namespace mpitrain::explain
