#pragma once
/// @file weight_decay.hpp
/// Weight decay over the tensors the parameter registry flags with `decay` (kernels, not biases), in its two
/// forms: the L2 penalty added to the loss and its gradient (Keras's kernel_regularizer, Adam or SGD with
/// optim.weight_decay), and decoupled weight decay applied to the parameters (AdamW).
///
/// Every function walks the registry in layout order over the flat buffers it describes: @p params and
/// @p grads hold registry.total() floats each, with the registry's offsets (nn/parameters.hpp).

#include <span>

#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::optim {

/// The L2 penalty lambda · Σ ‖W‖² over the tensors flagged for decay, summed in double in layout order (the
/// same value at any address alignment, hence on every rank). 0 without computing anything when lambda is 0.
/// @param params registry.total() floats. @throws std::invalid_argument for another size.
[[nodiscard]] double l2_penalty(const nn::ParameterRegistry& registry, std::span<const float> params, double lambda);

/// The gradient of l2_penalty: grads += 2 · lambda · W on the tensors flagged for decay (float arithmetic,
/// 2·lambda rounded to float once). Nothing when lambda is 0.
/// @param params, grads registry.total() floats each. @throws std::invalid_argument for another size.
void add_l2_gradient(const nn::ParameterRegistry& registry, std::span<const float> params, double lambda,
                     std::span<float> grads);

/// Decoupled weight decay (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
/// Algorithm 2 line 12, with the schedule multiplier folded into the learning rate as PyTorch's AdamW does):
/// W ← W · (1 − learning_rate · weight_decay) on the tensors flagged for decay, the factor computed in double
/// and rounded to float once. Nothing when weight_decay is 0.
/// @param params registry.total() floats, updated in place. @param learning_rate the step's (scheduled) rate.
/// @throws std::invalid_argument for another size.
void decay_weights(const nn::ParameterRegistry& registry, std::span<float> params, double learning_rate,
                   double weight_decay);

}  // namespace mpitrain::optim
