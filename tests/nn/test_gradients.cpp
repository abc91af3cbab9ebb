// Finite-difference checks of every layer's backward pass and of the whole MLP with the loss and L2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "mpitrain/base/random.hpp"
#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/dense.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/mlp.hpp"
#include "mpitrain/nn/parameters.hpp"

using namespace mpitrain;
using nn::ConstMatrixMap;
using nn::MatrixMap;
using nn::RowMatrix;

namespace {

RowMatrix random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, float scale = 1.0f) {
  base::SplitMix64 rng(seed);
  RowMatrix m(rows, cols);
  for (std::int64_t i = 0; i < m.size(); ++i) m.data()[i] = (2.0f * rng.uniform_float() - 1.0f) * scale;
  return m;
}

// Central difference of f at every element of v, compared with the analytic gradient.
void expect_gradient(std::span<float> v, std::span<const float> analytic, const std::function<double()>& f,
                     double eps = 1e-2, double tol = 2e-3) {
  ASSERT_EQ(v.size(), analytic.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const float saved = v[i];
    v[i] = saved + static_cast<float>(eps);
    const double up = f();
    v[i] = saved - static_cast<float>(eps);
    const double down = f();
    v[i] = saved;
    const double numeric = (up - down) / (2 * eps);
    EXPECT_NEAR(analytic[i], numeric, tol * std::max(1.0, std::abs(numeric))) << "element " << i;
  }
}

// Objective sum(Y ∘ R) of a layer's output, whose gradient with respect to Y is R.
double weighted_sum(ConstMatrixMap y, const RowMatrix& r) {
  return (y.cast<double>().array() * r.cast<double>().array()).sum();
}

}  // namespace

TEST(DenseGradient, MatchesFiniteDifferences) {
  const std::int64_t rows = 5, in = 4, out = 3;
  nn::Dense dense("dense", in, out);
  nn::ParameterRegistry registry;
  dense.register_parameters(registry);
  std::vector<float> params(registry.total()), grads(registry.total());
  const RowMatrix init = random_matrix(1, registry.total(), 11);
  std::copy(init.data(), init.data() + init.size(), params.begin());
  dense.bind(params, grads);
  dense.reserve(rows);
  RowMatrix x = random_matrix(rows, in, 12);
  const RowMatrix r = random_matrix(rows, out, 13);
  auto objective = [&] { return weighted_sum(dense.forward(ConstMatrixMap(x.data(), rows, in)), r); };
  objective();
  RowMatrix dx = dense.backward(ConstMatrixMap(r.data(), rows, out));
  const std::vector<float> analytic_params = grads;
  expect_gradient(params, analytic_params, objective);
  expect_gradient({x.data(), static_cast<std::size_t>(x.size())}, {dx.data(), static_cast<std::size_t>(dx.size())},
                  objective);
}

TEST(DenseGradient, EmptyBatchGivesZeroGradients) {
  nn::Dense dense("dense", 3, 2);
  nn::ParameterRegistry registry;
  dense.register_parameters(registry);
  std::vector<float> params(registry.total(), 1.0f), grads(registry.total(), 7.0f);
  dense.bind(params, grads);
  dense.reserve(4);
  RowMatrix x(4, 3);
  dense.forward(ConstMatrixMap(x.data(), 0, 3));
  RowMatrix dy(4, 2);
  dense.backward(ConstMatrixMap(dy.data(), 0, 2));
  for (float g : grads) EXPECT_EQ(g, 0.0f);
}

class ActivationGradient : public ::testing::TestWithParam<nn::ActivationKind> {};

TEST_P(ActivationGradient, MatchesFiniteDifferences) {
  const std::int64_t rows = 4, features = 6;
  nn::Activation act(GetParam(), features);
  act.reserve(rows);
  RowMatrix x = random_matrix(rows, features, 21, 2.0f);
  // Keep ReLU inputs away from its kink at 0, where the finite difference is not the derivative.
  for (std::int64_t i = 0; i < x.size(); ++i) {
    if (std::abs(x.data()[i]) < 0.1f) x.data()[i] = 0.5f;
  }
  const RowMatrix r = random_matrix(rows, features, 22);
  auto objective = [&] { return weighted_sum(act.forward(ConstMatrixMap(x.data(), rows, features)), r); };
  objective();
  RowMatrix dx = act.backward(ConstMatrixMap(r.data(), rows, features));
  expect_gradient({x.data(), static_cast<std::size_t>(x.size())}, {dx.data(), static_cast<std::size_t>(dx.size())},
                  objective, 1e-3, 3e-3);
}

INSTANTIATE_TEST_SUITE_P(All, ActivationGradient,
                         ::testing::Values(nn::ActivationKind::relu, nn::ActivationKind::tanh,
                                           nn::ActivationKind::sigmoid));

TEST(LossGradient, MatchesFiniteDifferences) {
  const std::int64_t rows = 4, k = 5;
  RowMatrix z = random_matrix(rows, k, 31, 3.0f);
  const std::vector<std::int32_t> labels = {0, 4, 2, 2};
  RowMatrix g(rows, k);
  nn::softmax_cross_entropy(ConstMatrixMap(z.data(), rows, k), labels, MatrixMap(g.data(), rows, k));
  auto objective = [&] {
    return nn::softmax_cross_entropy(ConstMatrixMap(z.data(), rows, k), labels).loss;
  };
  expect_gradient({z.data(), static_cast<std::size_t>(z.size())}, {g.data(), static_cast<std::size_t>(g.size())},
                  objective, 1e-3, 1e-3);
}

TEST(MlpGradient, WholeModelWithL2MatchesFiniteDifferences) {
  for (auto kind : {nn::ActivationKind::tanh, nn::ActivationKind::sigmoid, nn::ActivationKind::relu}) {
    nn::Mlp model(nn::MlpSpec{6, {5, 4}, kind, 3});
    model.init_glorot(41);
    // Non-zero biases so that every parameter is exercised.
    for (const auto& p : model.registry().entries()) {
      if (!p.decay) {
        for (std::int64_t i = 0; i < p.size(); ++i) model.parameters()[p.offset + i] = 0.05f * (i % 3);
      }
    }
    const std::int64_t rows = 7;
    model.reserve(rows);
    RowMatrix x = random_matrix(rows, 6, 42);
    const std::vector<std::int32_t> labels = {0, 1, 2, 1, 0, 2, 2};
    const double lambda = 0.01;
    auto objective = [&] {
      auto logits = model.forward(ConstMatrixMap(x.data(), rows, 6));
      return nn::softmax_cross_entropy(logits, labels).loss + model.l2_penalty(lambda);
    };
    auto logits = model.forward(ConstMatrixMap(x.data(), rows, 6));
    RowMatrix g(rows, 3);
    nn::softmax_cross_entropy(logits, labels, MatrixMap(g.data(), rows, 3));
    model.backward(ConstMatrixMap(g.data(), rows, 3));
    std::vector<float> analytic(model.gradients().begin(), model.gradients().end());
    model.add_l2_gradient(lambda, analytic);
    SCOPED_TRACE(nn::to_string(kind));
    // ReLU: a small step, so that no pre-activation crosses the kink (checked with these seeds).
    const double eps = kind == nn::ActivationKind::relu ? 1e-3 : 1e-2;
    expect_gradient(model.parameters(), analytic, objective, eps, 5e-3);
  }
}

TEST(MlpL2, PenaltyIsLambdaTimesSquaredKernelsOnly) {
  nn::Mlp model(nn::MlpSpec{2, {2}, nn::ActivationKind::relu, 2});
  auto p = model.parameters();
  std::fill(p.begin(), p.end(), 1.0f);  // 4 + 4 kernel entries, 2 + 2 bias entries
  EXPECT_DOUBLE_EQ(model.l2_penalty(0.5), 0.5 * 8.0);
  std::vector<float> g(p.size(), 0.0f);
  model.add_l2_gradient(0.5, g);
  for (const auto& e : model.registry().entries()) {
    for (std::int64_t i = 0; i < e.size(); ++i) EXPECT_EQ(g[e.offset + i], e.decay ? 1.0f : 0.0f) << e.name;
  }
}

TEST(MlpInit, GlorotLimitsAndZeroBiases) {
  nn::Mlp model(nn::MlpSpec{784, {256}, nn::ActivationKind::relu, 10});
  model.init_glorot(7);
  for (const auto& e : model.registry().entries()) {
    auto v = model.parameters().subspan(e.offset, e.size());
    if (!e.decay) {
      for (float w : v) EXPECT_EQ(w, 0.0f);
      continue;
    }
    const double limit = std::sqrt(6.0 / static_cast<double>(e.rows + e.cols));
    double sum_sq = 0;
    for (float w : v) {
      EXPECT_LE(std::abs(w), limit);
      sum_sq += static_cast<double>(w) * w;
    }
    // Variance of U(-l, l) is l²/3 (Glorot and Bengio 2010, eq. 16 gives 2/(fan_in+fan_out)).
    EXPECT_NEAR(sum_sq / static_cast<double>(e.size()), 2.0 / static_cast<double>(e.rows + e.cols),
                0.1 * 2.0 / static_cast<double>(e.rows + e.cols))
        << e.name;
  }
  nn::Mlp again(nn::MlpSpec{784, {256}, nn::ActivationKind::relu, 10});
  again.init_glorot(7);
  EXPECT_TRUE(std::equal(model.parameters().begin(), model.parameters().end(), again.parameters().begin()));
}

TEST(MlpRegistry, KerasNamesAndShapes) {
  const auto registry = nn::mlp_registry(nn::MlpSpec{784, {256, 128}, nn::ActivationKind::relu, 10});
  const std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> expected = {
      {"dense/kernel:0", 784, 256}, {"dense/bias:0", 1, 256},     {"dense_1/kernel:0", 256, 128},
      {"dense_1/bias:0", 1, 128},   {"dense_2/kernel:0", 128, 10}, {"dense_2/bias:0", 1, 10}};
  ASSERT_EQ(registry.entries().size(), expected.size());
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& e = registry.entries()[i];
    EXPECT_EQ(e.name, std::get<0>(expected[i]));
    EXPECT_EQ(e.rows, std::get<1>(expected[i]));
    EXPECT_EQ(e.cols, std::get<2>(expected[i]));
    EXPECT_EQ(e.offset, offset);
    offset += e.size();
  }
  EXPECT_EQ(registry.total(), 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
}

// nn::all_finite against std::isfinite element by element, for each non-finite kind at every position of
// a buffer long enough to have a vectorised body and a scalar tail, at every alignment.
TEST(AllFinite, AgreesWithIsfiniteEverywhere) {
  std::vector<float> buffer(64);
  for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<float>(i) - 20.5f;
  buffer[3] = std::numeric_limits<float>::max();
  buffer[4] = -std::numeric_limits<float>::max();
  buffer[5] = std::numeric_limits<float>::denorm_min();
  buffer[6] = -0.0f;
  EXPECT_TRUE(nn::all_finite(std::span<const float>()));
  for (std::size_t begin = 0; begin < 8; ++begin) {
    const std::span<float> view(buffer.data() + begin, 45);
    EXPECT_TRUE(nn::all_finite(view));
    for (const float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::signaling_NaN()}) {
      for (std::size_t at = 0; at < view.size(); ++at) {
        const float kept = view[at];
        view[at] = bad;
        const bool expected = std::all_of(view.begin(), view.end(), [](float v) { return std::isfinite(v); });
        ASSERT_EQ(nn::all_finite(view), expected) << "value " << bad << " at " << at << ", offset " << begin;
        ASSERT_FALSE(expected);
        view[at] = kept;
      }
    }
  }
}
