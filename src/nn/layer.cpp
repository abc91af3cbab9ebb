#include "mpitrain/nn/layer.hpp"

#include <stdexcept>

namespace mpitrain::nn {

namespace {
std::int64_t features_of(const std::string& layer, const Shape& shape, const char* which) {
  try {
    return base::element_count(shape);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("layer " + layer + ": " + which + " " + e.what());
  }
}
}  // namespace

Layer::Layer(std::string name, Shape input_shape, Shape output_shape)
    : name_(std::move(name)), input_shape_(std::move(input_shape)), output_shape_(std::move(output_shape)),
      inputs_(features_of(name_, input_shape_, "input")), outputs_(features_of(name_, output_shape_, "output")) {
  if (name_.empty()) throw std::invalid_argument("a layer needs a name");
}

void Layer::register_tensors(ParameterRegistry&, ParameterRegistry&) {}

void Layer::bind(std::span<float>, std::span<float>, std::span<float>) {}

}  // namespace mpitrain::nn
