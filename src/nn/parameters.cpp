#include "mpitrain/nn/parameters.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::nn {

std::string to_string(const InitRule& rule) {
  switch (rule.kind) {
    case InitRule::Kind::zeros: return "zeros";
    case InitRule::Kind::ones: return "ones";
    case InitRule::Kind::glorot_uniform: return fmt::format("glorot_uniform({}, {})", rule.fan_in, rule.fan_out);
    case InitRule::Kind::normal: return fmt::format("normal({})", rule.stddev);
  }
  return "?";
}

void initialize(std::span<float> values, const InitRule& rule, base::SplitMix64& rng) {
  switch (rule.kind) {
    case InitRule::Kind::zeros: std::fill(values.begin(), values.end(), 0.0f); return;
    case InitRule::Kind::ones: std::fill(values.begin(), values.end(), 1.0f); return;
    case InitRule::Kind::glorot_uniform: {
      const float limit = static_cast<float>(std::sqrt(6.0 / static_cast<double>(rule.fan_in + rule.fan_out)));
      for (float& v : values) v = (2.0f * rng.uniform_float() - 1.0f) * limit;
      return;
    }
    case InitRule::Kind::normal:
      // Box–Muller (Box and Muller, Ann. Math. Statist. 1958): two normals from two uniforms.
      for (std::size_t i = 0; i < values.size(); i += 2) {
        const double r = std::sqrt(-2.0 * std::log1p(-rng.uniform_double()));  // 1 - u in (0, 1]
        const double angle = 2.0 * std::numbers::pi * rng.uniform_double();
        values[i] = static_cast<float>(rule.stddev * r * std::cos(angle));
        if (i + 1 < values.size()) values[i + 1] = static_cast<float>(rule.stddev * r * std::sin(angle));
      }
      return;
  }
}

std::int64_t ParameterInfo::size() const { return base::element_count(shape); }

const ParameterInfo& ParameterRegistry::add(std::string layer, std::string name, std::vector<std::int64_t> shape,
                                            InitRule init, bool decay) {
  if (find(name)) throw std::invalid_argument("duplicate tensor name " + name);
  if (shape.empty()) throw std::invalid_argument("tensor " + name + ": the shape has no dimension");
  std::int64_t size = 0;
  try {
    size = base::element_count(shape);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("tensor " + name + ": " + e.what());
  }
  const bool glorot = init.kind == InitRule::Kind::glorot_uniform;
  if ((glorot && (init.fan_in < 1 || init.fan_out < 1)) ||
      (init.kind == InitRule::Kind::normal && !(init.stddev > 0.0))) {
    throw std::invalid_argument("tensor " + name + ": invalid init rule " + to_string(init));
  }
  // A shape read from a file (a checkpoint's spec) can be anything: overflow is an error, not UB.
  std::int64_t total = 0;
  if (__builtin_add_overflow(total_, size, &total)) {
    throw std::invalid_argument("tensor " + name + " " + base::format_shape(shape) +
                                ": the element count overflows the 64-bit total");
  }
  entries_.push_back(ParameterInfo{std::move(name), std::move(layer), total_, std::move(shape), init, decay});
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
