#pragma once
/// @file gradient_processing.hpp
/// What happens to the summed gradient between the allreduce and the optimizer step: averaging over the
/// global sample count, the L2 penalty's gradient, and clipping by global norm. Everything here runs after
/// the allreduce on the same summed buffer on every rank, in a fixed order, so every rank computes the same
/// floats and the replicas stay identical.

#include <cstdint>
#include <span>

#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::optim {

/// grads *= 1 / global_count: the gradient of the summed loss becomes the gradient of the mean loss over
/// the global batch (the reciprocal rounded to float once, then one float multiply per element).
/// @param grads the flat gradient buffer, summed over the global batch. @param global_count samples in the
/// global batch of this step (> 0). @throws std::invalid_argument for global_count <= 0.
void average_gradients(std::span<float> grads, std::int64_t global_count);

/// The global L2 norm sqrt(Σ g²) of @p grads, summed in double in an order fixed by the count alone
/// (base::fixed_order_sum): the same bits on every rank.
[[nodiscard]] double global_norm(std::span<const float> grads);

/// Clips the gradient to a global L2 norm of at most @p max_norm (Pascanu, Mikolov and Bengio, ICML 2013;
/// PyTorch's clip_grad_norm_): when the norm exceeds max_norm, grads *= max_norm / norm (the ratio rounded to
/// float once). @param max_norm > 0. @returns the norm before clipping.
double clip_by_global_norm(std::span<float> grads, double max_norm);

/// Options of GradientPostProcessor.
struct GradientOptions {
  double l2 = 0.0;              ///< L2 coefficient lambda (0: none); see weight_decay.hpp.
  double clip_grad_norm = 0.0;  ///< Clip to this global L2 norm (0: no clipping).
};

/// The post-processing of one step's summed gradient, in this order: average over the global count, add the
/// L2 gradient 2·lambda·W on the tensors the registry flags for decay, clip by global norm (so that the
/// clipped gradient includes the penalty's). Holds no buffers: nothing is allocated per step.
class GradientPostProcessor {
 public:
  /// @param registry the layout of the parameter and gradient buffers; must outlive this object.
  /// @throws std::invalid_argument for a negative option.
  GradientPostProcessor(const nn::ParameterRegistry& registry, GradientOptions options);
  /// Processes @p grads in place. @param params the parameters (read for the L2 gradient), registry.total()
  /// floats. @param grads the gradients summed over the global batch, registry.total() floats.
  /// @param global_count samples in this step's global batch (> 0).
  /// @returns the L2 penalty lambda·Σ‖W‖² of @p params, to add to the reported mean loss (0 without L2).
  /// @throws std::invalid_argument for a size mismatch or global_count <= 0.
  double process(std::span<const float> params, std::span<float> grads, std::int64_t global_count) const;
  [[nodiscard]] const GradientOptions& options() const { return options_; }

 private:
  const nn::ParameterRegistry& registry_;
  GradientOptions options_;
};

}  // namespace mpitrain::optim
