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
bool keras(WeightLayout layout) { return layout == WeightLayout::inputs_by_outputs; }
}  // namespace

// Keras layout: Y = X·W, dW += Xᵀ·dY, dX = dY·Wᵀ. The other: Y = X·Wᵀ, dW += dYᵀ·X, dX = dY·W.
LinearProducts::LinearProducts(WeightLayout layout)
    : layout_(layout),
      forward_(keras(layout) ? Transpose::none : Transpose::b, false),
      weight_gradient_(Transpose::a, true),
      input_gradient_(keras(layout) ? Transpose::b : Transpose::none, false) {}

void LinearProducts::reserve(std::int64_t max_rows, std::int64_t inputs, std::int64_t outputs, Precision precision) {
  precision_ = precision;
  inputs_ = inputs;
  outputs_ = outputs;
  if (precision != Precision::bf16) return;
  if (x16_.rows() < max_rows || x16_.cols() != inputs) x16_.resize(max_rows, inputs);
  const std::int64_t w_rows = keras(layout_) ? inputs : outputs, w_cols = keras(layout_) ? outputs : inputs;
  if (w16_.rows() != w_rows || w16_.cols() != w_cols) w16_.resize(w_rows, w_cols);
  if (dy16_.rows() < max_rows || dy16_.cols() != outputs) dy16_.resize(max_rows, outputs);
}

void LinearProducts::forward(base::ConstMatrixMap x, const float* w, base::MatrixMap y) {
  const std::int64_t rows = x.rows();
  if (precision_ == Precision::fp32) {
    rows_ = rows;
    forward_.run(x.data(), w, y.data(), rows, outputs_, inputs_);
    return;
  }
  base::round_to_bf16(elements(x.data(), rows * inputs_), rounded_input(rows));
  forward_rounded(rows, w, y);
}

std::span<std::uint16_t> LinearProducts::rounded_input(std::int64_t rows) {
  if (precision_ != Precision::bf16) throw std::logic_error("LinearProducts: a rounded input at precision fp32");
  if (rows > x16_.rows()) {
    throw std::invalid_argument("LinearProducts: " + std::to_string(rows) + " rows but reserve() allowed " +
                                std::to_string(x16_.rows()));
  }
  return head(x16_, rows * inputs_);
}

void LinearProducts::forward_rounded(std::int64_t rows, const float* w, base::MatrixMap y, const float* bias) {
  (void)rounded_input(rows);  // the checks
  rows_ = rows;
  base::round_to_bf16(elements(w, inputs_ * outputs_), head(w16_, inputs_ * outputs_));
  if (bias != nullptr) {
    forward_.run(x16_.data(), w16_.data(), bias, y.data(), rows, outputs_, inputs_);
  } else {
    forward_.run(x16_.data(), w16_.data(), y.data(), rows, outputs_, inputs_);
  }
}

void LinearProducts::backward(base::ConstMatrixMap x, base::ConstMatrixMap dy, const float* w, float* dw, float* dx) {
  const std::int64_t rows = dy.rows();
  if (rows != rows_ || x.rows() != rows) {
    throw std::invalid_argument("LinearProducts: backward over " + std::to_string(rows) +
                                " rows after a forward over " + std::to_string(rows_));
  }
  if (precision_ == Precision::fp32) {
    products(x.data(), dy.data(), w, dw, dx, rows);
    return;
  }
  base::round_to_bf16(elements(dy.data(), rows * outputs_), rounded_output_gradient());
  backward_rounded(dw, dx);
}

std::span<std::uint16_t> LinearProducts::rounded_output_gradient() {
  if (precision_ != Precision::bf16) throw std::logic_error("LinearProducts: a rounded dY at precision fp32");
  return head(dy16_, rows_ * outputs_);
}

void LinearProducts::backward_rounded(float* dw, float* dx) {
  if (precision_ != Precision::bf16) throw std::logic_error("LinearProducts: a rounded dY at precision fp32");
  products(x16_.data(), dy16_.data(), w16_.data(), dw, dx, rows_);
}

template <typename T>
void LinearProducts::products(const T* x, const T* dy, const T* w, float* dw, float* dx, std::int64_t rows) {
  if (dw != nullptr) {
    // Both are Aᵀ·B over the rows: Xᵀ·dY (inputs × outputs) or dYᵀ·X (outputs × inputs).
    if (keras(layout_)) {
      weight_gradient_.run(x, dy, dw, inputs_, outputs_, rows);
    } else {
      weight_gradient_.run(dy, x, dw, outputs_, inputs_, rows);
    }
  }
  if (dx != nullptr) input_gradient_.run(dy, w, dx, rows, inputs_, outputs_);
}

}  // namespace mpitrain::nn
