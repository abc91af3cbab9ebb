#pragma once
/// @file tensor.hpp
/// The batch layout, stated once for the project. A batch of samples is a row-major matrix of
/// rows × features: one row per sample (the batch dimension is the first), and features = the product of
/// the per-sample shape, flattened row-major with the channels last (an image of H × W × C is the row
/// h·W·C + w·C + c; a sequence of T tokens × C channels is t·C + c). One sample is one contiguous row.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace mpitrain::base {

/// Row-major float matrix; rows are samples (the batch dimension), columns are features.
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Row-major byte matrix of raw 8-bit values (pixels); rows are samples, columns are features.
using ByteMatrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Row-major matrix of bfloat16 values held as their bits (base/float16.hpp); rows are samples.
using Bf16Matrix = Eigen::Matrix<std::uint16_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Mutable view of a row-major rows × features block.
using MatrixMap = Eigen::Map<RowMatrix>;
/// Read-only view of a row-major rows × features block.
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

/// A tensor's shape, row-major. For an activation, the shape of one sample with the channels last (e.g.
/// {28, 28, 1} or {784}); the batch dimension is not part of it.
using Shape = std::vector<std::int64_t>;

/// The product of @p shape's dimensions (1 for an empty shape): a sample's features, or a tensor's elements.
/// @throws std::invalid_argument for a dimension below 1 or a product that overflows int64.
std::int64_t element_count(std::span<const std::int64_t> shape);

/// @p shape as text, e.g. `(28, 28, 1)` or `(784)`, for messages.
std::string format_shape(std::span<const std::int64_t> shape);

}  // namespace mpitrain::base
