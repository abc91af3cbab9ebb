#include <stdexcept>

#include "mpitrain/optim/optimizer.hpp"

namespace mpitrain::optim {

std::unique_ptr<Optimizer> make_optimizer(const config::OptimConfig& options, const nn::ParameterRegistry& registry) {
  if (options.name == "adam") {
    return std::make_unique<Adam>(registry.total(), options.learning_rate, options.beta1, options.beta2,
                                  options.epsilon);
  }
  if (options.name == "adamw") {
    return std::make_unique<AdamW>(registry, options.learning_rate, options.beta1, options.beta2, options.epsilon,
                                   options.weight_decay);
  }
  if (options.name == "sgd") {
    return std::make_unique<Sgd>(registry.total(), options.learning_rate, options.momentum, options.nesterov);
  }
  throw std::invalid_argument("unknown optimizer '" + options.name + "' (expected adam, adamw or sgd)");
}

double l2_coefficient(const config::OptimConfig& options) {
  return options.name == "adamw" ? 0.0 : options.weight_decay;
}

}  // namespace mpitrain::optim
