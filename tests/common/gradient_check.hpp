#pragma once
// Finite-difference gradient checks, after mlpack's CheckGradient (tests/ann/ann_test_tools.hpp): perturb
// each value by ±eps, take the central difference of a scalar objective and compare it with the analytic
// gradient. check_layer_gradient does it for any nn::Layer in one line:
//
//     TEST(DenseGradient, MatchesFiniteDifferences) { test::check_layer_gradient(nn::Dense("dense", {4}, 3)); }
//
// The objective of a layer is sum(Y ∘ R) for a fixed random R, whose gradient with respect to Y is R: the
// layer's backward(R) must give d/dX, and add d/dW into the gradient buffer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "mpitrain/base/random.hpp"
#include "mpitrain/base/tensor.hpp"
#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::test {

/// A rows × cols matrix of uniform values in [-scale, scale) from SplitMix64(@p seed).
inline base::RowMatrix random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, float scale = 1.0f) {
  base::SplitMix64 rng(seed);
  base::RowMatrix m(rows, cols);
  for (std::int64_t i = 0; i < m.size(); ++i) m.data()[i] = (2.0f * rng.uniform_float() - 1.0f) * scale;
  return m;
}

/// Central difference (f(v + eps) - f(v - eps)) / 2 eps of @p objective at every element of @p values,
/// expected within tol · max(1, |numeric|) of @p analytic. @p values is restored after each element.
inline void expect_gradient(std::span<float> values, std::span<const float> analytic,
                            const std::function<double()>& objective, double eps = 1e-2, double tol = 2e-3) {
  ASSERT_EQ(values.size(), analytic.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float saved = values[i];
    values[i] = saved + static_cast<float>(eps);
    const double up = objective();
    values[i] = saved - static_cast<float>(eps);
    const double down = objective();
    values[i] = saved;
    const double numeric = (up - down) / (2 * eps);
    EXPECT_NEAR(analytic[i], numeric, tol * std::max(1.0, std::abs(numeric))) << "element " << i;
  }
}

/// Options of check_layer_gradient.
struct LayerCheck {
  std::int64_t rows = 5;          ///< Samples in the batch.
  std::uint64_t seed = 11;        ///< Parameters, input and R derive from it.
  float input_scale = 1.0f;       ///< Inputs uniform in [-input_scale, input_scale).
  float kink_margin = 0.0f;       ///< Inputs with |x| below it become 0.5 (ReLU's kink at 0 has no derivative).
  /// When > 0, each row's inputs are replaced, keeping their order, by -1 + spacing·rank: every two values of
  /// a row differ by at least it (a max pool's arg-max then stays put under a step below spacing / 2).
  float spacing = 0.0f;
  double eps = 1e-2;              ///< Finite-difference step.
  double tol = 2e-3;              ///< Relative tolerance.
  /// The context of every forward (the same in every objective call: a dropout mask stays fixed, a batch
  /// norm in training recomputes its batch statistics each time, so the check covers its full Jacobian).
  nn::Context context = nn::Context::evaluation();
};

/// Checks @p layer's backward against finite differences of sum(forward(X) ∘ R): the parameter gradient it
/// adds (onto a buffer holding 7s, so that "adds" is checked too) and dX (when input_gradient() is on).
inline void check_layer_gradient(nn::Layer& layer, const LayerCheck& c = {}) {
  nn::ParameterRegistry parameters, buffers;
  layer.register_tensors(parameters, buffers);
  const base::RowMatrix init = random_matrix(1, std::max<std::int64_t>(parameters.total(), 1), c.seed);
  std::vector<float> params(init.data(), init.data() + parameters.total());
  std::vector<float> grads(static_cast<std::size_t>(parameters.total()), 7.0f);
  std::vector<float> saved(static_cast<std::size_t>(buffers.total()), 0.0f);
  layer.bind(params, grads, saved);
  layer.reserve(c.rows);
  base::RowMatrix x = random_matrix(c.rows, layer.inputs(), c.seed + 1, c.input_scale);
  for (std::int64_t i = 0; i < x.size(); ++i) {
    if (std::abs(x.data()[i]) < c.kink_margin) x.data()[i] = 0.5f;
  }
  if (c.spacing > 0.0f) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(x.cols()));
    for (std::int64_t row = 0; row < x.rows(); ++row) {
      for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<std::int64_t>(k);
      std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return x(row, a) < x(row, b); });
      for (std::size_t rank = 0; rank < order.size(); ++rank) x(row, order[rank]) = -1.0f + c.spacing * static_cast<float>(rank);
    }
  }
  const base::RowMatrix r = random_matrix(c.rows, layer.outputs(), c.seed + 2);
  auto objective = [&] {
    const base::ConstMatrixMap y = layer.forward(base::ConstMatrixMap(x.data(), c.rows, layer.inputs()), c.context);
    return (y.cast<double>().array() * r.cast<double>().array()).sum();
  };
  objective();
  const base::RowMatrix dx = layer.backward(base::ConstMatrixMap(r.data(), c.rows, layer.outputs()));
  std::vector<float> added(grads.size());
  for (std::size_t i = 0; i < grads.size(); ++i) added[i] = grads[i] - 7.0f;
  SCOPED_TRACE("layer " + layer.name());
  {
    SCOPED_TRACE("parameters");
    expect_gradient(params, added, objective, c.eps, c.tol);
  }
  if (layer.input_gradient()) {
    SCOPED_TRACE("input");
    ASSERT_EQ(dx.rows(), c.rows);
    expect_gradient({x.data(), static_cast<std::size_t>(x.size())}, {dx.data(), static_cast<std::size_t>(dx.size())},
                    objective, c.eps, c.tol);
  }
}

/// The same for a temporary: `check_layer_gradient(nn::Dense("dense", {4}, 3))`.
inline void check_layer_gradient(nn::Layer&& layer, const LayerCheck& c = {}) { check_layer_gradient(layer, c); }

/// Every parameter of @p model (already initialised and reserved for x's rows) against finite differences of
/// sum(outputs ∘ R), R random from @p seed, with the model's inputs @p x (evaluation mode). The model's
/// gradients are left holding the analytic gradient.
inline void check_model_parameter_gradient(nn::Model& model, const base::RowMatrix& x, std::uint64_t seed,
                                           double eps = 1e-3, double tol = 1e-2) {
  const std::int64_t rows = x.rows();
  const base::RowMatrix r = random_matrix(rows, model.output_size(), seed);
  auto objective = [&] {
    const auto y = model.forward(base::ConstMatrixMap(x.data(), rows, x.cols()), nn::Context::evaluation());
    return static_cast<double>((y.array() * r.array()).sum());
  };
  (void)objective();
  model.zero_gradients();
  model.backward(base::ConstMatrixMap(r.data(), rows, r.cols()));
  const std::vector<float> analytic(model.gradients().begin(), model.gradients().end());
  expect_gradient(model.parameters(), analytic, objective, eps, tol);
}

}  // namespace mpitrain::test
