#pragma once
/// @file random.hpp
/// The project's one random generator and its one shuffle. Anything random (shuffling, initialisation,
/// dropout masks) is drawn from a stream seeded by (seed, global sample index, ...), never from a per-rank
/// stream, so that results do not depend on the world size.

#include <cstdint>
#include <initializer_list>
#include <span>
#include <utility>

namespace mpitrain::base {

/// A 64-bit pseudo-random generator (SplitMix64, Steele, Lea and Flood, OOPSLA 2014) and an unbiased
/// bounded draw (Lemire, "Fast random integer generation in an interval", ACM TOMACS 2019). Written here
/// rather than taken from <random> because the standard distributions are not specified bit for bit, and
/// the sampler and the initialisation must be identical on every platform and rank.
class SplitMix64 {
 public:
  /// Starts the stream at @p seed; SplitMix64(0).next() is 0xe220a8397b1dcdaf.
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  /// Next 64 random bits.
  std::uint64_t next();
  /// Uniform integer in [0, bound), bound >= 1 (Lemire's multiply-shift with rejection: unbiased).
  /// @throws std::invalid_argument for bound 0.
  std::uint64_t below(std::uint64_t bound);
  /// Uniform float in [0, 1) with 24 random bits: (next() >> 40) · 2^-24.
  float uniform_float();
  /// Uniform double in [0, 1) with 53 random bits: (next() >> 11) · 2^-53.
  double uniform_double();

 private:
  std::uint64_t state_;
};

/// The seed of the stream of one keyed draw, a pure function of @p keys in order (e.g. the run's seed, the
/// global step, a sample's global index, a layer's key): h = 0, then for each key k, h = SplitMix64(h ^ k).next().
/// So a value drawn from SplitMix64(keyed_seed({...})) is the same on whichever rank computes it, and in a
/// resumed run. keyed_seed({k}) is SplitMix64(k).next().
std::uint64_t keyed_seed(std::initializer_list<std::uint64_t> keys);

/// Shuffles @p values in place with @p rng: Fisher–Yates in Durstenfeld's form (Knuth, TAOCP vol. 2,
/// Algorithm 3.4.2 P): for i = n-1 down to 1, swap values[i] with values[rng.below(i + 1)]. Draws n - 1
/// values from @p rng (none for n <= 1).
template <class T>
void shuffle(SplitMix64& rng, std::span<T> values) {
  for (std::size_t i = values.size(); i-- > 1;) {
    const auto j = static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(values[i], values[j]);
  }
}

}  // namespace mpitrain::base
