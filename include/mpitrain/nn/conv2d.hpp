#pragma once
/// @file conv2d.hpp
/// 2-D convolution on channels-last images (Keras `Conv2D`), computed by oneDNN's convolution primitives
/// through the kernel seam (convolution_kernel.hpp).

#include <cstdint>
#include <optional>
#include <span>

#include "mpitrain/nn/image_specs.hpp"
#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/convolution_kernel.hpp"
#include "mpitrain/nn/window.hpp"

namespace mpitrain::nn {

/// Conv2D from H × W × C_in to Ho × Wo × C_out per sample (both channels last: a row of the activation
/// matrix is one sample, h·W·C + w·C + c). Kernel K of shape (kh, kw, C_in, C_out), Keras's layout,
/// Glorot-uniform with Keras's fans (fan_in = kh·kw·C_in, fan_out = kh·kw·C_out), weight decay applies;
/// bias b (C_out,), zeros, when use_bias. Output sizes and padding as Keras computes them (window.hpp).
///
/// y[oh, ow, o] = f(b[o] + Σ_{i, j, c} x[oh·sh - pad_top + i, ow·sw - pad_left + j, c] · K[i, j, c, o]), x
/// zero outside the input, f the optional activation. Backward, with dZ = dY ∘ f'(y): adds dK (the
/// correlation of x with dZ) and db += Σ dZ, and returns dx (dZ convolved with the flipped kernel). At
/// precision() bf16, x, K and dZ are rounded to bf16 once each (base::round_to_bf16) and outputs stay fp32;
/// db then sums the rounded dZ, as dK does. relu runs inside the convolution primitive (a oneDNN post-op), and
/// its gradient mask is applied in the same pass as the bf16 rounding of dZ, or by a max pooling that follows
/// (set_relu_gradient_by_next_layer): the largest activations of a CNN are read and written fewer times.
class Conv2D final : public Layer {
 public:
  /// @param name layer name (`conv2d`, `conv2d_1`, ...), prefix of its tensors (`conv2d/kernel:0`).
  /// @param input_shape (H, W, C_in). @param spec filters, kernel size, strides, padding, bias, activation.
  /// @throws std::invalid_argument naming the layer and the shapes for an input that is not (H, W, C), a
  ///         size below 1, or a kernel larger than the input under padding valid.
  Conv2D(std::string name, const Shape& input_shape, const Conv2DSpec& spec);
  void register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) override;
  void bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) override;
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;
  /// 2·(Ho·Wo)·(kh·kw·C_in)·C_out each for the forward pass and dK, and for dx when input_gradient() is on
  /// (the products of the im2col formulation, as Dense counts its own).
  [[nodiscard]] std::int64_t flops_per_sample() const override;
  /// Where the kernel slides.
  [[nodiscard]] const Window2D& window() const { return window_; }
  /// The activation applied to the output, if any.
  [[nodiscard]] const std::optional<ActivationKind>& activation() const { return activation_; }
  /// Fusion (Model sets it, with Pool2D::set_relu_before on the max pooling that follows a relu convolution):
  /// the dy given to backward is already the gradient with respect to the pre-activation output, so
  /// backward skips relu's mask. @throws std::logic_error when the activation is not relu.
  void set_relu_gradient_by_next_layer(bool fused);
  /// For the max pooling fused with this layer: at bf16, the buffer where it may write the rounded dZ of the
  /// coming backward (rows × outputs(), row-major); backward then uses it as it is and ignores its dy.
  /// Empty at fp32 or without set_relu_gradient_by_next_layer (the pooling then returns dZ as dx).
  [[nodiscard]] std::span<std::uint16_t> bf16_gradient_sink(std::int64_t rows);

 private:
  std::int64_t patch_size() const { return window_.kernel_h * window_.kernel_w * window_.channels; }

  Window2D window_;
  std::int64_t filters_;
  bool use_bias_;
  std::optional<ActivationKind> activation_;
  bool relu_gradient_by_next_ = false;  // set_relu_gradient_by_next_layer
  bool dz16_written_ = false;           // bf16_gradient_sink was handed out for the coming backward
  std::int64_t kernel_offset_ = 0;  // within the buffers given to bind
  std::int64_t bias_offset_ = 0;
  float* kernel_ = nullptr;         // (kh·kw·C_in) × C_out
  float* bias_ = nullptr;           // C_out, or null without bias
  float* kernel_grad_ = nullptr;    // (kh·kw·C_in) × C_out
  float* bias_grad_ = nullptr;      // C_out, or null without bias
  std::int64_t rows_ = 0;           // samples in the last forward
  const float* input_ = nullptr;    // rows_ × (H·W·C_in), the last forward's x
  ConvolutionKernel convolution_;
  RowMatrix y_;                     // max_rows × (Ho·Wo·C_out)
  RowMatrix dz_;                    // max_rows × (Ho·Wo·C_out), dY ∘ f'(y) (0 rows without activation)
  RowMatrix dx_;                    // max_rows × (H·W·C_in) (0 rows without input gradient)
  base::Bf16Matrix x16_;            // bf16: max_rows × (H·W·C_in), the last forward's x rounded
  base::Bf16Matrix kernel16_;       // bf16: 1 × (kh·kw·C_in·C_out), the last forward's K rounded
  base::Bf16Matrix dz16_;           // bf16: max_rows × (Ho·Wo·C_out), the last backward's dZ rounded
};

}  // namespace mpitrain::nn
