#pragma once
/// @file image_specs.hpp
/// The specs of the layers on channels-last images (one sample H × W × C): convolution, pooling, flatten.
/// Alternatives of nn::LayerSpec (model_spec.hpp); their JSON keys are read and written in model_spec.cpp.
/// `type` is the JSON name; `keras_name`, where given, is the prefix of the layer's name (`max_pooling2d`,
/// `max_pooling2d_1`, ...), Keras's, so that Keras's load_weights(by_name=True) finds the layers.

#include <optional>
#include <string_view>

#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/window.hpp"

namespace mpitrain::nn {

/// A 2-D convolution (nn::Conv2D, Keras `Conv2D`): keys filters, kernel_size ([kh, kw] or one int),
/// strides (default 1), padding (valid | same, default valid), use_bias (default true), activation
/// (optional: relu | tanh | sigmoid, applied to the output).
struct Conv2DSpec {
  static constexpr std::string_view type = "conv2d";  ///< JSON `type`, and the layer name's prefix.
  std::int64_t filters = 0;                            ///< Output channels C_out (>= 1).
  Size2 kernel_size{1, 1};                             ///< (kh, kw), each >= 1.
  Size2 strides{1, 1};                                 ///< (sh, sw), each >= 1.
  Padding padding = Padding::valid;                    ///< Keras's padding.
  bool use_bias = true;                                ///< Whether the layer has a bias (C_out,).
  std::optional<ActivationKind> activation;            ///< Applied to the output, or none (linear).
  bool operator==(const Conv2DSpec&) const = default;
};

/// The fields of a 2-D pooling: keys pool_size ([ph, pw] or one int, default 2), strides (default
/// pool_size), padding (valid | same, default valid).
struct Pool2DFields {
  Size2 pool_size{2, 2};             ///< (ph, pw), each >= 1.
  Size2 strides{2, 2};               ///< (sh, sw), each >= 1.
  Padding padding = Padding::valid;  ///< Keras's padding.
  bool operator==(const Pool2DFields&) const = default;
};

/// Maximum over each window (nn::Pool2D, Keras `MaxPooling2D`).
struct MaxPool2DSpec : Pool2DFields {
  static constexpr std::string_view type = "max_pool2d";           ///< JSON `type`.
  static constexpr std::string_view keras_name = "max_pooling2d";  ///< The layer name's prefix.
  bool operator==(const MaxPool2DSpec&) const = default;
};

/// Mean over each window's cells inside the input (nn::Pool2D, Keras `AveragePooling2D`).
struct AvgPool2DSpec : Pool2DFields {
  static constexpr std::string_view type = "avg_pool2d";               ///< JSON `type`.
  static constexpr std::string_view keras_name = "average_pooling2d";  ///< The layer name's prefix.
  bool operator==(const AvgPool2DSpec&) const = default;
};

/// Mean over all pixels, H × W × C -> C (nn::GlobalAvgPool2D, Keras `GlobalAveragePooling2D`). No keys.
struct GlobalAvgPool2DSpec {
  static constexpr std::string_view type = "global_avg_pool2d";                ///< JSON `type`.
  static constexpr std::string_view keras_name = "global_average_pooling2d";  ///< The layer name's prefix.
  bool operator==(const GlobalAvgPool2DSpec&) const = default;
};

/// Any shape to one dimension, the row unchanged (nn::Flatten, Keras `Flatten`, channels-last). No keys.
struct FlattenSpec {
  static constexpr std::string_view type = "flatten";  ///< JSON `type`, and the layer name's prefix.
  bool operator==(const FlattenSpec&) const = default;
};

}  // namespace mpitrain::nn
