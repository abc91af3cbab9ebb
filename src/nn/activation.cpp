#include "mpitrain/nn/activation.hpp"

#include <stdexcept>

namespace mpitrain::nn {

ActivationKind parse_activation(const std::string& name) {
  if (name == "relu") return ActivationKind::relu;
  if (name == "tanh") return ActivationKind::tanh;
  if (name == "sigmoid") return ActivationKind::sigmoid;
  throw std::invalid_argument("unknown activation '" + name + "' (expected relu, tanh or sigmoid)");
}

std::string to_string(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::relu: return "relu";
    case ActivationKind::tanh: return "tanh";
    case ActivationKind::sigmoid: return "sigmoid";
  }
  return "?";
}

void activate(ActivationKind kind, ConstMatrixMap x, MatrixMap y) {
  switch (kind) {
    case ActivationKind::relu: y = x.cwiseMax(0.0f); break;
    case ActivationKind::tanh: y = x.array().tanh(); break;
    case ActivationKind::sigmoid: y = (1.0f + (-x.array()).exp()).inverse(); break;
  }
}

void activation_gradient(ActivationKind kind, ConstMatrixMap y, ConstMatrixMap dy, MatrixMap dx) {
  switch (kind) {
    case ActivationKind::relu: dx = (y.array() > 0.0f).select(dy, 0.0f); break;
    case ActivationKind::tanh: dx = dy.array() * (1.0f - y.array().square()); break;
    case ActivationKind::sigmoid: dx = dy.array() * y.array() * (1.0f - y.array()); break;
  }
}

Activation::Activation(std::string name, ActivationKind kind, const Shape& shape)
    : Layer(std::move(name), shape, shape), kind_(kind) {}

void Activation::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

ConstMatrixMap Activation::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  activate(kind_, x, MatrixMap(y_.data(), rows_, outputs()));
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap Activation::backward(ConstMatrixMap dy) {
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  activation_gradient(kind_, ConstMatrixMap(y_.data(), rows_, outputs()), dy, MatrixMap(dx_.data(), rows_, inputs()));
  return {dx_.data(), rows_, inputs()};
}

}  // namespace mpitrain::nn
