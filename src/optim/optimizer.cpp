#include <stdexcept>

#include "mpitrain/optim/optimizer.hpp"

namespace mpitrain::optim {

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, std::int64_t size) {
  if (options.name == "adam") {
    return std::make_unique<Adam>(size, options.learning_rate, options.beta1, options.beta2,
                                  options.epsilon);
  }
  if (options.name == "sgd") {
    return std::make_unique<Sgd>(size, options.learning_rate, options.momentum, options.nesterov);
  }
  throw std::invalid_argument("unknown optimizer '" + options.name + "' (expected adam or sgd)");
}

}  // namespace mpitrain::optim
