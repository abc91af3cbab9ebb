#pragma once
/// @file dense.hpp
/// Fully connected layer y = x W + b (Keras `Dense` without activation).

#include <memory>

#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/linear_products.hpp"

namespace mpitrain::nn {

/// Dense layer on the last axis of its input, as Keras's `Dense`: an input of shape (..., features) gives
/// (..., units), every position (every index of the leading axes, e.g. every token of a sequence (T, C))
/// transformed alike. Kernel W is features × units (row-major, the Keras kernel layout; Glorot-uniform with
/// fan_in = features, fan_out = units; weight decay applies), bias b has units entries (zeros). With X the
/// (rows·positions) × features view of the batch: forward Y = X W + 1 bᵀ; backward adds dW += Xᵀ dY and
/// db += 1ᵀ dY (column sums, row by row), and returns dX = dY Wᵀ. The products run through LinearProducts at
/// the layer's precision().
class Dense final : public Layer {
 public:
  /// @param name layer name (`dense`, `dense_1`, ...), prefix of its tensors' names (`dense/kernel:0`).
  /// @param input_shape (..., features): one dimension for an MLP, (T, C) for a sequence. @param units outputs
  /// per position. @throws std::invalid_argument naming the layer and the shape for units < 1.
  Dense(std::string name, const Shape& input_shape, std::int64_t units);
  void register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) override;
  void bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) override;
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;
  /// 2·positions·features·units each for Y = XW and dW = XᵀdY, and for dX = dY Wᵀ when input_gradient() is on.
  [[nodiscard]] std::int64_t flops_per_sample() const override;

  /// At precision bf16, for a producer that writes this layer's input already rounded (the transformer
  /// block's layer norm, attention and GELU): the buffer of x̃, @p rows samples × inputs(). @throws as
  /// LinearProducts::rounded_input.
  [[nodiscard]] std::span<std::uint16_t> rounded_input(std::int64_t rows);
  /// forward() on the x̃ written into rounded_input(@p rows): y = x̃·W̃ + b, rows × outputs().
  [[nodiscard]] ConstMatrixMap forward_rounded(std::int64_t rows);
  /// At bf16, for a producer that writes dY already rounded (the block's GELU and attention backward): the
  /// buffer of dỸ, the last forward's rows × outputs(). @throws std::logic_error at fp32.
  [[nodiscard]] std::span<std::uint16_t> rounded_output_gradient();
  /// backward() on the dỸ written into rounded_output_gradient(): dW += x̃ᵀ·dỸ, db += Σ over rows and
  /// positions of dỸ (the rounded dY, as PyTorch's autocast linear sums it), dx = dỸ·W̃ᵀ (rows × inputs()).
  [[nodiscard]] ConstMatrixMap backward_rounded();

 private:
  // db += the rows of @p dy (rows·positions × units, fp32 or bf16), row by row: a fixed order.
  template <class T>
  void add_bias_gradient(const T* dy);

  std::int64_t features_;           // the input's last axis
  std::int64_t units_;              // the output's last axis
  std::int64_t positions_;          // inputs() / features_: the product of the leading axes
  std::int64_t kernel_offset_ = 0;  // within the buffers given to bind
  std::int64_t bias_offset_ = 0;
  float* kernel_ = nullptr;         // features × units
  float* bias_ = nullptr;           // units
  float* kernel_grad_ = nullptr;    // features × units
  float* bias_grad_ = nullptr;      // units
  const float* input_ = nullptr;    // rows_ × inputs, the last forward's x
  std::int64_t rows_ = 0;
  LinearProducts products_;         // XW, XᵀdY, dY Wᵀ
  RowMatrix y_;                     // max_rows × (positions·units)
  RowMatrix dx_;                    // max_rows × inputs (0 × inputs without input gradient)
};

}  // namespace mpitrain::nn
