#include "mpitrain/diagnose/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace mpitrain::diagnose {

CalibrationBins::CalibrationBins(int bins) : bins_(bins) {
  if (bins < 1) throw std::invalid_argument("calibration bins must be >= 1, got " + std::to_string(bins));
  sums_.assign(static_cast<std::size_t>(3 * bins), 0.0);
}

CalibrationBins CalibrationBins::from_sums(std::span<const double> sums) {
  if (sums.empty() || sums.size() % 3 != 0) {
    throw std::invalid_argument("calibration bin sums: " + std::to_string(sums.size()) + " values, not 3 per bin");
  }
  CalibrationBins bins(static_cast<int>(sums.size() / 3));
  std::ranges::copy(sums, bins.sums_.begin());
  return bins;
}

int CalibrationBins::bin_of(double confidence, int bins) {
  const double position = std::ceil(confidence * bins) - 1.0;
  return static_cast<int>(std::clamp(position, 0.0, static_cast<double>(bins - 1)));
}

void CalibrationBins::add(double confidence, bool correct) {
  const auto m = static_cast<std::size_t>(bin_of(confidence, bins_));
  const auto b = static_cast<std::size_t>(bins_);
  sums_[m] += 1.0;
  sums_[b + m] += confidence;
  if (correct) sums_[2 * b + m] += 1.0;
}

void CalibrationBins::add_rows(base::ConstMatrixMap logits, std::span<const std::int32_t> labels, double temperature) {
  for (std::int64_t r = 0; r < logits.rows(); ++r) {
    // Softmax of z / T in double: the largest probability is 1 / Σ_j exp((z_j − z_max) / T).
    std::int64_t top = 0;
    for (std::int64_t j = 1; j < logits.cols(); ++j) {
      if (logits(r, j) > logits(r, top)) top = j;
    }
    const double z_max = logits(r, top);
    double sum = 0.0;
    for (std::int64_t j = 0; j < logits.cols(); ++j) sum += std::exp((logits(r, j) - z_max) / temperature);
    add(1.0 / sum, top == labels[static_cast<std::size_t>(r)]);
  }
}

double CalibrationBins::mean_confidence(int m) const { return count(m) > 0 ? confidence_sum(m) / count(m) : 0.0; }

double CalibrationBins::accuracy(int m) const { return count(m) > 0 ? correct(m) / count(m) : 0.0; }

double CalibrationBins::total() const {
  double n = 0.0;
  for (int m = 0; m < bins_; ++m) n += count(m);
  return n;
}

double CalibrationBins::expected_calibration_error() const {
  const double n = total();
  if (n == 0.0) return 0.0;
  double ece = 0.0;
  for (int m = 0; m < bins_; ++m) ece += count(m) / n * std::abs(accuracy(m) - mean_confidence(m));
  return ece;
}

CalibrationBins calibration_bins(const RankLogits& local, int bins, double temperature,
                                 const dist::Communicator& comm) {
  const CalibrationBins empty(bins);
  const std::vector<double> sums = sum_over_chunks(
      local, empty.sums().size(),
      [&](base::ConstMatrixMap logits, std::span<const std::int32_t> labels, std::span<double> out) {
        CalibrationBins chunk(bins);
        chunk.add_rows(logits, labels, temperature);
        std::ranges::copy(chunk.sums(), out.begin());
      },
      comm);
  return CalibrationBins::from_sums(sums);
}

}  // namespace mpitrain::diagnose
