#pragma once
/// @file pruning.hpp
/// Magnitude pruning (unstructured; Han, Pool, Tran and Dally, "Learning both Weights and Connections for
/// Efficient Neural Networks", NeurIPS 2015) of a trained model's kernels, without retraining.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::diagnose {

/// Whether a tensor is pruned and quantized: the kernels of the layers with a matrix product (Dense and
/// Conv2D), whose registry names end in `/kernel:0` (Keras's names). Biases, batch-norm gains and offsets
/// and buffers (running statistics) are left as they are.
[[nodiscard]] bool is_kernel(const nn::ParameterInfo& tensor);

/// The kernels of @p registry (is_kernel), in registry order.
std::vector<nn::ParameterInfo> kernels_of(const nn::ParameterRegistry& registry);

/// How the magnitudes are ranked.
enum class PruningScope {
  layer,   ///< Each kernel on its own: the given share of each kernel's entries is set to 0.
  global,  ///< All kernels together: the given share of all their entries, whichever kernel they are in.
};

/// "layer" or "global".
std::string to_string(PruningScope scope);

/// Sets to 0 the round(n · @p sparsity_percent / 100) entries of smallest magnitude among the n entries of
/// each kernel (layer) or of all kernels (global) of @p parameters (laid out by @p registry); ties are
/// broken by the lower position in the flat buffer first, so the result is unique.
/// @param sparsity_percent in [0, 100]: 0 changes nothing, 100 zeroes every kernel.
/// @return the entries set to 0 (including any that were 0 already).
/// @throws std::invalid_argument for a sparsity outside [0, 100] or @p parameters of another size than
///         the registry's total.
std::int64_t prune(std::span<float> parameters, const nn::ParameterRegistry& registry, double sparsity_percent,
                   PruningScope scope);

/// Entries of @p values that are not 0.
[[nodiscard]] std::int64_t count_nonzero(std::span<const float> values);

}  // namespace mpitrain::diagnose
