#include "mpitrain/diagnose/pruning.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mpitrain::diagnose {

namespace {

// Zeroes the @p count entries of smallest magnitude among the flat positions @p positions of @p values,
// ties to the lower position: the order (|w|, position) is strict, so the set is unique.
void zero_smallest(std::span<float> values, std::vector<std::int64_t>& positions, std::int64_t count) {
  if (count <= 0) return;
  const auto smaller = [&](std::int64_t a, std::int64_t b) {
    const float ma = std::abs(values[static_cast<std::size_t>(a)]);
    const float mb = std::abs(values[static_cast<std::size_t>(b)]);
    return ma < mb || (ma == mb && a < b);
  };
  if (count < static_cast<std::int64_t>(positions.size())) {
    std::nth_element(positions.begin(), positions.begin() + count, positions.end(), smaller);
  }
  for (std::int64_t i = 0; i < count; ++i) values[static_cast<std::size_t>(positions[static_cast<std::size_t>(i)])] = 0.0f;
}

void append_positions(const nn::ParameterInfo& tensor, std::vector<std::int64_t>& positions) {
  for (std::int64_t i = 0; i < tensor.size(); ++i) positions.push_back(tensor.offset + i);
}

std::int64_t share(std::int64_t n, double percent) {
  return std::min<std::int64_t>(n, std::llround(static_cast<double>(n) * percent / 100.0));
}

}  // namespace

bool is_kernel(const nn::ParameterInfo& tensor) {
  constexpr std::string_view suffix = "/kernel:0";
  return tensor.name.size() > suffix.size() && tensor.name.ends_with(suffix);
}

std::vector<nn::ParameterInfo> kernels_of(const nn::ParameterRegistry& registry) {
  std::vector<nn::ParameterInfo> out;
  for (const auto& p : registry.entries()) {
    if (is_kernel(p)) out.push_back(p);
  }
  return out;
}

std::string to_string(PruningScope scope) { return scope == PruningScope::layer ? "layer" : "global"; }

std::int64_t prune(std::span<float> parameters, const nn::ParameterRegistry& registry, double sparsity_percent,
                   PruningScope scope) {
  if (!(sparsity_percent >= 0.0 && sparsity_percent <= 100.0)) {
    throw std::invalid_argument("pruning sparsity " + std::to_string(sparsity_percent) + "% is outside [0, 100]");
  }
  if (static_cast<std::int64_t>(parameters.size()) != registry.total()) {
    throw std::invalid_argument("pruning: " + std::to_string(parameters.size()) + " parameters, the registry has " +
                                std::to_string(registry.total()));
  }
  std::int64_t zeroed = 0;
  std::vector<std::int64_t> positions;
  if (scope == PruningScope::layer) {
    for (const auto& kernel : kernels_of(registry)) {
      positions.clear();
      append_positions(kernel, positions);
      const std::int64_t count = share(kernel.size(), sparsity_percent);
      zero_smallest(parameters, positions, count);
      zeroed += count;
    }
  } else {
    for (const auto& kernel : kernels_of(registry)) append_positions(kernel, positions);
    zeroed = share(static_cast<std::int64_t>(positions.size()), sparsity_percent);
    zero_smallest(parameters, positions, zeroed);
  }
  return zeroed;
}

std::int64_t count_nonzero(std::span<const float> values) {
  return static_cast<std::int64_t>(std::ranges::count_if(values, [](float v) { return v != 0.0f; }));
}

}  // namespace mpitrain::diagnose
