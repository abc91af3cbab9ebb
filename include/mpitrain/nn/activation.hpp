#pragma once
/// @file activation.hpp
/// Element-wise activations as parameter-free layers.

#include <cstdint>
#include <span>
#include <string>

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// Which element-wise function. gelu is GELU's tanh approximation (Hendrycks and Gimpel, "Gaussian Error
/// Linear Units", 2016, eq. in section 2; GPT-2's `gelu`, PyTorch's `GELU(approximate='tanh')`):
/// gelu(x) = x/2 · (1 + tanh(sqrt(2/π) · (x + 0.044715 x³))).
enum class ActivationKind { relu, tanh, sigmoid, gelu };

/// sqrt(2/π) and 0.044715: the constants of gelu's tanh approximation.
inline constexpr float gelu_a = 0.7978845608028654f;
inline constexpr float gelu_b = 0.044715f;

/// Parses `relu`, `tanh`, `sigmoid` or `gelu`. @throws std::invalid_argument for another name.
ActivationKind parse_activation(const std::string& name);
/// The name of @p kind.
std::string to_string(ActivationKind kind);

/// y = f(x) element-wise (@p y may be @p x itself). @param x, y the same shape (rows are samples).
void activate(ActivationKind kind, ConstMatrixMap x, MatrixMap y);
/// dx = dy ∘ f'(x), with f' computed from the output y = f(x): relu' = [y > 0], tanh' = 1 - y²,
/// sigmoid' = y(1 - y). @param y, dy, dx the same shape (@p dx may be @p dy itself).
/// @throws std::logic_error for gelu, whose derivative needs x (gelu_gradient).
void activation_gradient(ActivationKind kind, ConstMatrixMap y, ConstMatrixMap dy, MatrixMap dx);
/// dx = dy ∘ gelu'(x), with t = tanh(a (x + b x³)): gelu'(x) = (1 + t)/2 + x/2 · (1 − t²) · a (1 + 3 b x²).
/// @param x the input of the forward pass; x, dy, dx the same shape.
void gelu_gradient(ConstMatrixMap x, ConstMatrixMap dy, MatrixMap dx);
/// relu's activation_gradient and base::round_to_bf16 in one pass (one read of y and dy, no fp32 dx):
/// dx16[i] = bf16(y[i] > 0 ? dy[i] : 0), the same bits as the two calls one after the other.
/// @throws std::invalid_argument naming the sizes when the three spans differ in size.
void relu_gradient_to_bf16(std::span<const float> y, std::span<const float> dy, std::span<std::uint16_t> dx16);

/// activate(gelu) and base::round_to_bf16 in one pass over blocks that stay in the cache (no fp32 y written):
/// y16[i] = bf16(gelu(x[i])), the same bits as the two calls one after the other.
/// @throws std::invalid_argument naming the sizes when the spans differ in size.
void gelu_to_bf16(std::span<const float> x, std::span<std::uint16_t> y16);
/// gelu_gradient and base::round_to_bf16 in one pass likewise: dx16[i] = bf16(dy[i]·gelu'(x[i])), the same bits
/// as the two calls one after the other. @throws std::invalid_argument naming the sizes when they differ.
void gelu_gradient_to_bf16(std::span<const float> x, std::span<const float> dy, std::span<std::uint16_t> dx16);

/// y = f(x) element-wise on any shape, with f' from the output: relu' = [y > 0], tanh' = 1 - y²,
/// sigmoid' = y(1 - y); gelu's from the input (gelu_gradient), which backward then needs alive.
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
  const float* input_ = nullptr;  // rows_ × features, the last forward's x (gelu's backward reads it)
  RowMatrix y_;   // max_rows × features
  RowMatrix dx_;  // max_rows × features (0 × features without input gradient)
};

}  // namespace mpitrain::nn
