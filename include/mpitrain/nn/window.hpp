#pragma once
/// @file window.hpp
/// The geometry of a 2-D window (a convolution kernel or a pooling window) sliding over a channels-last
/// image of one sample (H × W × C, base/tensor.hpp), with Keras's (TensorFlow's) padding rules.

#include <array>
#include <cstdint>
#include <string>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::nn {

/// Keras's `padding` of a sliding window.
enum class Padding {
  valid,  ///< No padding: only windows wholly inside the input; Ho = floor((H - kh) / sh) + 1.
  same,   ///< Ho = ceil(H / sh); the rows missing, total = max((Ho - 1)·sh + kh - H, 0), are added as
          ///< total // 2 on top and the rest at the bottom (one more at the bottom for an odd total), and
          ///< likewise for the columns (TensorFlow's `SAME`, tf.nn.convolution's documentation).
};

/// Parses `valid` or `same`. @throws std::invalid_argument for another name.
Padding parse_padding(const std::string& name);
/// The name of @p padding.
std::string to_string(Padding padding);

/// A (height, width) pair: a kernel or pool size, or strides.
using Size2 = std::array<std::int64_t, 2>;

/// Where a window slides over one sample's H × W × C input. Output pixel (oh, ow) covers the input rows
/// oh·stride_h - pad_top + i, 0 <= i < kernel_h, and columns ow·stride_w - pad_left + j, 0 <= j < kernel_w;
/// a row or column outside [0, H) × [0, W) is padding.
struct Window2D {
  std::int64_t in_h = 0, in_w = 0, channels = 0;  ///< The input H, W, C.
  std::int64_t kernel_h = 0, kernel_w = 0;        ///< The window's size.
  std::int64_t stride_h = 0, stride_w = 0;        ///< Its steps.
  std::int64_t pad_top = 0, pad_left = 0;         ///< Padding before the first row and column.
  std::int64_t out_h = 0, out_w = 0;              ///< The output's H and W.

  /// Output pixels per sample: out_h·out_w.
  [[nodiscard]] std::int64_t positions() const { return out_h * out_w; }
  /// The first input row of output row @p oh (may be negative: padding).
  [[nodiscard]] std::int64_t row_start(std::int64_t oh) const { return oh * stride_h - pad_top; }
  /// The first input column of output column @p ow (may be negative: padding).
  [[nodiscard]] std::int64_t col_start(std::int64_t ow) const { return ow * stride_w - pad_left; }
  bool operator==(const Window2D&) const = default;
};

/// The window of size @p kernel and @p strides over @p input (H, W, C) under @p padding.
/// @param layer, type name the layer in messages: "layer conv2d_1 (conv2d): ...".
/// @param what "kernel" or "pool", for the messages.
/// @throws std::invalid_argument naming the layer and the shapes for an input that is not three-dimensional,
///         a size or stride below 1, or (under `valid`) a window larger than the input.
Window2D window_2d(const std::string& layer, const std::string& type, const char* what, const base::Shape& input,
                   Size2 kernel, Size2 strides, Padding padding);

}  // namespace mpitrain::nn
