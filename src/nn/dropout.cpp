#include "mpitrain/nn/dropout.hpp"

#include <stdexcept>

#include "mpitrain/base/random.hpp"

namespace mpitrain::nn {

namespace {

double checked_rate(const std::string& name, double rate) {
  if (!(rate >= 0.0 && rate < 1.0)) {
    throw std::invalid_argument("layer " + name + " (dropout): rate must be in [0, 1), got " + std::to_string(rate));
  }
  return rate;
}

// The layer's key: its name folded byte by byte through keyed_seed's chain.
std::uint64_t name_key(const std::string& name) {
  std::uint64_t h = 0;
  for (const char c : name) h = base::keyed_seed({h, static_cast<unsigned char>(c)});
  return h;
}

}  // namespace

Dropout::Dropout(std::string name, double rate, const Shape& shape)
    : Layer(std::move(name), shape, shape), rate_(checked_rate(this->name(), rate)), key_(name_key(this->name())) {}

void Dropout::reserve(std::int64_t max_rows) {
  if (rate_ > 0.0 && mask_.rows() < max_rows) {
    mask_.resize(max_rows, outputs());
    y_.resize(max_rows, outputs());
  }
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

ConstMatrixMap Dropout::forward(ConstMatrixMap x, const Context& context) {
  rows_ = x.rows();
  masked_ = context.mode == Mode::training && rate_ > 0.0;
  if (!masked_) return x;
  if (static_cast<std::int64_t>(context.sample_indices.size()) != rows_) {
    throw std::invalid_argument("layer " + name() + " (dropout): a training forward needs the global sample index of "
                                "each row, got " + std::to_string(context.sample_indices.size()) + " indices for " +
                                std::to_string(rows_) + " rows");
  }
  const auto rate = static_cast<float>(rate_);
  const auto kept = static_cast<float>(1.0 / (1.0 - rate_));
  for (std::int64_t i = 0; i < rows_; ++i) {
    base::SplitMix64 rng(base::keyed_seed({context.seed, static_cast<std::uint64_t>(context.step),
                                           static_cast<std::uint64_t>(context.sample_indices[i]), key_}));
    float* m = mask_.data() + i * outputs();
    for (std::int64_t e = 0; e < outputs(); ++e) m[e] = rng.uniform_float() < rate ? 0.0f : kept;
  }
  MatrixMap y(y_.data(), rows_, outputs());
  y = x.cwiseProduct(ConstMatrixMap(mask_.data(), rows_, outputs()));
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap Dropout::backward(ConstMatrixMap dy) {
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  MatrixMap dx(dx_.data(), rows_, inputs());
  if (masked_) {
    dx = dy.cwiseProduct(ConstMatrixMap(mask_.data(), rows_, outputs()));
  } else {
    dx = dy;
  }
  return {dx_.data(), rows_, inputs()};
}

}  // namespace mpitrain::nn
