#pragma once
/// @file activation.hpp
/// Element-wise activations as parameter-free layers.

#include <cstdint>
#include <span>
#include <string>

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// Which element-wise function.
enum class ActivationKind { relu, tanh, sigmoid };

/// Parses `relu`, `tanh` or `sigmoid`. @throws std::invalid_argument for another name.
ActivationKind parse_activation(const std::string& name);
/// The name of @p kind.
std::string to_string(ActivationKind kind);

/// y = f(x) element-wise (@p y may be @p x itself). @param x, y the same shape (rows are samples).
void activate(ActivationKind kind, ConstMatrixMap x, MatrixMap y);
/// dx = dy ∘ f'(x), with f' computed from the output y = f(x): relu' = [y > 0], tanh' = 1 - y²,
/// sigmoid' = y(1 - y). @param y, dy, dx the same shape (@p dx may be @p dy itself).
void activation_gradient(ActivationKind kind, ConstMatrixMap y, ConstMatrixMap dy, MatrixMap dx);
/// relu's activation_gradient and base::round_to_bf16 in one pass (one read of y and dy, no fp32 dx):
/// dx16[i] = bf16(y[i] > 0 ? dy[i] : 0), the same bits as the two calls one after the other.
/// @throws std::invalid_argument naming the sizes when the three spans differ in size.
void relu_gradient_to_bf16(std::span<const float> y, std::span<const float> dy, std::span<std::uint16_t> dx16);

/// y = f(x) element-wise on any shape, with f' from the output: relu' = [y > 0], tanh' = 1 - y²,
/// sigmoid' = y(1 - y).
class Activation final : public Layer {
 public:
  /// @param name layer name (`activation`, `activation_1`, ...). @param shape input and output shape.
  /// @throws std::invalid_argument naming the layer for a dimension below 1.
  Activation(std::string name, ActivationKind kind, const Shape& shape);
  /// Which function.
  [[nodiscard]] ActivationKind kind() const { return kind_; }
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;

 private:
  ActivationKind kind_;
  std::int64_t rows_ = 0;
  RowMatrix y_;   // max_rows × features
  RowMatrix dx_;  // max_rows × features (0 × features without input gradient)
};

}  // namespace mpitrain::nn
