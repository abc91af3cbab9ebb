#include "mpitrain/nn/linear_products.hpp"

#include <span>
#include <stdexcept>

#include "mpitrain/base/float16.hpp"

namespace mpitrain::nn {

namespace {
std::span<std::uint16_t> head(auto& matrix, std::int64_t elements) {
  return {matrix.data(), static_cast<std::size_t>(elements)};
}
std::span<const float> elements(const float* data, std::int64_t count) {
  return {data, static_cast<std::size_t>(count)};
}
}  // namespace

LinearProducts::LinearProducts()
    : forward_(Transpose::none, false), weight_gradient_(Transpose::a, true), input_gradient_(Transpose::b, false) {}

void LinearProducts::reserve(std::int64_t max_rows, std::int64_t inputs, std::int64_t outputs, Precision precision) {
  precision_ = precision;
  inputs_ = inputs;
  outputs_ = outputs;
  if (precision != Precision::bf16) return;
  if (x16_.rows() < max_rows || x16_.cols() != inputs) x16_.resize(max_rows, inputs);
  if (w16_.rows() != inputs || w16_.cols() != outputs) w16_.resize(inputs, outputs);
  if (dy16_.rows() < max_rows || dy16_.cols() != outputs) dy16_.resize(max_rows, outputs);
}

void LinearProducts::forward(base::ConstMatrixMap x, const float* w, base::MatrixMap y) {
  const std::int64_t rows = x.rows();
  rows_ = rows;
  if (precision_ == Precision::fp32) {
    forward_.run(x.data(), w, y.data(), rows, outputs_, inputs_);
    return;
  }
  if (rows > x16_.rows()) {
    throw std::invalid_argument("LinearProducts: " + std::to_string(rows) + " rows but reserve() allowed " +
                                std::to_string(x16_.rows()));
  }
  base::round_to_bf16(elements(x.data(), rows * inputs_), head(x16_, rows * inputs_));
  base::round_to_bf16(elements(w, inputs_ * outputs_), head(w16_, inputs_ * outputs_));
  forward_.run(x16_.data(), w16_.data(), y.data(), rows, outputs_, inputs_);
}

void LinearProducts::backward(base::ConstMatrixMap x, base::ConstMatrixMap dy, const float* w, float* dw, float* dx) {
  const std::int64_t rows = dy.rows();
  if (rows != rows_ || x.rows() != rows) {
    throw std::invalid_argument("LinearProducts: backward over " + std::to_string(rows) +
                                " rows after a forward over " + std::to_string(rows_));
  }
  if (precision_ == Precision::fp32) {
    if (dw != nullptr) weight_gradient_.run(x.data(), dy.data(), dw, inputs_, outputs_, rows);
    if (dx != nullptr) input_gradient_.run(dy.data(), w, dx, rows, inputs_, outputs_);
    return;
  }
  base::round_to_bf16(elements(dy.data(), rows * outputs_), head(dy16_, rows * outputs_));
  if (dw != nullptr) weight_gradient_.run(x16_.data(), dy16_.data(), dw, inputs_, outputs_, rows);
  if (dx != nullptr) input_gradient_.run(dy16_.data(), w16_.data(), dx, rows, inputs_, outputs_);
}

}  // namespace mpitrain::nn
