#include "mpitrain/optim/weight_decay.hpp"

#include <Eigen/Core>
#include <stdexcept>
#include <string>

namespace mpitrain::optim {

namespace {
void check_size(const nn::ParameterRegistry& registry, std::size_t size, const char* what) {
  if (static_cast<std::int64_t>(size) != registry.total()) {
    throw std::invalid_argument(std::string("weight decay: ") + what + " has " + std::to_string(size) +
                                " floats, the parameter registry " + std::to_string(registry.total()));
  }
}
}  // namespace

double l2_penalty(const nn::ParameterRegistry& registry, std::span<const float> params, double lambda) {
  check_size(registry, params.size(), "the parameter buffer");
  if (lambda == 0.0) return 0.0;
  double sum = 0.0;
  for (const auto& p : registry.entries()) {
    if (!p.decay) continue;
    // A plain loop in double: the same sum at any address alignment.
    const float* w = params.data() + p.offset;
    const std::int64_t n = p.size();  // hoisted: size() multiplies the shape out on every call
    for (std::int64_t i = 0; i < n; ++i) sum += static_cast<double>(w[i]) * w[i];
  }
  return lambda * sum;
}

void add_l2_gradient(const nn::ParameterRegistry& registry, std::span<const float> params, double lambda,
                     std::span<float> grads) {
  check_size(registry, params.size(), "the parameter buffer");
  check_size(registry, grads.size(), "the gradient buffer");
  if (lambda == 0.0) return;
  const float scale = static_cast<float>(2.0 * lambda);
  for (const auto& p : registry.entries()) {
    if (!p.decay) continue;
    // The Eigen expression the MLP used (the former nn/mlp.cpp), so that runs with weight decay keep their bits.
    Eigen::Map<const Eigen::VectorXf> w(params.data() + p.offset, p.size());
    Eigen::Map<Eigen::VectorXf> g(grads.data() + p.offset, p.size());
    g += scale * w;
  }
}

void decay_weights(const nn::ParameterRegistry& registry, std::span<float> params, double learning_rate,
                   double weight_decay) {
  check_size(registry, params.size(), "the parameter buffer");
  if (weight_decay == 0.0) return;
  const float factor = static_cast<float>(1.0 - learning_rate * weight_decay);
  for (const auto& p : registry.entries()) {
    if (!p.decay) continue;
    float* w = params.data() + p.offset;
    const std::int64_t n = p.size();  // hoisted: size() multiplies the shape out on every call
    for (std::int64_t i = 0; i < n; ++i) w[i] *= factor;
  }
}

}  // namespace mpitrain::optim
