#include "mpitrain/base/random.hpp"

#include <stdexcept>

namespace mpitrain::base {

namespace {
constexpr std::uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL;
__extension__ typedef unsigned __int128 Uint128;  // __extension__: no -Wpedantic warning
}  // namespace

std::uint64_t SplitMix64::next() {
  // Steele, Lea and Flood 2014, with the finaliser constants of Stafford's "Mix13" variant.
  std::uint64_t z = (state_ += golden_gamma);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("SplitMix64::below: bound must be >= 1");
  // Lemire 2019: the high word of x·bound is uniform in [0, bound) once the low words below
  // 2^64 mod bound (the biased ones) are rejected; the modulo is only computed when a rejection is possible.
  Uint128 m = static_cast<Uint128>(next()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<Uint128>(next()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::uint64_t keyed_seed(std::initializer_list<std::uint64_t> keys) {
  std::uint64_t h = 0;
  for (const std::uint64_t k : keys) h = SplitMix64(h ^ k).next();
  return h;
}

float SplitMix64::uniform_float() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }

double SplitMix64::uniform_double() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

}  // namespace mpitrain::base
