// Gradient post-processing and weight decay against values computed by hand, and the L2 gradient against
// a finite difference of the L2 penalty.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "mpitrain/optim/gradient_processing.hpp"
#include "mpitrain/optim/weight_decay.hpp"
#include "optim/small_registry.hpp"

using namespace mpitrain::optim;
using mpitrain::optim::test_support::kernel_and_bias;

namespace {
// Kernel 1, 2, -3, 0.5 (Σ w² = 14.25); bias 10, -10.
const std::vector<float> params = {1.0f, 2.0f, -3.0f, 0.5f, 10.0f, -10.0f};
}  // namespace

TEST(GradientProcessing, AveragingDividesByTheGlobalCount) {
  std::vector<float> g = {2.0f, -4.0f, 6.0f, 0.0f, 1.0f, 3.0f};
  average_gradients(g, 4);
  EXPECT_EQ(g, (std::vector<float>{0.5f, -1.0f, 1.5f, 0.0f, 0.25f, 0.75f}));
  std::vector<float> three = {3.0f};  // 3 · float(1/3) = 1.0000000298, which rounds to 1 in float
  average_gradients(three, 3);
  EXPECT_EQ(three[0], 1.0f);
  EXPECT_THROW(average_gradients(g, 0), std::invalid_argument);
}

TEST(WeightDecay, L2PenaltyCountsKernelsOnly) {
  const auto registry = kernel_and_bias();
  EXPECT_DOUBLE_EQ(l2_penalty(registry, params, 0.1), 0.1 * 14.25);
  EXPECT_EQ(l2_penalty(registry, params, 0.0), 0.0);
  EXPECT_THROW((void)l2_penalty(registry, std::span<const float>(params).first(5), 0.1), std::invalid_argument);
}

TEST(WeightDecay, L2GradientIsTwiceLambdaTimesTheKernel) {
  const auto registry = kernel_and_bias();
  std::vector<float> g = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  add_l2_gradient(registry, params, 0.25, g);  // 2 · 0.25 = 0.5
  EXPECT_EQ(g, (std::vector<float>{1.5f, 2.0f, -0.5f, 1.25f, 1.0f, 1.0f}));
  std::vector<float> short_grads(5);
  EXPECT_THROW(add_l2_gradient(registry, params, 0.25, short_grads), std::invalid_argument);
}

TEST(WeightDecay, L2GradientMatchesACentralDifferenceOfThePenalty) {
  const auto registry = kernel_and_bias();
  const double lambda = 0.3;
  std::vector<float> analytic(6, 0.0f);
  add_l2_gradient(registry, params, lambda, analytic);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const float h = 1e-2f;  // the penalty is quadratic: the central difference is exact up to rounding
    std::vector<float> plus = params, minus = params;
    plus[i] += h;
    minus[i] -= h;
    const double numeric = (l2_penalty(registry, plus, lambda) - l2_penalty(registry, minus, lambda)) /
                           (static_cast<double>(plus[i]) - minus[i]);
    EXPECT_NEAR(analytic[i], numeric, 1e-5) << "element " << i;
  }
}

TEST(WeightDecay, DecoupledDecayScalesKernelsByOneMinusRateTimesDecay) {
  const auto registry = kernel_and_bias();
  std::vector<float> p = params;
  decay_weights(registry, p, 0.1, 0.5);  // factor 1 - 0.05 = 0.95, rounded to float once
  const float f = 0.95f;
  EXPECT_EQ(p, (std::vector<float>{1.0f * f, 2.0f * f, -3.0f * f, 0.5f * f, 10.0f, -10.0f}));
  EXPECT_NEAR(p[2], -2.85, 1e-6);
  std::vector<float> q = params;
  decay_weights(registry, q, 0.1, 0.0);
  EXPECT_EQ(q, params);
}

TEST(GradientProcessing, ClippingScalesToTheMaximumNorm) {
  std::vector<float> g = {3.0f, 0.0f, -4.0f};
  EXPECT_DOUBLE_EQ(global_norm(g), 5.0);
  EXPECT_DOUBLE_EQ(clip_by_global_norm(g, 10.0), 5.0);  // below the maximum: untouched
  EXPECT_EQ(g, (std::vector<float>{3.0f, 0.0f, -4.0f}));
  EXPECT_DOUBLE_EQ(clip_by_global_norm(g, 1.0), 5.0);
  EXPECT_EQ(g, (std::vector<float>{0.6f, 0.0f, -0.8f}));  // times float(1/5): 3·0.2f rounds to 0.6f
  EXPECT_NEAR(global_norm(g), 1.0, 1e-7);
}

TEST(GradientProcessing, AverageThenL2ThenClipInThatOrder) {
  // Summed gradient over 2 samples; λ = 0.25. By hand: average → (1, 0, 0, 0, 1.5, 0); + 2λW = 0.5·W on the
  // kernel → (1.5, 1, -1.5, 0.25, 1.5, 0); its norm is sqrt(2.25 + 1 + 2.25 + 0.0625 + 2.25) = sqrt(7.8125);
  // clipped to 0.5 it is that vector times 0.5 / sqrt(7.8125). The penalty is 0.25 · 14.25.
  const auto registry = kernel_and_bias();
  std::vector<float> g = {2.0f, 0.0f, 0.0f, 0.0f, 3.0f, 0.0f};
  GradientPostProcessor post(registry, {.l2 = 0.25, .clip_grad_norm = 0.5});
  EXPECT_DOUBLE_EQ(post.process(params, g, 2), 0.25 * 14.25);
  const double k = 0.5 / std::sqrt(7.8125);
  const double expected[6] = {1.5 * k, 1.0 * k, -1.5 * k, 0.25 * k, 1.5 * k, 0.0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(g[i], expected[i], 1e-7) << "element " << i;
  // Without options it only averages.
  std::vector<float> h = {2.0f, 0.0f, 0.0f, 0.0f, 3.0f, 0.0f};
  EXPECT_EQ(GradientPostProcessor(registry, {}).process(params, h, 2), 0.0);
  EXPECT_EQ(h, (std::vector<float>{1.0f, 0.0f, 0.0f, 0.0f, 1.5f, 0.0f}));
  EXPECT_THROW(GradientPostProcessor(registry, {.l2 = -1.0}), std::invalid_argument);
}
