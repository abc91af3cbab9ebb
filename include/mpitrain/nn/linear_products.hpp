#pragma once
/// @file linear_products.hpp
/// The three matrix products of a layer that is linear in its input, y = x·W (a dense layer, and a
/// convolution on its im2col patches), at the run's precision, through the kernel seam (matmul.hpp).

#include <cstdint>

#include <Eigen/Core>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/nn/matmul.hpp"

namespace mpitrain::nn {

/// Forward Y = X·W, weight gradient dW += Xᵀ·dY and input gradient dX = dY·Wᵀ, with X rows × inputs (rows
/// are samples, or a convolution's patches), W inputs × outputs (row-major, the Keras kernel layout), Y and
/// dY rows × outputs. With Precision::bf16, X, W and dY are rounded to bf16 once each (X and W in forward,
/// kept for backward; dY in backward) and every product accumulates in fp32 into fp32 outputs.
/// Contract: reserve before the first forward; backward needs the forward of the same batch and the same W
/// just before it (in bf16 the copies of X and W made by forward are reused). Steady-state calls allocate no memory of ours.
class LinearProducts {
 public:
  LinearProducts();

  /// Sizes the work memory for up to @p max_rows rows of @p inputs → @p outputs at @p precision.
  void reserve(std::int64_t max_rows, std::int64_t inputs, std::int64_t outputs, Precision precision);
  /// y = x·w. @param x rows × inputs. @param w inputs × outputs. @param y rows × outputs (written).
  /// @throws std::invalid_argument at bf16 when x has more rows than reserve() allowed.
  void forward(base::ConstMatrixMap x, const float* w, base::MatrixMap y);
  /// dw += xᵀ·dy when @p dw is not null and dx = dy·wᵀ when @p dx is not null. @param x the last forward's
  /// input, rows × inputs. @param dy rows × outputs. @param w the last forward's weights.
  /// @param dw inputs × outputs (added to), or null. @param dx rows × inputs (written), or null. @throws std::invalid_argument when dy's rows differ from
  ///        the last forward's.
  void backward(base::ConstMatrixMap x, base::ConstMatrixMap dy, const float* w, float* dw, float* dx);

 private:
  using Bf16Matrix = base::Bf16Matrix;

  Precision precision_ = Precision::fp32;
  std::int64_t inputs_ = 0;
  std::int64_t outputs_ = 0;
  MatrixProduct forward_;          // Y = X·W
  MatrixProduct weight_gradient_;  // dW += Xᵀ·dY
  MatrixProduct input_gradient_;   // dX = dY·Wᵀ
  Bf16Matrix x16_;                 // bf16: max_rows × inputs, the last forward's X
  Bf16Matrix w16_;                 // bf16: inputs × outputs, the last forward's W
  Bf16Matrix dy16_;                // bf16: max_rows × outputs, the last backward's dY
  std::int64_t rows_ = 0;          // rows of the last forward
};

}  // namespace mpitrain::nn
