#pragma once
/// @file importance.hpp
/// Global feature importance from per-sample attributions: per feature and per explained class, the sums
/// of |a|, a and a² and the count, in double precision, added in one fixed order (rows in order within a
/// chunk, chunks in global order) so that the table is the same, byte for byte, at any world size.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::explain {

/// The sums of one or more chunks, as one flat vector (so that chunks can be gathered as doubles):
/// [Σ|a| (K × F), Σa (K × F), Σa² (K × F), count (K)], row k = the samples whose explained class is k.
class FeatureSums {
 public:
  /// Zero sums for @p features features and @p classes classes.
  FeatureSums(std::int64_t features, int classes);
  /// Adds rows of @p attributions (rows × F) with their explained classes @p targets (rows, in [0, K)).
  void add(base::ConstMatrixMap attributions, std::span<const std::int32_t> targets);
  /// Adds another chunk's flat sums (same F and K). @throws std::invalid_argument on a size mismatch.
  void add(std::span<const double> flat);
  /// The sums as one vector, laid out as the class comment says.
  [[nodiscard]] std::span<const double> flat() const { return flat_; }
  /// F.
  [[nodiscard]] std::int64_t features() const { return features_; }
  /// K.
  [[nodiscard]] int classes() const { return classes_; }
  /// Σ|a_j| over the samples of class @p k (k in [0, K), j in [0, F)).
  [[nodiscard]] double abs_sum(int k, std::int64_t j) const { return at(0, k, j); }
  /// Σa_j over the samples of class @p k.
  [[nodiscard]] double sum(int k, std::int64_t j) const { return at(1, k, j); }
  /// Σa_j² over the samples of class @p k.
  [[nodiscard]] double square_sum(int k, std::int64_t j) const { return at(2, k, j); }
  /// The number of samples of class @p k.
  [[nodiscard]] double count(int k) const { return flat_[static_cast<std::size_t>(3 * classes_ * features_ + k)]; }
  /// Size of flat() for @p features and @p classes.
  static std::size_t flat_size(std::int64_t features, int classes) {
    return static_cast<std::size_t>((3 * features + 1) * classes);
  }

 private:
  [[nodiscard]] double at(int part, int k, std::int64_t j) const {
    return flat_[static_cast<std::size_t>((part * classes_ + k) * features_ + j)];
  }
  std::int64_t features_;
  int classes_;
  std::vector<double> flat_;
};

/// One line of importance.csv.
struct ImportanceRow {
  std::int64_t feature = 0;  ///< Feature index (position in the flattened sample, channels last).
  int target_class = -1;     ///< The explained class, or -1: every sample.
  double mean_abs = 0.0;     ///< Σ|a| / count.
  double mean = 0.0;         ///< Σa / count.
  double std = 0.0;          ///< Population standard deviation, sqrt(max(Σa²/count − mean², 0)).
  double count = 0.0;        ///< Samples.
};

/// The rows of importance.csv: every feature over all samples (class -1), sorted by mean |a| descending
/// (ties: lower feature first), then every feature of each class with samples, class by class, sorted alike.
/// The all-sample sums add the classes' sums in class order.
std::vector<ImportanceRow> importance_rows(const FeatureSums& sums);

/// importance.csv's text: `feature,index,class,mean_abs,mean,std,count`, class `all` or the number, each
/// value with 17 significant digits (round-trips a double). @param names F feature names.
std::string importance_csv(const std::vector<ImportanceRow>& rows, const std::vector<std::string>& names);

/// The summary rank 0 prints: the @p top all-sample rows, then "sum of the other N features" (their
/// mean |a| added). @param names F feature names.
std::string importance_summary(const std::vector<ImportanceRow>& rows, const std::vector<std::string>& names,
                               std::size_t top);

/// Names of the features of a sample of @p shape: `pixel_R_C` for (H, W, 1), `pixel_R_C_CH` for (H, W, C),
/// `x_J` otherwise (0-based).
std::vector<std::string> feature_names(const base::Shape& shape);

}  // namespace mpitrain::explain
