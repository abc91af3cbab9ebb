#include <stdexcept>

#include "mpitrain/optim/optimizer.hpp"

namespace mpitrain::optim {

namespace {
void check_sizes(std::size_t params, std::size_t grads, std::size_t state) {
  if (params != state || grads != state) {
    throw std::invalid_argument("optimizer step: " + std::to_string(params) + " parameters and " +
                                std::to_string(grads) + " gradients, state has " + std::to_string(state));
  }
}
}  // namespace

Sgd::Sgd(std::int64_t size, double learning_rate, double momentum, bool nesterov)
    : Optimizer(learning_rate), momentum_(momentum), nesterov_(nesterov),
      velocity_(static_cast<std::size_t>(size), 0.0f) {}

void Sgd::step(std::span<float> params, std::span<const float> grads) {
  check_sizes(params.size(), grads.size(), velocity_.size());
  ++iterations_;
  const float lr = static_cast<float>(learning_rate_);
  const float mu = static_cast<float>(momentum_);
  const std::size_t n = params.size();
  if (momentum_ == 0.0) {
    for (std::size_t i = 0; i < n; ++i) params[i] -= lr * grads[i];
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    velocity_[i] = mu * velocity_[i] - lr * grads[i];
    params[i] += nesterov_ ? mu * velocity_[i] - lr * grads[i] : velocity_[i];
  }
}

std::vector<StateBuffer> Sgd::state() { return {StateBuffer{"velocity", velocity_}}; }

}  // namespace mpitrain::optim
