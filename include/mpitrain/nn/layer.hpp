#pragma once
/// @file layer.hpp
/// The layer interface. Activations are row-major batch × features (rows are samples; base/tensor.hpp).

#include <cstdint>
#include <span>
#include <string>

#include <Eigen/Core>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::nn {

using base::ConstMatrixMap;
using base::MatrixMap;
using base::RowMatrix;

/// A differentiable layer.
/// Contract: reserve() before the first forward; backward(dy) needs the forward() of the same batch just
/// before it and reads the input that forward saw (the caller keeps it alive). backward writes (does not
/// add) the gradients of this layer's parameters, summed over the rows of the batch, into the gradient
/// buffer given to bind(). Steady-state forward and backward allocate no memory.
class Layer {
 public:
  virtual ~Layer() = default;
  /// Name, e.g. `dense_1` or `relu`.
  [[nodiscard]] virtual std::string name() const = 0;
  /// Input features per sample.
  [[nodiscard]] virtual std::int64_t inputs() const = 0;
  /// Output features per sample.
  [[nodiscard]] virtual std::int64_t outputs() const = 0;
  /// Adds this layer's tensors to @p registry (nothing for parameter-free layers).
  virtual void register_parameters(ParameterRegistry& registry) = 0;
  /// Points the layer at its tensors in the model's flat buffers (laid out per register_parameters).
  virtual void bind(std::span<float> params, std::span<float> grads) = 0;
  /// Allocates work buffers for batches of up to @p max_rows samples.
  virtual void reserve(std::int64_t max_rows) = 0;
  /// y = f(x). @param x rows × inputs(). @return rows × outputs(), valid until the next forward.
  virtual ConstMatrixMap forward(ConstMatrixMap x) = 0;
  /// dx from dy. @param dy rows × outputs() (rows as in the last forward).
  /// @return dx, rows × inputs(), valid until the next backward.
  virtual ConstMatrixMap backward(ConstMatrixMap dy) = 0;
};

}  // namespace mpitrain::nn
