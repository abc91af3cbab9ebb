// Per-class metrics against a confusion matrix worked by hand; magnitude pruning (which entries, per layer
// and global, 0 % bit-identical, 100 % the constant-bias model); int8 quantization error per channel.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "mpitrain/diagnose/class_metrics.hpp"
#include "mpitrain/diagnose/pruning.hpp"
#include "mpitrain/diagnose/quantization.hpp"
#include "mpitrain/nn/model.hpp"

namespace mpitrain::diagnose {
namespace {

// Rows: true class, columns: predicted. [[5, 1, 0], [2, 3, 0], [0, 4, 0]]:
//   class 0: TP 5, predicted 7, actual 6 -> P 5/7, R 5/6, F1 2·5/(7+6) = 10/13
//   class 1: TP 3, predicted 8, actual 5 -> P 3/8, R 3/5, F1 6/13
//   class 2: never predicted, 4 actual, none right -> P 0, R 0, F1 0
TEST(ClassMetricsTest, F1ByHand) {
  const std::vector<std::int64_t> confusion = {5, 1, 0, 2, 3, 0, 0, 4, 0};
  const auto m = class_metrics(confusion, 3);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_DOUBLE_EQ(m[0].precision, 5.0 / 7);
  EXPECT_DOUBLE_EQ(m[0].recall, 5.0 / 6);
  EXPECT_DOUBLE_EQ(m[0].f1, 10.0 / 13);
  EXPECT_EQ(m[0].support, 6);
  EXPECT_DOUBLE_EQ(m[1].precision, 3.0 / 8);
  EXPECT_DOUBLE_EQ(m[1].recall, 3.0 / 5);
  EXPECT_DOUBLE_EQ(m[1].f1, 6.0 / 13);
  EXPECT_EQ(m[1].support, 5);
  EXPECT_EQ(m[2].precision, 0.0);
  EXPECT_EQ(m[2].f1, 0.0);
  EXPECT_EQ(m[2].support, 4);
  EXPECT_THROW(class_metrics(confusion, 2), std::invalid_argument);
}

// Two kernels and two biases: dense (2, 2) and dense_1 (2, 1).
nn::ParameterRegistry two_dense() {
  nn::ParameterRegistry r;
  r.add("dense", "dense/kernel:0", {2, 2}, nn::InitRule::zeros(), true);
  r.add("dense", "dense/bias:0", {2}, nn::InitRule::zeros(), false);
  r.add("dense_1", "dense_1/kernel:0", {2, 1}, nn::InitRule::zeros(), true);
  r.add("dense_1", "dense_1/bias:0", {1}, nn::InitRule::zeros(), false);
  return r;
}

TEST(PruningTest, PerLayerAndGlobalZeroTheSmallestMagnitudes) {
  const nn::ParameterRegistry r = two_dense();
  EXPECT_EQ(kernels_of(r).size(), 2u);
  //                              dense/kernel          bias          dense_1/kernel  bias
  const std::vector<float> w = {0.5f, -0.1f, 0.3f, -0.9f, 0.01f, 0.02f, 0.2f, -0.05f, 0.03f};
  // Per layer at 50 %: 2 of dense's 4 (-0.1, 0.3) and 1 of dense_1's 2 (-0.05); biases kept.
  std::vector<float> layer = w;
  EXPECT_EQ(prune(layer, r, 50.0, PruningScope::layer), 3);
  EXPECT_EQ(layer, (std::vector<float>{0.5f, 0.0f, 0.0f, -0.9f, 0.01f, 0.02f, 0.2f, 0.0f, 0.03f}));
  // Global at 50 %: 3 of the 6 kernel entries: -0.05, -0.1, 0.2.
  std::vector<float> global = w;
  EXPECT_EQ(prune(global, r, 50.0, PruningScope::global), 3);
  EXPECT_EQ(global, (std::vector<float>{0.5f, 0.0f, 0.3f, -0.9f, 0.01f, 0.02f, 0.0f, 0.0f, 0.03f}));
  // Ties go to the lower position first.
  std::vector<float> ties = {1.0f, -1.0f, 1.0f, 1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 0.0f};
  prune(ties, r, 50.0, PruningScope::global);
  EXPECT_EQ(ties, (std::vector<float>{0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 0.0f}));
  EXPECT_EQ(count_nonzero(ties), 3);
  EXPECT_THROW(prune(global, r, 100.5, PruningScope::global), std::invalid_argument);
  EXPECT_THROW(prune(global, r, -1.0, PruningScope::layer), std::invalid_argument);
}

class PrunedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_.init(9);
    // Biases not 0, so that the constant-bias model is visible.
    std::mt19937 gen(4);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (const auto& p : model_.registry().entries()) {
      if (is_kernel(p)) continue;
      for (std::int64_t i = 0; i < p.size(); ++i) model_.parameters()[static_cast<std::size_t>(p.offset + i)] = normal(gen);
    }
    x_.resize(7, 6);
    for (std::int64_t i = 0; i < x_.size(); ++i) x_.data()[i] = normal(gen);
    model_.reserve(7);
  }
  base::RowMatrix forward() {
    return model_.forward(base::ConstMatrixMap(x_.data(), x_.rows(), x_.cols()), nn::Context::evaluation());
  }
  nn::Model model_{nn::mlp_spec(6, {5, 4}, nn::ActivationKind::relu, 3)};
  base::RowMatrix x_;
};

TEST_F(PrunedModelTest, ZeroPercentChangesNothing) {
  const base::RowMatrix before = forward();
  for (const PruningScope scope : {PruningScope::layer, PruningScope::global}) {
    std::vector<float> p(model_.parameters().begin(), model_.parameters().end());
    const std::vector<float> original = p;
    EXPECT_EQ(prune(p, model_.registry(), 0.0, scope), 0);
    EXPECT_EQ(p, original);
    std::ranges::copy(p, model_.parameters().begin());
    const base::RowMatrix after = forward();
    EXPECT_EQ(std::memcmp(before.data(), after.data(), sizeof(float) * static_cast<std::size_t>(before.size())), 0);
  }
}

// Every kernel 0: each hidden layer outputs ReLU(its bias), which the next (zero) kernel ignores, so every
// row's logits are the last layer's bias.
TEST_F(PrunedModelTest, HundredPercentGivesTheConstantBiasModel) {
  std::vector<float> p(model_.parameters().begin(), model_.parameters().end());
  const nn::ParameterRegistry& r = model_.registry();
  EXPECT_EQ(prune(p, r, 100.0, PruningScope::global), 6 * 5 + 5 * 4 + 4 * 3);
  std::ranges::copy(p, model_.parameters().begin());
  const nn::ParameterInfo bias = *r.find("dense_2/bias:0");
  const base::RowMatrix logits = forward();
  for (std::int64_t row = 0; row < logits.rows(); ++row) {
    for (std::int64_t j = 0; j < 3; ++j) {
      EXPECT_EQ(logits(row, j), p[static_cast<std::size_t>(bias.offset + j)]) << row << " " << j;
    }
  }
}

TEST(QuantizationTest, ErrorPerChannelIsAtMostHalfAScale) {
  nn::ParameterRegistry r;
  const nn::ParameterInfo kernel = r.add("conv2d", "conv2d/kernel:0", {3, 3, 2, 4}, nn::InitRule::zeros(), true);
  std::mt19937 gen(8);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  std::vector<float> w(static_cast<std::size_t>(kernel.size()));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = (i % 4 == 3) ? 0.0f : normal(gen) * static_cast<float>(1 + i % 4);
  const QuantizedTensor q = quantize_int8(kernel, w);
  ASSERT_EQ(q.scales.size(), 4u);
  std::vector<float> back(w.size());
  dequantize(q, back);
  for (std::size_t c = 0; c < 4; ++c) {
    float largest = 0.0f;
    for (std::size_t i = c; i < w.size(); i += 4) largest = std::max(largest, std::abs(w[i]));
    EXPECT_EQ(q.scales[c], largest / 127.0f) << c;
  }
  EXPECT_EQ(q.scales[3], 0.0f);  // an all-zero channel stays 0
  int extremes = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const float scale = q.scales[i % 4];
    EXPECT_LE(std::abs(static_cast<double>(w[i]) - back[i]), scale / 2.0 * (1 + 1e-6)) << i;
    EXPECT_LE(std::abs(static_cast<int>(q.values[i])), 127);
    extremes += std::abs(static_cast<int>(q.values[i])) == 127;
  }
  EXPECT_EQ(extremes, 3);  // each non-zero channel's largest magnitude maps to ±127
  // By hand: channel scale 1/127 · 0.635 = 0.005; 0.0124 -> round(2.48) = 2 -> 0.01.
  nn::ParameterRegistry r1;
  const nn::ParameterInfo small = r1.add("dense", "dense/kernel:0", {2, 1}, nn::InitRule::zeros(), true);
  const std::vector<float> v = {0.635f, 0.0124f};
  const QuantizedTensor h = quantize_int8(small, v);
  EXPECT_EQ(h.values, (std::vector<std::int8_t>{127, 2}));
}

}  // namespace
}  // namespace mpitrain::diagnose
