#pragma once
/// @file linear_products.hpp
/// The three matrix products of a layer that is linear in its input, y = x·W (a dense layer, and a
/// convolution on its im2col patches) or y = x·Wᵀ (the output layer tied to a token table), at the run's
/// precision, through the kernel seam (matmul.hpp).

#include <cstdint>
#include <span>

#include <Eigen/Core>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/nn/matmul.hpp"

namespace mpitrain::nn {

/// How a LinearProducts' weight matrix W is stored (row-major, dense).
enum class WeightLayout {
  inputs_by_outputs,  ///< W inputs × outputs, the Keras kernel layout (Dense, a convolution's im2col kernel).
  outputs_by_inputs,  ///< W outputs × inputs, PyTorch's nn.Linear layout and a tied token table (V × C).
};

/// The three products of a linear map of rows, with X rows × inputs (rows are samples, a sequence's token
/// positions, or a convolution's patches) and Y, dY rows × outputs:
/// - WeightLayout::inputs_by_outputs, W inputs × outputs: forward Y = X·W, weight gradient dW += Xᵀ·dY
///   (dW inputs × outputs), input gradient dX = dY·Wᵀ;
/// - WeightLayout::outputs_by_inputs, W outputs × inputs: forward Y = X·Wᵀ, weight gradient dW += dYᵀ·X
///   (dW outputs × inputs), input gradient dX = dY·W.
/// Both compute the same map; only the storage of W (and so of dW) differs. With Precision::bf16, X, W and
/// dY are rounded to bf16 once each (X and W in forward, kept for backward; dY in backward) and every
/// product accumulates in fp32 into fp32 outputs.
/// Contract: reserve before the first forward; backward needs the forward of the same batch and the same W
/// just before it (in bf16 the copies of X and W made by forward are reused). Steady-state calls allocate no memory of ours.
class LinearProducts {
 public:
  /// @param layout how W (and dW) is stored; the default is the Keras kernel layout.
  explicit LinearProducts(WeightLayout layout = WeightLayout::inputs_by_outputs);

  /// Sizes the work memory for up to @p max_rows rows of @p inputs → @p outputs at @p precision.
  void reserve(std::int64_t max_rows, std::int64_t inputs, std::int64_t outputs, Precision precision);
  /// y = x·w (inputs_by_outputs) or y = x·wᵀ (outputs_by_inputs). @param x rows × inputs. @param w inputs ×
  /// outputs or outputs × inputs, as the layout says. @param y rows × outputs (written).
  /// @throws std::invalid_argument at bf16 when x has more rows than reserve() allowed.
  void forward(base::ConstMatrixMap x, const float* w, base::MatrixMap y);
  /// The weight gradient, added to @p dw when it is not null (dw += xᵀ·dy for inputs_by_outputs, dw += dyᵀ·x
  /// for outputs_by_inputs), and the input gradient, written to @p dx when it is not null (dx = dy·wᵀ for
  /// inputs_by_outputs, dx = dy·w for outputs_by_inputs). @param x the last forward's input, rows × inputs.
  /// @param dy rows × outputs. @param w the last forward's weights. @param dw shaped as w (added to), or null.
  /// @param dx rows × inputs (written), or null. @throws std::invalid_argument when dy's rows differ from the
  ///        last forward's.
  void backward(base::ConstMatrixMap x, base::ConstMatrixMap dy, const float* w, float* dw, float* dx);

  /// At bf16, for a producer that rounds X itself as it computes it (LayerNorm::forward_rounded, gelu_to_bf16,
  /// CausalSelfAttention::forward_rounded), saving a pass: the buffer of the rounded X, @p rows × inputs;
  /// then forward_rounded. @throws std::logic_error at fp32; std::invalid_argument for more rows than
  /// reserve() allowed.
  [[nodiscard]] std::span<std::uint16_t> rounded_input(std::int64_t rows);
  /// forward() on the X a producer wrote into rounded_input(@p rows): y = x̃·w̃ (or x̃·w̃ᵀ), plus @p bias
  /// (outputs values added to every row by the product itself, when not null); w rounded here.
  /// @throws as rounded_input.
  void forward_rounded(std::int64_t rows, const float* w, base::MatrixMap y, const float* bias = nullptr);
  /// At bf16, likewise for dY (gelu_gradient_to_bf16, CausalSelfAttention::backward_rounded): the buffer of
  /// the rounded dY, the last forward's rows × outputs; then backward_rounded. @throws std::logic_error at fp32.
  [[nodiscard]] std::span<std::uint16_t> rounded_output_gradient();
  /// backward() on the dY a producer wrote into rounded_output_gradient() (and the last forward's rounded X
  /// and W): @p dw and @p dx as in backward(). @throws std::logic_error at fp32.
  void backward_rounded(float* dw, float* dx);

 private:
  using Bf16Matrix = base::Bf16Matrix;

  // backward's products on fp32 (T = float) or bf16 (T = std::uint16_t) operands, as the layout says.
  template <typename T>
  void products(const T* x, const T* dy, const T* w, float* dw, float* dx, std::int64_t rows);

  WeightLayout layout_;
  Precision precision_ = Precision::fp32;
  std::int64_t inputs_ = 0;
  std::int64_t outputs_ = 0;
  MatrixProduct forward_;          // Y = X·W (Y = X·Wᵀ)
  MatrixProduct weight_gradient_;  // dW += Xᵀ·dY (dW += dYᵀ·X)
  MatrixProduct input_gradient_;   // dX = dY·Wᵀ (dX = dY·W)
  Bf16Matrix x16_;                 // bf16: max_rows × inputs, the last forward's X
  Bf16Matrix w16_;                 // bf16: the last forward's W, stored as the layout says
  Bf16Matrix dy16_;                // bf16: max_rows × outputs, the last backward's dY
  std::int64_t rows_ = 0;          // rows of the last forward
};

}  // namespace mpitrain::nn
