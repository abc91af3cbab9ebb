#include "mpitrain/nn/activation.hpp"

#include <algorithm>
#include <stdexcept>

#include "mpitrain/base/float16.hpp"

namespace mpitrain::nn {

ActivationKind parse_activation(const std::string& name) {
  if (name == "relu") return ActivationKind::relu;
  if (name == "tanh") return ActivationKind::tanh;
  if (name == "sigmoid") return ActivationKind::sigmoid;
  if (name == "gelu") return ActivationKind::gelu;
  throw std::invalid_argument("unknown activation '" + name + "' (expected relu, tanh, sigmoid or gelu)");
}

std::string to_string(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::relu: return "relu";
    case ActivationKind::tanh: return "tanh";
    case ActivationKind::sigmoid: return "sigmoid";
    case ActivationKind::gelu: return "gelu";
  }
  return "?";
}

void activate(ActivationKind kind, ConstMatrixMap x, MatrixMap y) {
  switch (kind) {
    case ActivationKind::relu: y = x.cwiseMax(0.0f); break;
    case ActivationKind::tanh: y = x.array().tanh(); break;
    case ActivationKind::sigmoid: y = (1.0f + (-x.array()).exp()).inverse(); break;
    case ActivationKind::gelu:
      y = 0.5f * x.array() * (1.0f + (gelu_a * (x.array() + gelu_b * x.array().cube())).tanh());
      break;
  }
}

void activation_gradient(ActivationKind kind, ConstMatrixMap y, ConstMatrixMap dy, MatrixMap dx) {
  switch (kind) {
    case ActivationKind::relu: dx = (y.array() > 0.0f).select(dy, 0.0f); break;
    case ActivationKind::tanh: dx = dy.array() * (1.0f - y.array().square()); break;
    case ActivationKind::sigmoid: dx = dy.array() * y.array() * (1.0f - y.array()); break;
    case ActivationKind::gelu: throw std::logic_error("activation_gradient: gelu's derivative needs its input (gelu_gradient)");
  }
}

void gelu_gradient(ConstMatrixMap x, ConstMatrixMap dy, MatrixMap dx) {
  const auto u = x.array();
  // tanh once per element, held in dx (an expression would evaluate it at each of its two uses).
  auto t = dx.array();
  t = (gelu_a * (u + gelu_b * u.cube())).tanh();
  t = dy.array() * (0.5f * (1.0f + t) + 0.5f * u * (1.0f - t.square()) * gelu_a * (1.0f + 3.0f * gelu_b * u.square()));
}

void relu_gradient_to_bf16(std::span<const float> y, std::span<const float> dy, std::span<std::uint16_t> dx16) {
  if (y.size() != dy.size() || y.size() != dx16.size()) {
    throw std::invalid_argument("relu_gradient_to_bf16: y has " + std::to_string(y.size()) + " elements, dy " +
                                std::to_string(dy.size()) + ", dx " + std::to_string(dx16.size()));
  }
  const float* out = y.data();
  const float* grad = dy.data();
  std::uint16_t* to = dx16.data();
  const std::size_t n = y.size();
  for (std::size_t i = 0; i < n; ++i) to[i] = base::float_to_bf16(out[i] > 0.0f ? grad[i] : 0.0f);
}

namespace {
// Runs @p fp32(first, count, out) over blocks of @p n elements into a buffer that stays in L1 and rounds each
// block into @p to: the fp32 result is never written to memory.
template <class Block>
void blocks_to_bf16(std::size_t n, std::uint16_t* to, Block fp32) {
  constexpr std::size_t block = 1024;
  alignas(64) float buffer[block];
  for (std::size_t first = 0; first < n; first += block) {
    const std::size_t count = std::min(block, n - first);
    fp32(first, count, buffer);
    base::round_to_bf16({buffer, count}, {to + first, count});
  }
}
}  // namespace

void gelu_to_bf16(std::span<const float> x, std::span<std::uint16_t> y16) {
  if (x.size() != y16.size()) {
    throw std::invalid_argument("gelu_to_bf16: x has " + std::to_string(x.size()) + " elements, y " +
                                std::to_string(y16.size()));
  }
  blocks_to_bf16(x.size(), y16.data(), [&](std::size_t first, std::size_t count, float* out) {
    const auto c = static_cast<std::int64_t>(count);
    activate(ActivationKind::gelu, ConstMatrixMap(x.data() + first, 1, c), MatrixMap(out, 1, c));
  });
}

void gelu_gradient_to_bf16(std::span<const float> x, std::span<const float> dy, std::span<std::uint16_t> dx16) {
  if (x.size() != dy.size() || x.size() != dx16.size()) {
    throw std::invalid_argument("gelu_gradient_to_bf16: x has " + std::to_string(x.size()) + " elements, dy " +
                                std::to_string(dy.size()) + ", dx " + std::to_string(dx16.size()));
  }
  blocks_to_bf16(x.size(), dx16.data(), [&](std::size_t first, std::size_t count, float* out) {
    const auto c = static_cast<std::int64_t>(count);
    gelu_gradient(ConstMatrixMap(x.data() + first, 1, c), ConstMatrixMap(dy.data() + first, 1, c), MatrixMap(out, 1, c));
  });
}

Activation::Activation(std::string name, ActivationKind kind, const Shape& shape)
    : Layer(std::move(name), shape, shape), kind_(kind) {}

void Activation::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

ConstMatrixMap Activation::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  input_ = x.data();
  activate(kind_, x, MatrixMap(y_.data(), rows_, outputs()));
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap Activation::backward(ConstMatrixMap dy) {
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  if (kind_ == ActivationKind::gelu) {
    gelu_gradient(ConstMatrixMap(input_, rows_, inputs()), dy, MatrixMap(dx_.data(), rows_, inputs()));
  } else {
    activation_gradient(kind_, ConstMatrixMap(y_.data(), rows_, outputs()), dy, MatrixMap(dx_.data(), rows_, inputs()));
  }
  return {dx_.data(), rows_, inputs()};
}

}  // namespace mpitrain::nn
