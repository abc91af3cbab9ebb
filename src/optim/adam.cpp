#include <cmath>
#include <stdexcept>

#include "mpitrain/optim/optimizer.hpp"

namespace mpitrain::optim {

Adam::Adam(std::int64_t size, double learning_rate, double beta1, double beta2, double epsilon)
    : Optimizer(learning_rate), beta1_(beta1), beta2_(beta2), epsilon_(epsilon),
      m_(static_cast<std::size_t>(size), 0.0f), v_(static_cast<std::size_t>(size), 0.0f) {}

void Adam::step(std::span<float> params, std::span<const float> grads) {
  if (params.size() != m_.size() || grads.size() != m_.size()) {
    throw std::invalid_argument("Adam step: " + std::to_string(params.size()) + " parameters and " +
                                std::to_string(grads.size()) + " gradients, state has " +
                                std::to_string(m_.size()));
  }
  ++iterations_;
  const double t = static_cast<double>(iterations_);
  // Kingma and Ba (2015), end of section 2: fold both bias corrections into the step size.
  const float lr_t = static_cast<float>(learning_rate_ * std::sqrt(1.0 - std::pow(beta2_, t)) /
                                        (1.0 - std::pow(beta1_, t)));
  const float b1 = static_cast<float>(beta1_), b2 = static_cast<float>(beta2_);
  const float eps = static_cast<float>(epsilon_);
  // A plain loop, vectorised by the compiler (-fno-math-errno lets it use the exact vsqrtps). Not Eigen
  // arrays: Eigen's fast packet sqrt is an approximation while its scalar head (whose length depends on the
  // run-time address alignment) is exact, which made replicas differ in the last bit.
  const std::size_t n = params.size();
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    m_[i] = b1 * m_[i] + (1.0f - b1) * g;
    v_[i] = b2 * v_[i] + (1.0f - b2) * g * g;
    params[i] -= lr_t * m_[i] / (std::sqrt(v_[i]) + eps);
  }
}

std::vector<StateBuffer> Adam::state() { return {StateBuffer{"m", m_}, StateBuffer{"v", v_}}; }

}  // namespace mpitrain::optim
