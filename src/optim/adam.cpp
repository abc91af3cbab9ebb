#include <Eigen/Core>
#include <algorithm>
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
  // The update of each element, written with Eigen arrays so that it is vectorised (a scalar loop is not:
  // std::sqrt may set errno), over chunks that stay in L1 so that m, v, g and the parameters are read once.
  // Element by element the operations and their order are those of the scalar formula above, so the
  // result is the same to the bit.
  using Array = Eigen::Map<Eigen::ArrayXf>;
  using ConstArray = Eigen::Map<const Eigen::ArrayXf>;
  constexpr std::size_t chunk = 1024;
  const std::size_t n = params.size();
  for (std::size_t at = 0; at < n; at += chunk) {
    const auto len = static_cast<Eigen::Index>(std::min(chunk, n - at));
    Array m(m_.data() + at, len), v(v_.data() + at, len), p(params.data() + at, len);
    const ConstArray g(grads.data() + at, len);
    m = b1 * m + (1.0f - b1) * g;
    v = b2 * v + (1.0f - b2) * g * g;
    p -= lr_t * m / (v.sqrt() + eps);
  }
}

std::vector<StateBuffer> Adam::state() { return {StateBuffer{"m", m_}, StateBuffer{"v", v_}}; }

}  // namespace mpitrain::optim
