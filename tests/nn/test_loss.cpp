// Softmax cross-entropy against values computed by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "mpitrain/nn/loss.hpp"

using namespace mpitrain;

TEST(SoftmaxCrossEntropy, HandComputedValues) {
  // Row 0: logits (1, 2, 3), label 2: loss = log(e + e² + e³) - 3.
  // Row 1: logits (0, 0, 0), label 0: loss = log 3.
  std::vector<float> z = {1, 2, 3, 0, 0, 0};
  std::vector<float> g(6);
  const std::vector<std::int32_t> labels = {2, 0};
  const auto sums = nn::softmax_cross_entropy(nn::ConstMatrixMap(z.data(), 2, 3), labels,
                                              nn::MatrixMap(g.data(), 2, 3));
  const double e = std::exp(1.0);
  const double row0 = std::log(e + e * e + e * e * e) - 3.0;
  EXPECT_NEAR(sums.loss, row0 + std::log(3.0), 1e-6);
  EXPECT_EQ(sums.count, 2);
  EXPECT_EQ(sums.correct, 2);  // row 1 ties: arg-max is the lowest index, 0, the label
  const double denom = e + e * e + e * e * e;
  EXPECT_NEAR(g[0], e / denom, 1e-6);
  EXPECT_NEAR(g[2], e * e * e / denom - 1.0, 1e-6);
  EXPECT_NEAR(g[3], 1.0 / 3.0 - 1.0, 1e-6);
  EXPECT_NEAR(g[4], 1.0 / 3.0, 1e-6);
}

TEST(SoftmaxCrossEntropy, StableForLargeLogits) {
  std::vector<float> z = {1000.0f, 0.0f};
  std::vector<double> per(1);
  const std::vector<std::int32_t> labels = {1};
  const auto sums = nn::softmax_cross_entropy(nn::ConstMatrixMap(z.data(), 1, 2), labels, per);
  EXPECT_NEAR(sums.loss, 1000.0, 1e-3);
  EXPECT_NEAR(per[0], 1000.0, 1e-3);
  EXPECT_EQ(sums.correct, 0);
}

TEST(Softmax, RowsSumToOne) {
  // Rows: mixed signs, all equal, one large logit (shifted by the row maximum), all very negative.
  std::vector<float> z = {0.5f, -1.0f, 2.0f, 3.0f, 3.0f, 3.0f, 100.0f, 0.0f, -5.0f, -80.0f, -81.0f, -82.0f};
  const Eigen::Index rows = 4, cols = 3;
  std::vector<float> p(z.size());
  nn::softmax(nn::ConstMatrixMap(z.data(), rows, cols), nn::MatrixMap(p.data(), rows, cols));
  for (Eigen::Index r = 0; r < rows; ++r) {
    // Each probability against exp(z - max) / sum computed in double here.
    const auto* row = z.data() + r * cols;
    const double top = *std::max_element(row, row + cols);
    double denominator = 0.0;
    for (Eigen::Index c = 0; c < cols; ++c) denominator += std::exp(double{row[c]} - top);
    double sum = 0.0;
    for (Eigen::Index c = 0; c < cols; ++c) {
      const float got = p[static_cast<std::size_t>(r * cols + c)];
      EXPECT_NEAR(got, std::exp(double{row[c]} - top) / denominator, 1e-6) << "row " << r << ", column " << c;
      sum += got;
    }
    EXPECT_NEAR(sum, 1.0, 1e-6) << "row " << r;
  }
  EXPECT_NEAR(p[3], 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(p[2] / p[0], std::exp(1.5), 1e-4);
}
