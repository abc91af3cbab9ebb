#include "mpitrain/nn/pooling.hpp"

#include "mpitrain/base/float16.hpp"
#include "mpitrain/nn/conv2d.hpp"

#include <algorithm>
#include <stdexcept>

namespace mpitrain::nn {

namespace {
const char* type_of(PoolKind kind) { return kind == PoolKind::max ? "max_pool2d" : "avg_pool2d"; }

Window2D pool_window(const std::string& name, PoolKind kind, const Shape& input_shape, const Pool2DFields& f) {
  return window_2d(name, type_of(kind), "pool", input_shape, f.pool_size, f.strides, f.padding);
}

Shape pool_output(const std::string& name, PoolKind kind, const Shape& input_shape, const Pool2DFields& f) {
  const Window2D w = pool_window(name, kind, input_shape, f);
  return {w.out_h, w.out_w, w.channels};
}

Shape global_output(const std::string& name, const Shape& input_shape) {
  if (input_shape.size() != 3) {
    throw std::invalid_argument("layer " + name + " (global_avg_pool2d): input shape " +
                                base::format_shape(input_shape) + " is not three-dimensional (height, width, channels)");
  }
  return {input_shape[2]};
}
}  // namespace

Pool2D::Pool2D(std::string name, PoolKind kind, const Shape& input_shape, const Pool2DFields& fields)
    : Layer(name, input_shape, pool_output(name, kind, input_shape, fields)),
      kind_(kind),
      window_(pool_window(this->name(), kind, input_shape, fields)) {
  if (window_.kernel_h * window_.kernel_w > 65536) {
    throw std::invalid_argument("layer " + this->name() + " (" + type_of(kind) + "): a pool of " +
                                std::to_string(window_.kernel_h) + " x " + std::to_string(window_.kernel_w) +
                                " cells is larger than the 65536 cells supported");
  }
}

void Pool2D::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  const auto elements = static_cast<std::size_t>(max_rows * outputs());
  if (kind_ == PoolKind::max && arg_max_.size() < elements) arg_max_.resize(elements);
  masked_.resize(static_cast<std::size_t>(window_.channels));
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

void Pool2D::set_relu_before(Conv2D* conv) {
  if (conv != nullptr && kind_ != PoolKind::max) {
    throw std::logic_error("layer " + name() + ": only max pooling takes relu's gradient mask");
  }
  relu_conv_ = conv;
}

Pool2D::Cells Pool2D::cells(std::int64_t oh, std::int64_t ow) const {
  const Window2D& w = window_;
  const std::int64_t top = w.row_start(oh), left = w.col_start(ow);
  // Never empty: under `same` the padding before is less than a window (window.hpp), under `valid` zero.
  return {std::max<std::int64_t>(top, 0), std::min(top + w.kernel_h, w.in_h), std::max<std::int64_t>(left, 0),
          std::min(left + w.kernel_w, w.in_w)};
}

ConstMatrixMap Pool2D::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  const Window2D& w = window_;
  const std::int64_t c = w.channels;
  for (std::int64_t n = 0; n < rows_; ++n) {
    const float* image = x.data() + n * inputs();
    for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < w.out_w; ++ow) {
        const std::int64_t o = n * outputs() + (oh * w.out_w + ow) * c;  // the pixel's first element in y_
        float* out = y_.data() + o;
        const Cells cl = cells(oh, ow);
        if (kind_ == PoolKind::max) {
          // The first cell, then a later one only where it is strictly larger: ties keep the first. The
          // arg-max is kept as the cell's number in the clipped window, row-major.
          const float* first = image + (cl.i0 * w.in_w + cl.j0) * c;
          std::uint16_t* arg = arg_max_.data() + o;
          for (std::int64_t k = 0; k < c; ++k) {
            out[k] = first[k];
            arg[k] = 0;
          }
          std::uint16_t cell = 0;
          for (std::int64_t i = cl.i0; i < cl.i1; ++i) {
            for (std::int64_t j = cl.j0; j < cl.j1; ++j, ++cell) {
              const float* pixel = image + (i * w.in_w + j) * c;
              for (std::int64_t k = 0; k < c; ++k) {  // branch-free, so that it vectorises
                const bool larger = pixel[k] > out[k];
                out[k] = larger ? pixel[k] : out[k];
                arg[k] = larger ? cell : arg[k];
              }
            }
          }
        } else {
          std::fill_n(out, c, 0.0f);
          for (std::int64_t i = cl.i0; i < cl.i1; ++i) {
            for (std::int64_t j = cl.j0; j < cl.j1; ++j) {
              const float* pixel = image + (i * w.in_w + j) * c;
              for (std::int64_t k = 0; k < c; ++k) out[k] += pixel[k];
            }
          }
          const auto count = static_cast<float>((cl.i1 - cl.i0) * (cl.j1 - cl.j0));
          for (std::int64_t k = 0; k < c; ++k) out[k] /= count;
        }
      }
    }
  }
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap Pool2D::backward(ConstMatrixMap dy) {
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  const Window2D& w = window_;
  const std::int64_t c = w.channels;
  // Windows that tile the input exactly write every element of dx once; otherwise dx is zeroed and added to.
  const bool tiles = kind_ == PoolKind::max && w.stride_h == w.kernel_h && w.stride_w == w.kernel_w &&
                     w.pad_top == 0 && w.pad_left == 0 && w.out_h * w.kernel_h == w.in_h &&
                     w.out_w * w.kernel_w == w.in_w;
  // Fused with a bf16 relu convolution before it, a tiling max pooling writes that layer's rounded dZ
  // itself (Conv2D::bf16_gradient_sink); the dx it returns is then not written.
  const std::span<std::uint16_t> sink =
      tiles && relu_conv_ != nullptr ? relu_conv_->bf16_gradient_sink(rows_) : std::span<std::uint16_t>();
  if (!tiles) std::fill_n(dx_.data(), rows_ * inputs(), 0.0f);
  for (std::int64_t n = 0; n < rows_; ++n) {
    float* image = dx_.data() + n * inputs();
    std::uint16_t* image16 = sink.empty() ? nullptr : sink.data() + n * inputs();
    const float* g = dy.data() + n * outputs();
    if (kind_ == PoolKind::max) {
      const std::uint16_t* arg = arg_max_.data() + n * outputs();
      const float* pooled = y_.data() + n * outputs();
      for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
        for (std::int64_t ow = 0; ow < w.out_w; ++ow, g += c, arg += c, pooled += c) {
          const Cells cl = cells(oh, ow);
          const float* gate = g;
          if (relu_conv_ != nullptr) {  // relu's mask, applied once per output element (set_relu_before)
            for (std::int64_t k = 0; k < c; ++k) masked_[static_cast<std::size_t>(k)] = pooled[k] > 0.0f ? g[k] : 0.0f;
            gate = masked_.data();
          }
          std::uint16_t cell = 0;
          for (std::int64_t i = cl.i0; i < cl.i1; ++i) {
            for (std::int64_t j = cl.j0; j < cl.j1; ++j, ++cell) {
              float* pixel = image + (i * w.in_w + j) * c;
              if (image16 != nullptr) {
                std::uint16_t* pixel16 = image16 + (i * w.in_w + j) * c;
                for (std::int64_t k = 0; k < c; ++k) pixel16[k] = base::float_to_bf16(arg[k] == cell ? gate[k] : 0.0f);
              } else if (tiles) {
                for (std::int64_t k = 0; k < c; ++k) pixel[k] = arg[k] == cell ? gate[k] : 0.0f;
              } else {
                for (std::int64_t k = 0; k < c; ++k) pixel[k] += arg[k] == cell ? gate[k] : 0.0f;
              }
            }
          }
        }
      }
      continue;
    }
    for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < w.out_w; ++ow, g += c) {
        const Cells cl = cells(oh, ow);
        const auto count = static_cast<float>((cl.i1 - cl.i0) * (cl.j1 - cl.j0));
        for (std::int64_t i = cl.i0; i < cl.i1; ++i) {
          for (std::int64_t j = cl.j0; j < cl.j1; ++j) {
            float* pixel = image + (i * w.in_w + j) * c;
            for (std::int64_t k = 0; k < c; ++k) pixel[k] += g[k] / count;
          }
        }
      }
    }
  }
  return {dx_.data(), rows_, inputs()};
}

GlobalAvgPool2D::GlobalAvgPool2D(std::string name, const Shape& input_shape)
    : Layer(name, input_shape, global_output(name, input_shape)) {}

void GlobalAvgPool2D::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

ConstMatrixMap GlobalAvgPool2D::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  const std::int64_t c = outputs(), pixels = inputs() / c;
  for (std::int64_t n = 0; n < rows_; ++n) {
    const float* image = x.data() + n * inputs();
    float* out = y_.data() + n * c;
    std::fill_n(out, c, 0.0f);
    for (std::int64_t p = 0; p < pixels; ++p) {
      for (std::int64_t k = 0; k < c; ++k) out[k] += image[p * c + k];
    }
    for (std::int64_t k = 0; k < c; ++k) out[k] /= static_cast<float>(pixels);
  }
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap GlobalAvgPool2D::backward(ConstMatrixMap dy) {
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  const std::int64_t c = outputs(), pixels = inputs() / c;
  for (std::int64_t n = 0; n < rows_; ++n) {
    float* image = dx_.data() + n * inputs();
    const float* g = dy.data() + n * c;
    for (std::int64_t p = 0; p < pixels; ++p) {
      for (std::int64_t k = 0; k < c; ++k) image[p * c + k] = g[k] / static_cast<float>(pixels);
    }
  }
  return {dx_.data(), rows_, inputs()};
}

}  // namespace mpitrain::nn
