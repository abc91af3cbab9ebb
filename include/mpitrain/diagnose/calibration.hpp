#pragma once
/// @file calibration.hpp
/// Reliability bins and the expected calibration error of a classifier (Guo, Pleiss, Sun and Weinberger,
/// "On Calibration of Modern Neural Networks", ICML 2017, section 2). The confidence of a sample is its
/// largest softmax probability, its prediction the arg-max logit (ties: the lowest index, as nn::Task).

#include <cstdint>
#include <span>
#include <vector>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/diagnose/rank_logits.hpp"

namespace mpitrain::diagnose {

/// M equal-width confidence bins over [0, 1]: bin m (0-based) holds the confidences in (m/M, (m+1)/M], bin
/// 0 also 0 (Guo et al.'s I_m = ((m-1)/M, m/M], 1-based). Per bin: the sample count, the sum of the
/// confidences and the count of correct predictions, all held as doubles (exact counts up to 2^53) so that
/// a chunk's bins are one vector of sums (sums()).
class CalibrationBins {
 public:
  /// Empty bins. @throws std::invalid_argument for @p bins < 1.
  explicit CalibrationBins(int bins);
  /// Bins from the 3·M values of sums(). @throws std::invalid_argument for a size that is not 3·M, M >= 1.
  static CalibrationBins from_sums(std::span<const double> sums);

  /// The 0-based bin of @p confidence among @p bins: ceil(confidence · bins) − 1, clamped to [0, bins − 1].
  [[nodiscard]] static int bin_of(double confidence, int bins);
  /// Adds one sample.
  void add(double confidence, bool correct);
  /// Adds each row of @p logits (rows × K) divided by @p temperature (> 0): softmax in double, its largest
  /// probability as the confidence, correct when the arg-max logit is the row's label.
  void add_rows(base::ConstMatrixMap logits, std::span<const std::int32_t> labels, double temperature);

  /// M.
  [[nodiscard]] int bins() const { return bins_; }
  /// [counts (M), confidence sums (M), correct counts (M)].
  [[nodiscard]] std::span<const double> sums() const { return sums_; }
  /// |B_m|: the samples in bin @p m (0-based, < bins(); not checked).
  [[nodiscard]] double count(int m) const { return sums_[static_cast<std::size_t>(m)]; }
  /// The sum of the confidences of bin @p m's samples.
  [[nodiscard]] double confidence_sum(int m) const { return sums_[static_cast<std::size_t>(bins_ + m)]; }
  /// Bin @p m's samples predicted right.
  [[nodiscard]] double correct(int m) const { return sums_[static_cast<std::size_t>(2 * bins_ + m)]; }
  /// Lower and upper edge of bin @p m: m / M and (m + 1) / M.
  [[nodiscard]] double lower(int m) const { return static_cast<double>(m) / bins_; }
  [[nodiscard]] double upper(int m) const { return static_cast<double>(m + 1) / bins_; }
  /// conf(B_m): the mean confidence of bin @p m; 0 for an empty bin.
  [[nodiscard]] double mean_confidence(int m) const;
  /// acc(B_m): the share of correct predictions in bin @p m; 0 for an empty bin.
  [[nodiscard]] double accuracy(int m) const;
  /// Samples in all bins.
  [[nodiscard]] double total() const;
  /// ECE = Σ_m (|B_m| / n) · |acc(B_m) − conf(B_m)| (Guo et al. 2017, eq. 3); 0 without samples.
  [[nodiscard]] double expected_calibration_error() const;

 private:
  int bins_;
  std::vector<double> sums_;  // 3 · bins_
};

/// The bins of every rank's @p local logits divided by @p temperature, summed in chunk order
/// (sum_over_chunks): identical on every rank and at any world size. Collective.
/// @throws std::invalid_argument for bins < 1; dist::MpiError.
CalibrationBins calibration_bins(const RankLogits& local, int bins, double temperature,
                                 const dist::Communicator& comm);

}  // namespace mpitrain::diagnose
