#include "mpitrain/nn/conv2d.hpp"

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

// Calls visit(n, pixel) for the kernel cells of every patch in the order of P's entries: patch (n, oh, ow) is
// row n·Ho·Wo + oh·Wo + ow of P, its columns (i, j, c) with c fastest (the order of the kernel's rows), and
// each call stands for the C entries of cell (i, j): pixel is the offset of input pixel (row, col)'s first
// channel in sample n (row·W + col)·C, or -1 where the cell lies in the padding.
template <class Visit>
void for_each_patch_cell(const Window2D& w, std::int64_t rows, Visit&& visit) {
  for (std::int64_t n = 0; n < rows; ++n) {
    for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < w.out_w; ++ow) {
        for (std::int64_t i = 0; i < w.kernel_h; ++i) {
          const std::int64_t row = w.row_start(oh) + i;
          const bool row_inside = row >= 0 && row < w.in_h;
          for (std::int64_t j = 0; j < w.kernel_w; ++j) {
            const std::int64_t col = w.col_start(ow) + j;
            visit(n, row_inside && col >= 0 && col < w.in_w ? (row * w.in_w + col) * w.channels : -1);
          }
        }
      }
    }
  }
}
}  // namespace

Conv2D::Conv2D(std::string name, const Shape& input_shape, const Conv2DSpec& spec)
    : Layer(name, input_shape, conv_output(name, input_shape, spec)),
      window_(conv_window(this->name(), input_shape, spec)),
      filters_(spec.filters),
      use_bias_(spec.use_bias),
      activation_(spec.activation) {}

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
  const std::int64_t patch_rows = max_rows * window_.positions();
  if (patches_.rows() < patch_rows) patches_.resize(patch_rows, patch_size());
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  if (activation_ && dz_.rows() < max_rows) dz_.resize(max_rows, outputs());
  if (input_gradient() && dpatches_.rows() < patch_rows) dpatches_.resize(patch_rows, patch_size());
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
  products_.reserve(patch_rows, patch_size(), filters_, precision());
}

void Conv2D::im2col(const float* x) {
  const std::int64_t c = window_.channels;
  float* p = patches_.data();
  for_each_patch_cell(window_, rows_, [&](std::int64_t n, std::int64_t pixel) {
    if (pixel >= 0) {
      std::copy_n(x + n * inputs() + pixel, c, p);
    } else {
      std::fill_n(p, c, 0.0f);
    }
    p += c;
  });
}

// The transpose of im2col: every entry of dP is added to the input pixel its patch entry was copied from.
void Conv2D::col2im(float* dx) const {
  const std::int64_t c = window_.channels;
  const float* p = dpatches_.data();
  std::fill_n(dx, rows_ * inputs(), 0.0f);
  for_each_patch_cell(window_, rows_, [&](std::int64_t n, std::int64_t pixel) {
    if (pixel >= 0) {
      float* to = dx + n * inputs() + pixel;
      for (std::int64_t k = 0; k < c; ++k) to[k] += p[k];
    }
    p += c;
  });
}

ConstMatrixMap Conv2D::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  im2col(x.data());
  const std::int64_t m = rows_ * window_.positions();
  ConstMatrixMap p(patches_.data(), m, patch_size());
  MatrixMap y(y_.data(), m, filters_);
  products_.forward(p, kernel_, y);
  if (use_bias_) y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias_, filters_);
  if (activation_) activate(*activation_, ConstMatrixMap(y_.data(), m, filters_), y);
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap Conv2D::backward(ConstMatrixMap dy) {
  const std::int64_t m = rows_ * window_.positions();
  const float* dz_data = dy.data();
  if (activation_) {
    activation_gradient(*activation_, ConstMatrixMap(y_.data(), rows_, outputs()), dy,
                        MatrixMap(dz_.data(), rows_, outputs()));
    dz_data = dz_.data();
  }
  ConstMatrixMap dz(dz_data, m, filters_);
  ConstMatrixMap p(patches_.data(), m, patch_size());
  products_.backward(p, dz, kernel_, kernel_grad_, input_gradient() ? dpatches_.data() : nullptr);
  if (use_bias_) {
    // Row by row, as Dense does: Eigen's vectorised column sums depend on the address alignment.
    Eigen::Map<Eigen::RowVectorXf> db(bias_grad_, filters_);
    for (std::int64_t r = 0; r < m; ++r) db += dz.row(r);
  }
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  col2im(dx_.data());
  return {dx_.data(), rows_, inputs()};
}

std::int64_t Conv2D::flops_per_sample() const {
  const std::int64_t product = 2 * window_.positions() * patch_size() * filters_;
  return product * (input_gradient() ? 3 : 2);
}

}  // namespace mpitrain::nn
