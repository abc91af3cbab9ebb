#include "mpitrain/nn/batch_norm.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mpitrain::nn {

namespace {

// Rows of (sample, position) pairs × C channels: the layout of a batch seen per channel.
using ChannelArray = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstChannels = Eigen::Map<const ChannelArray>;
using Channels = Eigen::Map<ChannelArray>;
using ConstRow = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;

std::int64_t checked_channels(const std::string& name, const Shape& shape, double momentum, double epsilon) {
  const std::string layer = "layer " + name + " (batch_norm): ";
  if (!(momentum >= 0.0 && momentum < 1.0)) {
    throw std::invalid_argument(layer + "momentum must be in [0, 1), got " + std::to_string(momentum));
  }
  if (!(epsilon > 0.0) || !std::isfinite(epsilon)) {
    throw std::invalid_argument(layer + "epsilon must be a finite number > 0, got " + std::to_string(epsilon));
  }
  if (shape.empty()) throw std::invalid_argument(layer + "the input shape has no dimension");
  return shape.back();
}

}  // namespace

BatchNorm::BatchNorm(std::string name, const Shape& shape, double momentum, double epsilon)
    : Layer(name, shape, shape), momentum_(momentum), epsilon_(epsilon),
      channels_(checked_channels(name, shape, momentum, epsilon)), positions_(inputs() / channels_),
      sums_(static_cast<std::size_t>(2 * channels_ + 1)), mean_(channels_), inv_std_(channels_), scale_(channels_),
      dy_mean_(channels_), dyx_mean_(channels_) {}

void BatchNorm::register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) {
  gamma_offset_ = parameters.add(name(), name() + "/gamma:0", {channels_}, InitRule::ones(), false).offset;
  beta_offset_ = parameters.add(name(), name() + "/beta:0", {channels_}, InitRule::zeros(), false).offset;
  mean_offset_ = buffers.add(name(), name() + "/moving_mean:0", {channels_}, InitRule::zeros(), false).offset;
  variance_offset_ = buffers.add(name(), name() + "/moving_variance:0", {channels_}, InitRule::ones(), false).offset;
}

void BatchNorm::bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) {
  gamma_ = parameters.data() + gamma_offset_;
  beta_ = parameters.data() + beta_offset_;
  gamma_grad_ = gradients.data() + gamma_offset_;
  beta_grad_ = gradients.data() + beta_offset_;
  moving_mean_ = buffers.data() + mean_offset_;
  moving_variance_ = buffers.data() + variance_offset_;
}

void BatchNorm::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) {
    y_.resize(max_rows, outputs());
    x_hat_.resize(max_rows, outputs());
  }
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

void BatchNorm::batch_moments(ConstMatrixMap x) {
  const Eigen::Index n = rows_ * positions_, c = channels_;
  const ConstChannels xs(x.data(), n, c);
  Eigen::Map<Eigen::ArrayXd> sum(sums_.data(), c), square(sums_.data() + c, c);
  sum.setZero();
  square.setZero();
  // Row by row: each channel's sum is accumulated in one fixed order (vectorised across channels only).
  for (Eigen::Index r = 0; r < n; ++r) {
    sum += xs.row(r).transpose().cast<double>();
    square += xs.row(r).transpose().cast<double>().square();
  }
  sums_[static_cast<std::size_t>(2 * c)] = static_cast<double>(n);
  if (statistics_ != nullptr) statistics_->sum(sums_);
  count_ = sums_[static_cast<std::size_t>(2 * c)];
  if (count_ == 0.0) return;  // an empty global batch: nothing to normalise, nothing to learn
  bool finite = true;
  for (Eigen::Index j = 0; j < c; ++j) {
    const double mean = sum[j] / count_;
    const double variance = std::max(square[j] / count_ - mean * mean, 0.0);
    sum[j] = mean;
    square[j] = variance;
    mean_[j] = static_cast<float>(mean);
    inv_std_[j] = static_cast<float>(1.0 / std::sqrt(variance + epsilon_));
    finite = finite && std::isfinite(mean) && std::isfinite(variance);
  }
  if (!finite) return;  // a NaN or an infinity in some rank's rows: the moving statistics keep their values
  for (Eigen::Index j = 0; j < c; ++j) {
    moving_mean_[j] = static_cast<float>(moving_mean_[j] * momentum_ + sum[j] * (1.0 - momentum_));
    moving_variance_[j] = static_cast<float>(moving_variance_[j] * momentum_ + square[j] * (1.0 - momentum_));
  }
}

ConstMatrixMap BatchNorm::forward(ConstMatrixMap x, const Context& context) {
  rows_ = x.rows();
  training_ = context.mode == Mode::training;
  statistics_ = context.statistics;
  if (training_) {
    batch_moments(x);
    if (count_ == 0.0) return {y_.data(), rows_, outputs()};
  } else {
    for (Eigen::Index j = 0; j < channels_; ++j) {
      mean_[j] = moving_mean_[j];
      inv_std_[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(moving_variance_[j]) + epsilon_));
    }
  }
  const Eigen::Index n = rows_ * positions_, c = channels_;
  const ConstRow gamma(gamma_, c), beta(beta_, c);
  Channels x_hat(x_hat_.data(), n, c), y(y_.data(), n, c);
  x_hat = (ConstChannels(x.data(), n, c).rowwise() - mean_).rowwise() * inv_std_;
  y = (x_hat.rowwise() * gamma).rowwise() + beta;
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap BatchNorm::backward(ConstMatrixMap dy) {
  const Eigen::Index n = rows_ * positions_, c = channels_;
  const ConstChannels d(dy.data(), n, c), x_hat(x_hat_.data(), n, c);
  if (!parameter_gradient() && !training_) {  // dx alone, with the running statistics: no sums needed
    if (!input_gradient()) return {dx_.data(), 0, inputs()};
    scale_ = ConstRow(gamma_, c) * inv_std_;
    Channels(dx_.data(), n, c) = d.rowwise() * scale_;
    return {dx_.data(), rows_, inputs()};
  }
  Eigen::Map<Eigen::ArrayXd> dy_sum(sums_.data(), c), dyx_sum(sums_.data() + c, c);
  dy_sum.setZero();
  dyx_sum.setZero();
  for (Eigen::Index r = 0; r < n; ++r) {
    dy_sum += d.row(r).transpose().cast<double>();
    dyx_sum += d.row(r).transpose().cast<double>() * x_hat.row(r).transpose().cast<double>();
  }
  // This replica's share of dγ and dβ, before the sums become global.
  for (Eigen::Index j = 0; parameter_gradient() && j < c; ++j) {
    gamma_grad_[j] += static_cast<float>(dyx_sum[j]);
    beta_grad_[j] += static_cast<float>(dy_sum[j]);
  }
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  scale_ = ConstRow(gamma_, c) * inv_std_;
  Channels dx(dx_.data(), n, c);
  if (!training_) {
    dx = d.rowwise() * scale_;
    return {dx_.data(), rows_, inputs()};
  }
  if (statistics_ != nullptr) statistics_->sum(std::span<double>(sums_.data(), static_cast<std::size_t>(2 * c)));
  if (count_ == 0.0) return {dx_.data(), rows_, inputs()};
  for (Eigen::Index j = 0; j < c; ++j) {
    dy_mean_[j] = static_cast<float>(dy_sum[j] / count_);
    dyx_mean_[j] = static_cast<float>(dyx_sum[j] / count_);
  }
  dx = ((d.rowwise() - dy_mean_) - x_hat.rowwise() * dyx_mean_).rowwise() * scale_;
  return {dx_.data(), rows_, inputs()};
}

}  // namespace mpitrain::nn
