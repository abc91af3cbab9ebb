#include "mpitrain/base/tensor.hpp"

#include <stdexcept>

namespace mpitrain::base {

std::int64_t element_count(std::span<const std::int64_t> shape) {
  std::int64_t count = 1;
  for (const std::int64_t d : shape) {
    if (d < 1) throw std::invalid_argument("shape " + format_shape(shape) + ": every dimension must be >= 1");
    // A shape read from a file can be anything: overflow is an error, not undefined behaviour.
    if (__builtin_mul_overflow(count, d, &count)) {
      throw std::invalid_argument("shape " + format_shape(shape) + ": its element count overflows int64");
    }
  }
  return count;
}

std::string format_shape(std::span<const std::int64_t> shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  return text + ")";
}

}  // namespace mpitrain::base
