#pragma once
/// @file convolution_kernel.hpp
/// The kernel seam for 2-D convolutions: forward, data gradient and weight gradient as oneDNN convolution
/// primitives (`convolution_forward`, `convolution_backward_data`, `convolution_backward_weights`), on
/// channels-last activations (base/tensor.hpp: a sample is H × W × C, row-major, as oneDNN's `nhwc`) and a
/// Keras-layout kernel (kh, kw, C_in, C_out: oneDNN's `hwio`), reordered each call into the layout the
/// primitive prefers. Primitives are created once per number of rows and cached; work memory is owned here.

#include <cstdint>
#include <memory>

#include "mpitrain/nn/matmul.hpp"
#include "mpitrain/nn/window.hpp"

namespace mpitrain::nn {

/// y[n, oh, ow, o] = b[o] + Σ_{i, j, c} x[n, oh·sh - pad_top + i, ow·sw - pad_left + j, c] · K[i, j, c, o],
/// x zero outside the image, for the window and filters given; and its gradients. With Precision::bf16 the
/// caller passes x, K and dy as bf16 bits (base::float_to_bf16) and every output stays fp32.
/// Not thread-safe: one caller at a time.
class ConvolutionKernel {
 public:
  /// @param window the input H, W, C_in, kernel size, strides and Keras's padding. @param filters C_out.
  /// @param bias whether forward adds b and backward_weights sums db.
  /// @param relu whether forward applies max(·, 0) to its output, fused into the primitive (oneDNN's eltwise
  ///        post-op: one pass over y instead of two; the backward passes take dy as given, masked by the caller).
  ConvolutionKernel(const Window2D& window, std::int64_t filters, bool bias, bool relu = false);
  ~ConvolutionKernel();
  ConvolutionKernel(ConvolutionKernel&&) noexcept;
  ConvolutionKernel& operator=(ConvolutionKernel&&) noexcept;
  ConvolutionKernel(const ConvolutionKernel&) = delete;
  ConvolutionKernel& operator=(const ConvolutionKernel&) = delete;

  /// Sets the element type of x, K and dy (default fp32) for the calls that follow.
  void set_precision(Precision precision);

  /// y = conv(x, K) + b, or max(conv(x, K) + b, 0) with relu. @param x rows × (H·W·C_in) (fp32, or bf16 bits). @param kernel (kh, kw, C_in, C_out)
  /// (fp32, or bf16 bits). @param bias C_out (fp32; ignored without bias). @param y rows × (Ho·Wo·C_out),
  /// written. @throws std::runtime_error naming the shapes when oneDNN has no implementation for them.
  void forward(const void* x, const void* kernel, const float* bias, float* y, std::int64_t rows);
  /// dx = the gradient of Σ dy·y with respect to x. @param dy rows × (Ho·Wo·C_out). @param dx rows ×
  /// (H·W·C_in), written (fp32). @throws std::runtime_error as forward.
  void backward_data(const void* dy, const void* kernel, float* dx, std::int64_t rows);
  /// dK += Σ over rows and positions of x-patch ⊗ dy; db += Σ dy (when bias). @param x, @param dy as in
  /// forward and backward_data. @param dk (kh, kw, C_in, C_out), added to. @param db C_out, added to
  /// (ignored without bias). @throws std::runtime_error as forward.
  void backward_weights(const void* x, const void* dy, float* dk, float* db, std::int64_t rows);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpitrain::nn
