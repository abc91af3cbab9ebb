#include "mpitrain/nn/layer_norm.hpp"

#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "mpitrain/base/fixed_order_sum.hpp"
#include "mpitrain/base/float16.hpp"

namespace mpitrain::nn {

namespace {
std::int64_t checked_channels(const std::string& name, const Shape& shape, double epsilon) {
  const std::string layer = "layer " + name + " (layer_norm): ";
  if (!(epsilon > 0.0) || !std::isfinite(epsilon)) {
    throw std::invalid_argument(layer + "epsilon must be a finite number > 0, got " + std::to_string(epsilon));
  }
  if (shape.empty()) throw std::invalid_argument(layer + "the input shape has no dimension");
  return shape.back();
}
}  // namespace

LayerNorm::LayerNorm(std::string name, const Shape& shape, double epsilon)
    : Layer(name, shape, shape), epsilon_(epsilon), channels_(checked_channels(name, shape, epsilon)),
      positions_(inputs() / channels_) {}

void LayerNorm::register_tensors(ParameterRegistry& parameters, ParameterRegistry&) {
  gamma_offset_ = parameters.add(name(), name() + "/gamma:0", {channels_}, InitRule::ones(), false).offset;
  beta_offset_ = parameters.add(name(), name() + "/beta:0", {channels_}, InitRule::zeros(), false).offset;
}

void LayerNorm::bind(std::span<float> parameters, std::span<float> gradients, std::span<float>) {
  gamma_ = parameters.data() + gamma_offset_;
  beta_ = parameters.data() + beta_offset_;
  gamma_grad_ = gradients.data() + gamma_offset_;
  beta_grad_ = gradients.data() + beta_offset_;
}

void LayerNorm::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) {
    y_.resize(max_rows, outputs());
    x_hat_.resize(max_rows, outputs());
    inv_std_.resize(max_rows, positions_);
  }
  row_.resize(channels_);
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

namespace {
using Row = Eigen::Map<Eigen::ArrayXf>;
using ConstRow = Eigen::Map<const Eigen::ArrayXf>;

using base::fixed_order_sum;
}  // namespace

// Per position in float, as PyTorch's CPU LayerNorm, with sums in a fixed order (base::fixed_order_sum).
template <class Out>
void LayerNorm::normalize(ConstMatrixMap x, Out* y) {
  rows_ = x.rows();
  const std::int64_t c = channels_;
  const ConstRow gamma(gamma_, c), beta(beta_, c);
  const auto inv_c = 1.0f / static_cast<float>(c);
  for (std::int64_t n = 0; n < rows_; ++n) {
    for (std::int64_t p = 0; p < positions_; ++p) {
      const ConstRow in(x.data() + n * inputs() + p * c, c);
      Row hat(x_hat_.data() + n * inputs() + p * c, c);
      const float mean = fixed_order_sum(c, [&](std::int64_t k) { return in[k]; }) * inv_c;
      hat = in - mean;
      const float variance = fixed_order_sum(c, [&](std::int64_t k) { return hat[k] * hat[k]; }) * inv_c;
      const float inv_std = 1.0f / std::sqrt(variance + static_cast<float>(epsilon_));
      inv_std_(n, p) = inv_std;
      hat *= inv_std;
      Out* out = y + n * outputs() + p * c;
      if constexpr (std::is_same_v<Out, float>) {
        Row(out, c) = gamma * hat + beta;
      } else {
        row_ = gamma * hat + beta;
        base::round_to_bf16({row_.data(), static_cast<std::size_t>(c)}, {out, static_cast<std::size_t>(c)});
      }
    }
  }
}

ConstMatrixMap LayerNorm::forward(ConstMatrixMap x, const Context&) {
  normalize(x, y_.data());
  return {y_.data(), rows_, outputs()};
}

void LayerNorm::forward_rounded(ConstMatrixMap x, std::span<std::uint16_t> y16) {
  if (y16.size() < static_cast<std::size_t>(x.rows() * outputs())) {
    throw std::invalid_argument("layer " + name() + " (layer_norm): rounded output of " + std::to_string(y16.size()) +
                                " values for " + std::to_string(x.rows() * outputs()));
  }
  normalize(x, y16.data());
}

ConstMatrixMap LayerNorm::backward(ConstMatrixMap dy) {
  const std::int64_t c = channels_;
  const ConstRow gamma(gamma_, c);
  Row gamma_grad(gamma_grad_, c), beta_grad(beta_grad_, c);
  const auto inv_c = 1.0f / static_cast<float>(c);
  for (std::int64_t n = 0; n < rows_; ++n) {
    for (std::int64_t p = 0; p < positions_; ++p) {
      const ConstRow g(dy.data() + n * outputs() + p * c, c);
      const ConstRow hat(x_hat_.data() + n * inputs() + p * c, c);
      if (parameter_gradient()) {
        gamma_grad += g * hat;
        beta_grad += g;
      }
      if (!input_gradient()) continue;
      const float g_mean = fixed_order_sum(c, [&](std::int64_t k) { return g[k] * gamma[k]; }) * inv_c;
      const float g_hat_mean = fixed_order_sum(c, [&](std::int64_t k) { return g[k] * gamma[k] * hat[k]; }) * inv_c;
      Row(dx_.data() + n * inputs() + p * c, c) = (g * gamma - g_mean - hat * g_hat_mean) * inv_std_(n, p);
    }
  }
  return {dx_.data(), input_gradient() ? rows_ : 0, inputs()};
}

}  // namespace mpitrain::nn
