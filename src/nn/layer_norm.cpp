#include "mpitrain/nn/layer_norm.hpp"

#include <cmath>
#include <stdexcept>

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
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

ConstMatrixMap LayerNorm::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  const std::int64_t c = channels_;
  for (std::int64_t n = 0; n < rows_; ++n) {
    for (std::int64_t p = 0; p < positions_; ++p) {
      const float* in = x.data() + n * inputs() + p * c;
      double sum = 0.0, squares = 0.0;
      for (std::int64_t k = 0; k < c; ++k) sum += in[k];
      const double mean = sum / static_cast<double>(c);
      for (std::int64_t k = 0; k < c; ++k) squares += (in[k] - mean) * (in[k] - mean);
      const double inv_std = 1.0 / std::sqrt(squares / static_cast<double>(c) + epsilon_);
      inv_std_(n, p) = static_cast<float>(inv_std);
      float* hat = x_hat_.data() + n * inputs() + p * c;
      float* out = y_.data() + n * outputs() + p * c;
      for (std::int64_t k = 0; k < c; ++k) {
        hat[k] = static_cast<float>((in[k] - mean) * inv_std);
        out[k] = gamma_[k] * hat[k] + beta_[k];
      }
    }
  }
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap LayerNorm::backward(ConstMatrixMap dy) {
  const std::int64_t c = channels_;
  for (std::int64_t n = 0; n < rows_; ++n) {
    for (std::int64_t p = 0; p < positions_; ++p) {
      const float* g = dy.data() + n * outputs() + p * c;
      const float* hat = x_hat_.data() + n * inputs() + p * c;
      double g_mean = 0.0, g_hat_mean = 0.0;
      for (std::int64_t k = 0; parameter_gradient() && k < c; ++k) {
        gamma_grad_[k] += g[k] * hat[k];
        beta_grad_[k] += g[k];
      }
      for (std::int64_t k = 0; k < c; ++k) {
        const double scaled = static_cast<double>(g[k]) * gamma_[k];
        g_mean += scaled;
        g_hat_mean += scaled * hat[k];
      }
      if (!input_gradient()) continue;
      g_mean /= static_cast<double>(c);
      g_hat_mean /= static_cast<double>(c);
      const double inv_std = inv_std_(n, p);
      float* dx = dx_.data() + n * inputs() + p * c;
      for (std::int64_t k = 0; k < c; ++k) {
        dx[k] = static_cast<float>((static_cast<double>(g[k]) * gamma_[k] - g_mean - hat[k] * g_hat_mean) * inv_std);
      }
    }
  }
  return {dx_.data(), input_gradient() ? rows_ : 0, inputs()};
}

}  // namespace mpitrain::nn
