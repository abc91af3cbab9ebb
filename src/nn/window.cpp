#include "mpitrain/nn/window.hpp"

#include <algorithm>
#include <stdexcept>

namespace mpitrain::nn {

Padding parse_padding(const std::string& name) {
  if (name == "valid") return Padding::valid;
  if (name == "same") return Padding::same;
  throw std::invalid_argument("unknown padding '" + name + "' (expected valid or same)");
}

std::string to_string(Padding padding) { return padding == Padding::same ? "same" : "valid"; }

Window2D window_2d(const std::string& layer, const std::string& type, const char* what, const base::Shape& input,
                   Size2 kernel, Size2 strides, Padding padding) {
  const std::string where = "layer " + layer + " (" + type + "): ";
  const std::string sizes = base::format_shape(kernel);
  if (input.size() != 3) {
    throw std::invalid_argument(where + "input shape " + base::format_shape(input) +
                                " is not three-dimensional (height, width, channels)");
  }
  if (kernel[0] < 1 || kernel[1] < 1) {
    throw std::invalid_argument(where + what + " size " + sizes + " must be >= 1 in each dimension");
  }
  if (strides[0] < 1 || strides[1] < 1) {
    throw std::invalid_argument(where + "strides " + base::format_shape(strides) + " must be >= 1 in each dimension");
  }
  Window2D w;
  w.in_h = input[0];
  w.in_w = input[1];
  w.channels = input[2];
  w.kernel_h = kernel[0];
  w.kernel_w = kernel[1];
  w.stride_h = strides[0];
  w.stride_w = strides[1];
  if (padding == Padding::valid) {
    if (kernel[0] > w.in_h || kernel[1] > w.in_w) {
      throw std::invalid_argument(where + what + " " + sizes + " is larger than the input " +
                                  base::format_shape(input) + " under padding valid");
    }
    w.out_h = (w.in_h - w.kernel_h) / w.stride_h + 1;
    w.out_w = (w.in_w - w.kernel_w) / w.stride_w + 1;
  } else {
    // ceil(in / s), and the padding max((out - 1)·s + k - in, 0) as k - r with r = in - (out - 1)·s in
    // [1, s]: no intermediate exceeds its operands, whatever sizes a file gives.
    const auto same = [](std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t& out, std::int64_t& before) {
      out = in / s + (in % s != 0 ? 1 : 0);
      before = std::max<std::int64_t>(k - (in - (out - 1) * s), 0) / 2;
    };
    same(w.in_h, w.kernel_h, w.stride_h, w.out_h, w.pad_top);
    same(w.in_w, w.kernel_w, w.stride_w, w.out_w, w.pad_left);
  }
  return w;
}

}  // namespace mpitrain::nn
