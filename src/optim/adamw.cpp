#include "mpitrain/optim/optimizer.hpp"
#include "mpitrain/optim/weight_decay.hpp"

namespace mpitrain::optim {

AdamW::AdamW(const nn::ParameterRegistry& registry, double learning_rate, double beta1, double beta2,
             double epsilon, double weight_decay)
    : Adam(registry.total(), learning_rate, beta1, beta2, epsilon), registry_(registry),
      weight_decay_(weight_decay) {}

void AdamW::step(std::span<float> params, std::span<const float> grads) {
  // PyTorch's torch.optim.AdamW: param.mul_(1 - lr * weight_decay) first, then the Adam update.
  decay_weights(registry_, params, learning_rate_, weight_decay_);
  Adam::step(params, grads);
}

}  // namespace mpitrain::optim
