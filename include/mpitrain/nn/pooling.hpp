#pragma once
/// @file pooling.hpp
/// Pooling on channels-last images: max and average over sliding windows (Keras `MaxPooling2D`,
/// `AveragePooling2D`) and the global average (Keras `GlobalAveragePooling2D`). No parameters.

#include <cstdint>
#include <vector>

#include "mpitrain/nn/image_specs.hpp"
#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/window.hpp"

namespace mpitrain::nn {

class Conv2D;

/// Which reduction a Pool2D applies over a window.
enum class PoolKind {
  max,      ///< The largest value; backward routes dy to the first arg-max cell (row-major window order).
  average,  ///< The mean over the window's cells inside the input (padding is not counted, as Keras).
};

/// Pooling from H × W × C to Ho × Wo × C per sample, channel by channel, over windows of pool_size moved by
/// strides, sized and padded as Keras does (window.hpp). Padding cells take no part: a max is over the cells
/// inside the input, an average divides by their number.
class Pool2D final : public Layer {
 public:
  /// @param name layer name (`max_pooling2d`, `average_pooling2d_1`, ...). @param input_shape (H, W, C).
  /// @throws std::invalid_argument naming the layer and the shapes for an input that is not (H, W, C), a
  ///         size below 1, a pool larger than the input under padding valid, or a pool of more than
  ///         65536 cells.
  Pool2D(std::string name, PoolKind kind, const Shape& input_shape, const Pool2DFields& fields);
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;
  /// Where the pool slides.
  [[nodiscard]] const Window2D& window() const { return window_; }
  /// Max or average.
  [[nodiscard]] PoolKind kind() const { return kind_; }
  /// Fusion with the relu convolution @p conv before this max pooling (Model sets it, and tells @p conv,
  /// Conv2D::set_relu_gradient_by_next_layer; nullptr undoes it): backward then returns dy routed to the
  /// arg-max cell only where the pooled output is > 0, which is the gradient with respect to the relu's
  /// input, since max(relu(z)) = relu(max(z)) and the arg-max cell's relu output is the pooled value; the
  /// convolution skips its own pass over relu's mask. When the windows tile the input and @p conv computes in
  /// bf16, backward writes the rounded gradient straight into @p conv's buffer (Conv2D::bf16_gradient_sink)
  /// and the dx it returns is not written. @throws std::logic_error for average pooling.
  void set_relu_before(Conv2D* conv);

 private:
  // The window of output pixel (oh, ow) clipped to the input: rows [i0, i1) and columns [j0, j1).
  struct Cells {
    std::int64_t i0, i1, j0, j1;
  };
  [[nodiscard]] Cells cells(std::int64_t oh, std::int64_t ow) const;

  PoolKind kind_;
  Window2D window_;
  Conv2D* relu_conv_ = nullptr;  // set_relu_before
  std::int64_t rows_ = 0;
  RowMatrix y_;                     // max_rows × (Ho·Wo·C)
  std::vector<std::uint16_t> arg_max_;  // max pool: per output element, its arg-max's cell in the clipped
                                        // window, row-major (2 bytes: memory traffic is the cost here)
  RowMatrix dx_;                    // max_rows × (H·W·C) (0 rows without input gradient)
  std::vector<float> masked_;       // C: one output pixel's dy under relu's mask (set_relu_before)
};

/// The mean over all pixels, H × W × C -> C per sample: y[c] = Σ_{h, w} x[h, w, c] / (H·W); backward gives
/// every pixel dy[c] / (H·W).
class GlobalAvgPool2D final : public Layer {
 public:
  /// @param name layer name (`global_average_pooling2d`, ...). @param input_shape (H, W, C).
  /// @throws std::invalid_argument naming the layer and the shape for an input that is not (H, W, C).
  GlobalAvgPool2D(std::string name, const Shape& input_shape);
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;

 private:
  std::int64_t rows_ = 0;
  RowMatrix y_;   // max_rows × C
  RowMatrix dx_;  // max_rows × (H·W·C) (0 rows without input gradient)
};

}  // namespace mpitrain::nn
