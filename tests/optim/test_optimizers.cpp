// Optimizer steps against values computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "mpitrain/optim/optimizer.hpp"
#include "optim/small_registry.hpp"

using namespace mpitrain::optim;
namespace nn = mpitrain::nn;
using mpitrain::optim::test_support::kernel_and_bias;

TEST(Sgd, PlainStep) {
  Sgd sgd(2, 0.1, 0.0, false);
  std::vector<float> p = {1.0f, -2.0f};
  const std::vector<float> g = {0.5f, -1.0f};
  sgd.step(p, g);
  EXPECT_FLOAT_EQ(p[0], 1.0f - 0.05f);
  EXPECT_FLOAT_EQ(p[1], -2.0f + 0.1f);
}

TEST(Sgd, MomentumTwoSteps) {
  // v1 = -lr g = -0.1; p1 = 0.9. v2 = 0.9·(-0.1) - 0.1·1 = -0.19; p2 = 0.71.
  Sgd sgd(1, 0.1, 0.9, false);
  std::vector<float> p = {1.0f};
  const std::vector<float> g = {1.0f};
  sgd.step(p, g);
  EXPECT_FLOAT_EQ(p[0], 0.9f);
  sgd.step(p, g);
  EXPECT_FLOAT_EQ(p[0], 0.71f);
  EXPECT_FLOAT_EQ(sgd.state()[0].values[0], -0.19f);
}

TEST(Sgd, NesterovTwoSteps) {
  // v1 = -0.1; p1 = 1 + 0.9·(-0.1) - 0.1 = 0.81. v2 = -0.19; p2 = 0.81 + 0.9·(-0.19) - 0.1 = 0.539.
  Sgd sgd(1, 0.1, 0.9, true);
  std::vector<float> p = {1.0f};
  const std::vector<float> g = {1.0f};
  sgd.step(p, g);
  EXPECT_FLOAT_EQ(p[0], 0.81f);
  sgd.step(p, g);
  EXPECT_NEAR(p[0], 0.539f, 1e-6);
}

TEST(Adam, FirstStepMovesByLearningRateTimesSign) {
  // t = 1: m = (1-β1) g, v = (1-β2) g², m̂ = g, v̂ = g², step = lr · g / (|g| + ε̂), ε̂ = ε/sqrt(1-β2).
  Adam adam(3, 0.01, 0.9, 0.999, 1e-7);
  std::vector<float> p = {0.0f, 1.0f, -1.0f};
  const std::vector<float> g = {2.0f, -0.5f, 0.001f};
  adam.step(p, g);
  EXPECT_NEAR(p[0], -0.01, 1e-6);
  EXPECT_NEAR(p[1], 1.01, 1e-6);
  EXPECT_NEAR(p[2], -1.0 - 0.01 * 0.001 / (0.001 + 1e-7 / std::sqrt(0.001)), 1e-6);
  EXPECT_EQ(adam.iterations(), 1);
}

TEST(Adam, ThreeStepsMatchTextbookBiasCorrectedForm) {
  // Kingma and Ba, Algorithm 1: m̂ = m/(1-β1^t), v̂ = v/(1-β2^t), θ -= α m̂/(sqrt(v̂) + ε̂), with the
  // efficient form's ε̂ = ε/sqrt(1-β2^t), computed here in double.
  const double lr = 0.05, b1 = 0.8, b2 = 0.95, eps = 1e-3;
  Adam adam(2, lr, b1, b2, eps);
  std::vector<float> p = {0.3f, -0.7f};
  double theta[2] = {0.3, -0.7}, m[2] = {0, 0}, v[2] = {0, 0};
  const double grads[3][2] = {{0.5, -2.0}, {-0.25, 1.0}, {0.125, 0.0}};
  for (int t = 1; t <= 3; ++t) {
    const std::vector<float> g = {static_cast<float>(grads[t - 1][0]), static_cast<float>(grads[t - 1][1])};
    adam.step(p, g);
    for (int i = 0; i < 2; ++i) {
      m[i] = b1 * m[i] + (1 - b1) * grads[t - 1][i];
      v[i] = b2 * v[i] + (1 - b2) * grads[t - 1][i] * grads[t - 1][i];
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      const double v_hat = v[i] / (1 - std::pow(b2, t));
      theta[i] -= lr * m_hat / (std::sqrt(v_hat) + eps / std::sqrt(1 - std::pow(b2, t)));
    }
    EXPECT_NEAR(p[0], theta[0], 1e-6) << "step " << t;
    EXPECT_NEAR(p[1], theta[1], 1e-6) << "step " << t;
  }
  EXPECT_NEAR(adam.state()[0].values[0], m[0], 1e-7);
  EXPECT_NEAR(adam.state()[1].values[1], v[1], 1e-7);
}

TEST(Optimizer, SizeMismatchThrows) {
  const nn::ParameterRegistry registry = kernel_and_bias();
  for (const char* name : {"adam", "adamw", "sgd"}) {
    auto optimizer = make_optimizer({.name = name, .learning_rate = 0.1, .weight_decay = 0.1}, registry);
    EXPECT_EQ(optimizer->name(), name);
    std::vector<float> p(2), g(2);
    EXPECT_THROW(optimizer->step(p, g), std::invalid_argument) << name;
  }
  EXPECT_THROW(make_optimizer({.name = "rmsprop"}, registry), std::invalid_argument);
}

TEST(Optimizer, WeightDecayMeansL2ExceptForAdamW) {
  EXPECT_EQ(l2_coefficient({.name = "adam", .weight_decay = 0.25}), 0.25);
  EXPECT_EQ(l2_coefficient({.name = "sgd", .weight_decay = 0.25}), 0.25);
  EXPECT_EQ(l2_coefficient({.name = "adamw", .weight_decay = 0.25}), 0.0);
}

TEST(AdamW, ThreeStepsMatchLoshchilovHutterInPyTorchsForm) {
  // PyTorch's AdamW, in double: θ ← θ·(1 − lr·λ) on the kernel only; then m, v, and the bias-corrected step
  // of Kingma and Ba with ε̂ = ε/sqrt(1-β2^t) (the efficient form Adam uses). The rate changes every step,
  // as a schedule does, and the decay follows it.
  const double b1 = 0.9, b2 = 0.99, eps = 1e-6, wd = 0.5;
  const double lrs[3] = {0.1, 0.05, 0.02};
  const nn::ParameterRegistry registry = kernel_and_bias();  // kernel: elements 0..3, bias: 4..5
  AdamW adamw(registry, lrs[0], b1, b2, eps, wd);
  std::vector<float> p = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, -1.0f};
  std::vector<double> theta(p.begin(), p.end()), m(6, 0.0), v(6, 0.0);
  const double grads[3][6] = {{0.1, 0.2, -0.3, 0.4, 0.5, -0.6},
                              {-0.2, 0.1, 0.0, 0.3, -0.5, 0.25},
                              {0.05, -0.4, 0.2, 0.1, 0.0, 1.0}};
  for (int t = 1; t <= 3; ++t) {
    const double lr = lrs[t - 1];
    adamw.set_learning_rate(lr);
    std::vector<float> g(grads[t - 1], grads[t - 1] + 6);
    adamw.step(p, g);
    for (int i = 0; i < 6; ++i) {
      if (i < 4) theta[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * grads[t - 1][i];
      v[i] = b2 * v[i] + (1 - b2) * grads[t - 1][i] * grads[t - 1][i];
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      const double v_hat = v[i] / (1 - std::pow(b2, t));
      theta[i] -= lr * m_hat / (std::sqrt(v_hat) + eps / std::sqrt(1 - std::pow(b2, t)));
    }
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(p[i], theta[i], 2e-6) << "step " << t << " element " << i;
  }
  // The decay is not an L2 gradient: a zero gradient still shrinks the kernel by exactly (1 - lr·λ), and
  // leaves the bias where Adam's own (zero) update puts it.
  AdamW fresh(registry, 0.1, b1, b2, eps, wd);
  std::vector<float> q = {1.0f, -2.0f, 4.0f, 8.0f, 3.0f, -3.0f};
  const std::vector<float> zero(6, 0.0f);
  fresh.step(q, zero);
  EXPECT_EQ(q, (std::vector<float>{0.95f, -1.9f, 3.8f, 7.6f, 3.0f, -3.0f}));
}

TEST(AdamW, WithoutDecayIsAdamBitForBit) {
  const nn::ParameterRegistry registry = kernel_and_bias();
  Adam adam(registry.total(), 0.01, 0.9, 0.999, 1e-7);
  AdamW adamw(registry, 0.01, 0.9, 0.999, 1e-7, 0.0);
  std::vector<float> a = {0.3f, -0.2f, 0.1f, 0.7f, -0.5f, 0.25f}, b = a;
  for (int t = 0; t < 4; ++t) {
    const std::vector<float> g = {0.1f * t, -0.3f, 0.7f, -0.01f * t, 0.2f, 1.5f};
    adam.step(a, g);
    adamw.step(b, g);
  }
  EXPECT_EQ(a, b);
  EXPECT_EQ(adamw.name(), "adamw");
  EXPECT_EQ(adamw.iterations(), 4);
}

TEST(Adam, ResultDoesNotDependOnAddressAlignment) {
  // Replicas hold their buffers at different addresses: the update must be the same to the bit.
  const std::size_t n = 1000;
  std::vector<float> reference;
  for (std::size_t shift = 0; shift < 8; ++shift) {
    std::vector<float> storage(n + shift), grads_storage(n + shift);
    std::span<float> p(storage.data() + shift, n);
    std::span<float> g(grads_storage.data() + shift, n);
    for (std::size_t i = 0; i < n; ++i) {
      p[i] = 0.001f * static_cast<float>(i % 97) - 0.03f;
      g[i] = 0.01f * static_cast<float>((i * 7) % 31) - 0.15f;
    }
    Adam adam(static_cast<std::int64_t>(n), 0.001, 0.9, 0.999, 1e-7);
    for (int t = 0; t < 3; ++t) adam.step(p, g);
    if (shift == 0) {
      reference.assign(p.begin(), p.end());
    } else {
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], reference[i]) << "shift " << shift << " element " << i;
    }
  }
}
