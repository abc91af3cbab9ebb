#include "mpitrain/optim/gradient_processing.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "mpitrain/optim/weight_decay.hpp"

namespace mpitrain::optim {

namespace {
// One float multiply per element (exact rounding either way, so a plain loop and Eigen agree to the bit).
void scale(std::span<float> values, float factor) {
  for (float& v : values) v *= factor;
}
}  // namespace

void average_gradients(std::span<float> grads, std::int64_t global_count) {
  if (global_count <= 0) {
    throw std::invalid_argument("average_gradients: global sample count " + std::to_string(global_count) +
                                " (must be > 0)");
  }
  scale(grads, 1.0f / static_cast<float>(global_count));
}

double global_norm(std::span<const float> grads) {
  // In index order and in double: the same norm on every rank, whatever its buffers' alignment.
  double sum_sq = 0.0;
  for (const float v : grads) sum_sq += static_cast<double>(v) * v;
  return std::sqrt(sum_sq);
}

double clip_by_global_norm(std::span<float> grads, double max_norm) {
  const double norm = global_norm(grads);
  if (norm > max_norm) scale(grads, static_cast<float>(max_norm / norm));
  return norm;
}

GradientPostProcessor::GradientPostProcessor(const nn::ParameterRegistry& registry, GradientOptions options)
    : registry_(registry), options_(options) {
  if (!(options.l2 >= 0.0) || !(options.clip_grad_norm >= 0.0)) {
    throw std::invalid_argument("gradient post-processing: l2 = " + std::to_string(options.l2) +
                                ", clip_grad_norm = " + std::to_string(options.clip_grad_norm) +
                                " (both must be >= 0)");
  }
}

double GradientPostProcessor::process(std::span<const float> params, std::span<float> grads,
                                      std::int64_t global_count) const {
  average_gradients(grads, global_count);
  const double penalty = l2_penalty(registry_, params, options_.l2);
  add_l2_gradient(registry_, params, options_.l2, grads);
  if (options_.clip_grad_norm > 0) clip_by_global_norm(grads, options_.clip_grad_norm);
  return penalty;
}

}  // namespace mpitrain::optim
