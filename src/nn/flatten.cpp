#include "mpitrain/nn/flatten.hpp"

#include <stdexcept>

namespace mpitrain::nn {

namespace {
Shape flat(const std::string& name, const Shape& input_shape) {
  try {
    return {base::element_count(input_shape)};
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("layer " + name + " (flatten): input " + e.what());
  }
}
}  // namespace

Flatten::Flatten(std::string name, const Shape& input_shape) : Layer(name, input_shape, flat(name, input_shape)) {}

void Flatten::reserve(std::int64_t) {}

ConstMatrixMap Flatten::forward(ConstMatrixMap x, const Context&) { return x; }

ConstMatrixMap Flatten::backward(ConstMatrixMap dy) {
  if (!input_gradient()) return {dy.data(), 0, inputs()};
  return dy;
}

}  // namespace mpitrain::nn
