// Calibration (bins, ECE) and temperature scaling against hand-computed cases, a finite-difference check of
// the NLL's derivatives in β = 1/T, the recovery of a known temperature from labels drawn from softmax(z)
// with the model's logits z scaled by it, and the chunked sums across 1, 2 and 3 ranks against one serial
// pass over all rows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/mpi_gtest.hpp"
#include "mpitrain/diagnose/calibration.hpp"
#include "mpitrain/diagnose/temperature.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace mpitrain::diagnose {
namespace {

using test::world;

TEST(CalibrationBinsTest, BinsAreRightClosedIntervals) {
  // Five bins: (0, 0.2], (0.2, 0.4], ..., (0.8, 1]; 0 falls in the first.
  EXPECT_EQ(CalibrationBins::bin_of(0.0, 5), 0);
  EXPECT_EQ(CalibrationBins::bin_of(0.2, 5), 0);
  EXPECT_EQ(CalibrationBins::bin_of(0.21, 5), 1);
  EXPECT_EQ(CalibrationBins::bin_of(0.5, 5), 2);
  EXPECT_EQ(CalibrationBins::bin_of(0.99, 5), 4);
  EXPECT_EQ(CalibrationBins::bin_of(1.0, 5), 4);
  EXPECT_THROW(CalibrationBins(0), std::invalid_argument);
}

// Six samples in 5 bins, worked by hand:
//   bin 2 (0.4, 0.6]: 0.5 right, 0.5 wrong      -> conf 0.5,  acc 0.5, gap 0
//   bin 3 (0.6, 0.8]: 0.7 right                 -> conf 0.7,  acc 1,   |gap| 0.3
//   bin 4 (0.8, 1]:   0.9 right, 0.9 wrong, 1.0 right -> conf 2.8/3, acc 2/3, |gap| 0.8/3
//   ECE = 2/6 · 0 + 1/6 · 0.3 + 3/6 · 0.8/3 = 0.05 + 0.13333... = 0.183333...
TEST(CalibrationBinsTest, ExpectedCalibrationErrorByHand) {
  CalibrationBins b(5);
  b.add(0.5, true);
  b.add(0.5, false);
  b.add(0.7, true);
  b.add(0.9, true);
  b.add(0.9, false);
  b.add(1.0, true);
  EXPECT_EQ(b.total(), 6.0);
  EXPECT_EQ(b.count(0), 0.0);
  EXPECT_EQ(b.count(4), 3.0);
  EXPECT_EQ(b.correct(4), 2.0);
  EXPECT_DOUBLE_EQ(b.mean_confidence(4), 2.8 / 3);
  EXPECT_DOUBLE_EQ(b.accuracy(3), 1.0);
  EXPECT_EQ(b.accuracy(0), 0.0);  // empty bin
  EXPECT_NEAR(b.expected_calibration_error(), 0.3 / 6 + 0.8 / 6, 1e-15);
  EXPECT_EQ(CalibrationBins(3).expected_calibration_error(), 0.0);
}

// Logits (0, ln 3): softmax (1/4, 3/4); at T = 2 the logits are (0, ln 3 / 2): (1/(1+√3), √3/(1+√3)).
TEST(CalibrationBinsTest, RowsGiveTheirLargestSoftmaxProbability) {
  const std::vector<float> logits = {0.0f, static_cast<float>(std::log(3.0)), 2.0f, 2.0f};
  const std::vector<std::int32_t> labels = {1, 1};
  const base::ConstMatrixMap z(logits.data(), 2, 2);
  CalibrationBins b(10);
  b.add_rows(z, labels, 1.0);
  // Row 0: confidence 3/4 (bin 7), predicted 1, right. Row 1: a tie, 1/2 (bin 4), predicted 0, wrong.
  EXPECT_EQ(b.count(7), 1.0);
  EXPECT_NEAR(b.confidence_sum(7), 0.75, 1e-7);
  EXPECT_EQ(b.correct(7), 1.0);
  EXPECT_EQ(b.count(4), 1.0);
  EXPECT_DOUBLE_EQ(b.confidence_sum(4), 0.5);
  EXPECT_EQ(b.correct(4), 0.0);
  CalibrationBins t(10);
  t.add_rows(z, labels, 2.0);
  const double s3 = std::sqrt(3.0);
  EXPECT_NEAR(t.confidence_sum(6), s3 / (1 + s3), 1e-7);  // 0.634: bin 6
}

// ℓ(β) = log Σ exp(β z) − β z_y on a few rows: the gradient and curvature against central differences.
TEST(TemperatureTest, NllDerivativesMatchFiniteDifferences) {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 0.3f, 0.2f, 3.5f, -2.0f, 4.0f, 1.0f};
  const std::vector<std::int32_t> labels = {0, 1, 2};
  const base::ConstMatrixMap z(logits.data(), 3, 3);
  for (double beta : {0.3, 1.0, 2.5}) {
    const double h = 1e-5;
    const NllSums at = nll_sums(z, labels, beta);
    const NllSums up = nll_sums(z, labels, beta + h);
    const NllSums down = nll_sums(z, labels, beta - h);
    EXPECT_NEAR(at.gradient, (up.nll - down.nll) / (2 * h), 1e-7) << beta;
    EXPECT_NEAR(at.curvature, (up.gradient - down.gradient) / (2 * h), 1e-7) << beta;
    EXPECT_EQ(at.count, 3.0);
  }
  // At β = 1, row 0 by hand: log(e^2 + e^-1 + e^0.5) − 2.
  const NllSums row0 = nll_sums(base::ConstMatrixMap(logits.data(), 1, 3), std::span(labels).first(1), 1.0);
  EXPECT_NEAR(row0.nll, std::log(std::exp(2.0) + std::exp(-1.0) + std::exp(0.5)) - 2.0, 1e-12);
}

// Labels drawn from softmax(z) for random logits z; the "model" reports 3·z, an overconfident model whose
// right temperature is 3. The fit recovers it within the sampling error of 40000 samples.
TEST(TemperatureTest, RecoversAKnownTemperature) {
  constexpr int k = 5;
  constexpr std::int64_t n = 40000;
  std::mt19937_64 gen(17);
  std::normal_distribution<double> normal(0.0, 1.5);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<float> logits(static_cast<std::size_t>(n * k));
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> p(k);
    double sum = 0.0;
    for (int j = 0; j < k; ++j) {
      const double z = normal(gen);
      logits[static_cast<std::size_t>(i * k + j)] = static_cast<float>(3.0 * z);
      sum += (p[static_cast<std::size_t>(j)] = std::exp(z));
    }
    double u = uniform(gen) * sum;
    int y = 0;
    while (y < k - 1 && (u -= p[static_cast<std::size_t>(y)]) > 0) ++y;
    labels[static_cast<std::size_t>(i)] = y;
  }
  const base::ConstMatrixMap z(logits.data(), n, k);
  const TemperatureFit fit = fit_temperature([&](double beta) { return nll_sums(z, labels, beta); });
  EXPECT_TRUE(fit.converged);
  EXPECT_NEAR(fit.temperature, 3.0, 0.1);
  // A minimum: the gradient there is 0 to rounding, and the NLL is lower than at T = 1 and at T ± 5 %.
  const NllSums at = nll_sums(z, labels, 1.0 / fit.temperature);
  EXPECT_NEAR(at.gradient / n, 0.0, 1e-9);
  EXPECT_LT(at.nll, nll_sums(z, labels, 1.0).nll);
  EXPECT_LT(at.nll, nll_sums(z, labels, 1.0 / (fit.temperature * 1.05)).nll);
  EXPECT_LT(at.nll, nll_sums(z, labels, 1.0 / (fit.temperature * 0.95)).nll);
}

// Labels that are always the model's least likely class: the NLL falls as T grows without bound (its
// gradient in β is positive down to β = 0); the fit stops at T = 1e4 and says that it did not converge.
TEST(TemperatureTest, AMinimumBeyondTheBoundIsReported) {
  const std::vector<float> logits = {5.0f, 0.0f, 0.0f, 5.0f};
  const std::vector<std::int32_t> labels = {1, 0};
  const base::ConstMatrixMap z(logits.data(), 2, 2);
  const TemperatureFit fit = fit_temperature([&](double beta) { return nll_sums(z, labels, beta); });
  EXPECT_FALSE(fit.converged);
  EXPECT_DOUBLE_EQ(fit.temperature, 1e4);
}

// Every sample right with a margin: the NLL falls towards 0 as T falls; the fit sharpens the model until
// the NLL is 0 to double precision.
TEST(TemperatureTest, SeparableDataIsSharpened) {
  const std::vector<float> logits = {5.0f, 0.0f, 0.0f, 5.0f};
  const std::vector<std::int32_t> labels = {0, 1};
  const base::ConstMatrixMap z(logits.data(), 2, 2);
  const TemperatureFit fit = fit_temperature([&](double beta) { return nll_sums(z, labels, beta); });
  EXPECT_LT(fit.temperature, 0.2);
  EXPECT_LT(nll_sums(z, labels, 1.0 / fit.temperature).nll, 1e-14);
}

// The chunked sums across the ranks against one serial pass over all rows (three chunks, the last partial).
TEST(ChunkSumsTest, BinsAndNllOverRanksEqualOneSerialPass) {
  constexpr int k = 4;
  const std::int64_t n = 2 * train::evaluation_chunk_rows + 89;
  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  base::RowMatrix all(n, k);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < all.size(); ++i) all.data()[i] = normal(gen);
  for (std::int64_t i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % k);
  RankLogits local;
  local.rows = train::evaluation_rows(n, *world);
  local.logits = all.middleRows(local.rows.begin, local.rows.size());
  local.labels.assign(labels.begin() + local.rows.begin, labels.begin() + local.rows.end);

  CalibrationBins serial(15);
  serial.add_rows(base::ConstMatrixMap(all.data(), n, k), labels, 1.5);
  const CalibrationBins reduced = calibration_bins(local, 15, 1.5, *world);
  for (int m = 0; m < 15; ++m) {
    EXPECT_EQ(reduced.count(m), serial.count(m)) << m;
    EXPECT_EQ(reduced.correct(m), serial.correct(m)) << m;
    EXPECT_NEAR(reduced.confidence_sum(m), serial.confidence_sum(m), 1e-12 * n) << m;
  }
  EXPECT_EQ(reduced.total(), static_cast<double>(n));
  const NllSums s = nll_sums(local, 0.7, *world);
  const NllSums t = nll_sums(base::ConstMatrixMap(all.data(), n, k), labels, 0.7);
  EXPECT_EQ(s.count, static_cast<double>(n));
  EXPECT_NEAR(s.nll, t.nll, 1e-12 * t.nll);
  EXPECT_NEAR(s.gradient, t.gradient, 1e-11 * n);
  EXPECT_NEAR(s.curvature, t.curvature, 1e-12 * t.curvature);
}

}  // namespace
}  // namespace mpitrain::diagnose
