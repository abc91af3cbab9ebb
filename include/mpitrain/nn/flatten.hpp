#pragma once
/// @file flatten.hpp
/// Flatten (Keras `Flatten`): any per-sample shape to one dimension.

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// Any shape (e.g. H × W × C) to (H·W·C). Rows are already flat and channels-last (base/tensor.hpp), so the
/// row is unchanged: forward returns its input and backward its output gradient, without copying, and a
/// following Dense kernel has the row order of Keras's channels-last Flatten.
class Flatten final : public Layer {
 public:
  /// @param name layer name (`flatten`, `flatten_1`, ...). @param input_shape any shape.
  /// @throws std::invalid_argument naming the layer for a dimension below 1.
  Flatten(std::string name, const Shape& input_shape);
  void reserve(std::int64_t max_rows) override;
  /// @return @p x itself (valid while the caller keeps x).
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  /// @return @p dy itself, or 0 rows without input gradient.
  ConstMatrixMap backward(ConstMatrixMap dy) override;
};

}  // namespace mpitrain::nn
