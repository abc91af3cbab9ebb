#include "mpitrain/nn/parameters.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

namespace mpitrain::nn {

const ParameterInfo& ParameterRegistry::add(std::string layer, std::string name, std::int64_t rows,
                                            std::int64_t cols, bool decay) {
  if (rows < 1 || cols < 1) {
    throw std::invalid_argument("parameter " + name + ": shape must be positive");
  }
  if (find(name)) throw std::invalid_argument("duplicate parameter name " + name);
  // A shape read from a file (a checkpoint's `inputs`) can be anything: overflow is an error, not UB.
  std::int64_t size = 0;
  std::int64_t total = 0;
  if (__builtin_mul_overflow(rows, cols, &size) || __builtin_add_overflow(total_, size, &total)) {
    throw std::invalid_argument("parameter " + name + ": " + std::to_string(rows) + " x " + std::to_string(cols) +
                                " elements overflow the 64-bit parameter count");
  }
  entries_.push_back(ParameterInfo{std::move(name), std::move(layer), total_, rows, cols, decay});
  total_ = total;
  return entries_.back();
}

std::optional<ParameterInfo> ParameterRegistry::find(const std::string& name) const {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const ParameterInfo& p) { return p.name == name; });
  if (it == entries_.end()) return std::nullopt;
  return *it;
}

bool all_finite(std::span<const float> values) noexcept {
  constexpr std::uint32_t exponent = 0x7f800000u;
  std::uint32_t found = 0;  // ORs, per element, "the exponent is all ones"
  for (const float v : values) {
    const auto bits = std::bit_cast<std::uint32_t>(v);
    found |= static_cast<std::uint32_t>((bits & exponent) == exponent);
  }
  return found == 0;
}

}  // namespace mpitrain::nn
