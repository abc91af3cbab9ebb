#include "mpitrain/nn/causal_self_attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace mpitrain::nn {

namespace {
using Strided = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
using StridedOut = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;

Shape attention_output(const std::string& name, const Shape& input, std::int64_t heads) {
  const std::string layer = "layer " + name + " (causal_self_attention): ";
  if (input.size() != 2) {
    throw std::invalid_argument(layer + "input shape " + base::format_shape(input) +
                                " is not two-dimensional (tokens, 3 x channels)");
  }
  if (input[1] % 3 != 0) {
    throw std::invalid_argument(layer + "input shape " + base::format_shape(input) +
                                ": the last axis must hold q, k and v (a multiple of 3)");
  }
  if (heads < 1 || (input[1] / 3) % heads != 0) {
    throw std::invalid_argument(layer + "heads = " + std::to_string(heads) + " must be >= 1 and divide the " +
                                std::to_string(input[1] / 3) + " channels of input shape " + base::format_shape(input));
  }
  return {input[0], input[1] / 3};
}
}  // namespace

CausalSelfAttention::CausalSelfAttention(std::string name, const Shape& input_shape, std::int64_t heads)
    : Layer(name, input_shape, attention_output(name, input_shape, heads)),
      tokens_(input_shape[0]),
      channels_(input_shape[1] / 3),
      heads_(heads),
      head_size_(channels_ / heads) {}

void CausalSelfAttention::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) {
    y_.resize(max_rows, outputs());
    probabilities_.resize(max_rows, heads_ * tokens_ * tokens_);
  }
  dp_.resize(tokens_, tokens_);
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

ConstMatrixMap CausalSelfAttention::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  input_ = x.data();
  const std::int64_t t = tokens_, c = channels_, d = head_size_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (std::int64_t n = 0; n < rows_; ++n) {
    const float* sample = x.data() + n * inputs();
    for (std::int64_t h = 0; h < heads_; ++h) {
      const Strided q(sample + h * d, t, d, Eigen::OuterStride<>(3 * c));
      const Strided k(sample + c + h * d, t, d, Eigen::OuterStride<>(3 * c));
      const Strided v(sample + 2 * c + h * d, t, d, Eigen::OuterStride<>(3 * c));
      MatrixMap p(probabilities_.data() + (n * heads_ + h) * t * t, t, t);
      // Only the causal (lower) triangle of S = q·kᵀ is computed, and y = P·v reads only it.
      p.triangularView<Eigen::StrictlyUpper>().setZero();
      p.triangularView<Eigen::Lower>() = q * k.transpose();
      for (std::int64_t i = 0; i < t; ++i) {  // the causal softmax of row i over columns 0..i (vectorised exp)
        auto row = p.row(i).head(i + 1).array();
        const float top = row.maxCoeff();
        row = ((row - top) * scale).exp();
        row /= row.sum();
      }
      StridedOut y(y_.data() + n * outputs() + h * d, t, d, Eigen::OuterStride<>(c));
      y.noalias() = p.triangularView<Eigen::Lower>() * v;
    }
  }
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap CausalSelfAttention::backward(ConstMatrixMap dy) {
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  const std::int64_t t = tokens_, c = channels_, d = head_size_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (std::int64_t n = 0; n < rows_; ++n) {
    const float* sample = input_ + n * inputs();
    float* grad = dx_.data() + n * inputs();
    for (std::int64_t h = 0; h < heads_; ++h) {
      const Strided q(sample + h * d, t, d, Eigen::OuterStride<>(3 * c));
      const Strided k(sample + c + h * d, t, d, Eigen::OuterStride<>(3 * c));
      const Strided v(sample + 2 * c + h * d, t, d, Eigen::OuterStride<>(3 * c));
      const Strided g(dy.data() + n * outputs() + h * d, t, d, Eigen::OuterStride<>(c));
      const ConstMatrixMap p(probabilities_.data() + (n * heads_ + h) * t * t, t, t);
      StridedOut dq(grad + h * d, t, d, Eigen::OuterStride<>(3 * c));
      StridedOut dk(grad + c + h * d, t, d, Eigen::OuterStride<>(3 * c));
      StridedOut dv(grad + 2 * c + h * d, t, d, Eigen::OuterStride<>(3 * c));
      // Full products (P and dS are zero above the diagonal): faster here than Eigen's triangular ones.
      dv.noalias() = p.transpose() * g;
      dp_.noalias() = g * v.transpose();
      for (std::int64_t i = 0; i < t; ++i) {  // dS = P ∘ (dP − rowsum(dP ∘ P)), times the scale of S
        auto dp_row = dp_.row(i).head(i + 1).array();
        const auto p_row = p.row(i).head(i + 1).array();
        const float dot = (dp_row * p_row).sum();
        dp_row = p_row * (dp_row - dot) * scale;
        dp_.row(i).tail(t - i - 1).setZero();
      }
      dq.noalias() = dp_ * k;
      dk.noalias() = dp_.transpose() * q;
    }
  }
  return {dx_.data(), rows_, inputs()};
}

std::int64_t CausalSelfAttention::flops_per_sample() const {
  const std::int64_t product = 2 * tokens_ * tokens_ * channels_;
  return product * (input_gradient() ? 6 : 2);
}

}  // namespace mpitrain::nn
