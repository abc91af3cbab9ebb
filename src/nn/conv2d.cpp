#include "mpitrain/nn/conv2d.hpp"

#include "mpitrain/base/float16.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace mpitrain::nn {

namespace {
Window2D conv_window(const std::string& name, const Shape& input_shape, const Conv2DSpec& spec) {
  const Window2D w =
      window_2d(name, std::string(Conv2DSpec::type), "kernel", input_shape, spec.kernel_size, spec.strides, spec.padding);
  if (spec.filters < 1) {
    throw std::invalid_argument("layer " + name + " (conv2d): filters must be >= 1, got " + std::to_string(spec.filters));
  }
  try {  // the kernel's elements (and so its fans kh·kw·C_in and kh·kw·C_out) fit in int64
    (void)base::element_count(std::vector<std::int64_t>{w.kernel_h, w.kernel_w, w.channels, spec.filters});
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("layer " + name + " (conv2d): kernel " + e.what());
  }
  return w;
}

Shape conv_output(const std::string& name, const Shape& input_shape, const Conv2DSpec& spec) {
  const Window2D w = conv_window(name, input_shape, spec);
  return {w.out_h, w.out_w, spec.filters};
}

}  // namespace

Conv2D::Conv2D(std::string name, const Shape& input_shape, const Conv2DSpec& spec)
    : Layer(name, input_shape, conv_output(name, input_shape, spec)),
      window_(conv_window(this->name(), input_shape, spec)),
      filters_(spec.filters),
      use_bias_(spec.use_bias),
      activation_(spec.activation),
      convolution_(window_, filters_, use_bias_, activation_ == ActivationKind::relu) {
  if (activation_ == ActivationKind::gelu) {
    throw std::invalid_argument("layer " + this->name() +
                                " (conv2d): activation gelu is not offered inside a convolution (its gradient needs the "
                                "pre-activation output); put an activation layer after it");
  }
}

void Conv2D::set_relu_gradient_by_next_layer(bool fused) {
  if (fused && activation_ != ActivationKind::relu) {
    throw std::logic_error("layer " + name() + ": only a relu convolution can leave its gradient mask to the next layer");
  }
  relu_gradient_by_next_ = fused;
}

std::span<std::uint16_t> Conv2D::bf16_gradient_sink(std::int64_t rows) {
  if (!relu_gradient_by_next_ || precision() != Precision::bf16 || rows > dz16_.rows()) return {};
  dz16_written_ = true;
  return {dz16_.data(), static_cast<std::size_t>(rows * outputs())};
}

void Conv2D::register_tensors(ParameterRegistry& parameters, ParameterRegistry&) {
  const std::int64_t kh = window_.kernel_h, kw = window_.kernel_w;
  kernel_offset_ = parameters.add(name(), name() + "/kernel:0", {kh, kw, window_.channels, filters_},
                                  InitRule::glorot_uniform(kh * kw * window_.channels, kh * kw * filters_), true).offset;
  if (use_bias_) {
    bias_offset_ = parameters.add(name(), name() + "/bias:0", {filters_}, InitRule::zeros(), false).offset;
  }
}

void Conv2D::bind(std::span<float> parameters, std::span<float> gradients, std::span<float>) {
  kernel_ = parameters.data() + kernel_offset_;
  kernel_grad_ = gradients.data() + kernel_offset_;
  if (use_bias_) {
    bias_ = parameters.data() + bias_offset_;
    bias_grad_ = gradients.data() + bias_offset_;
  }
}

void Conv2D::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  const bool fused_relu_gradient =
      relu_gradient_by_next_ || (precision() == Precision::bf16 && activation_ == ActivationKind::relu);
  if (activation_ && !fused_relu_gradient && dz_.rows() < max_rows) dz_.resize(max_rows, outputs());
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
  convolution_.set_precision(precision());
  if (precision() == Precision::bf16) {
    if (x16_.rows() < max_rows) x16_.resize(max_rows, inputs());
    if (dz16_.rows() < max_rows) dz16_.resize(max_rows, outputs());
    kernel16_.resize(1, patch_size() * filters_);
  }
}

namespace {
std::span<const float> elements(const float* data, std::int64_t count) {
  return {data, static_cast<std::size_t>(count)};
}
std::span<std::uint16_t> elements(base::Bf16Matrix& m, std::int64_t count) {
  return {m.data(), static_cast<std::size_t>(count)};
}
}  // namespace

ConstMatrixMap Conv2D::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  input_ = x.data();
  if (precision() == Precision::bf16) {
    base::round_to_bf16(elements(x.data(), rows_ * inputs()), elements(x16_, rows_ * inputs()));
    base::round_to_bf16(elements(kernel_, patch_size() * filters_), elements(kernel16_, patch_size() * filters_));
    convolution_.forward(x16_.data(), kernel16_.data(), bias_, y_.data(), rows_);
  } else {
    convolution_.forward(x.data(), kernel_, bias_, y_.data(), rows_);
  }
  if (activation_ && *activation_ != ActivationKind::relu) {  // relu is fused into the convolution
    const std::int64_t m = rows_ * window_.positions();
    activate(*activation_, ConstMatrixMap(y_.data(), m, filters_), MatrixMap(y_.data(), m, filters_));
  }
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap Conv2D::backward(ConstMatrixMap dy) {
  const std::int64_t count = rows_ * outputs();
  const float* dz = dy.data();
  const bool masked = activation_ && !relu_gradient_by_next_;  // else dy is dZ already
  if (dz16_written_) {  // by the max pooling after this layer (bf16_gradient_sink)
    dz16_written_ = false;
    dz = nullptr;
  } else if (masked && precision() == Precision::bf16 && activation_ == ActivationKind::relu) {
    relu_gradient_to_bf16(elements(y_.data(), count), elements(dy.data(), count), elements(dz16_, count));
    dz = nullptr;  // one pass from dY to the rounded dZ
  } else {
    if (masked) {
      activation_gradient(*activation_, ConstMatrixMap(y_.data(), rows_, outputs()), dy,
                          MatrixMap(dz_.data(), rows_, outputs()));
      dz = dz_.data();
    }
    if (precision() == Precision::bf16) {
      base::round_to_bf16(elements(dz, count), elements(dz16_, count));
      dz = nullptr;
    }
  }
  const void* x = input_;
  const void* kernel = kernel_;
  if (precision() == Precision::bf16) {
    x = x16_.data();
    kernel = kernel16_.data();
  }
  const void* dz_in = dz != nullptr ? static_cast<const void*>(dz) : static_cast<const void*>(dz16_.data());
  if (parameter_gradient()) convolution_.backward_weights(x, dz_in, kernel_grad_, bias_grad_, rows_);
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  convolution_.backward_data(dz_in, kernel, dx_.data(), rows_);
  return {dx_.data(), rows_, inputs()};
}

std::int64_t Conv2D::flops_per_sample() const {
  const std::int64_t product = 2 * window_.positions() * patch_size() * filters_;
  return product * (input_gradient() ? 3 : 2);
}

}  // namespace mpitrain::nn
