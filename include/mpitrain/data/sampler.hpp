#pragma once
/// @file sampler.hpp
/// The distributed sampler. Each epoch has one permutation of the training set derived from (seed, epoch)
/// alone, the same on every rank and for every world size. Step s of the epoch uses the global batch
/// perm[s·G, min((s+1)·G, N)), split into contiguous per-rank slices whose sizes differ by at most one.
/// The number of steps per epoch is ceil(N / G) on every rank; in the last, partial global batch a rank
/// may get zero samples.

#include <cstdint>
#include <span>
#include <vector>

namespace mpitrain::data {

/// Half-open range [begin, end) of positions.
struct Range {
  std::int64_t begin = 0;  ///< First position.
  std::int64_t end = 0;    ///< One past the last position.
  /// Number of positions, end - begin.
  [[nodiscard]] std::int64_t size() const { return end - begin; }
};

/// Contiguous split of @p count items into @p parts slices whose sizes differ by at most one; the first
/// `count % parts` slices get one more. Returns slice @p index.
/// @throws std::invalid_argument when parts < 1, index outside [0, parts) or count < 0.
Range split_range(std::int64_t count, int parts, int index);

/// Per-epoch permutations and per-rank slices of global batches.
class DistributedSampler {
 public:
  /// @param samples N, the training-set size (>= 1).
  /// @param global_batch G, samples per optimizer step over all ranks (>= 1).
  /// @param seed the sampler seed.
  /// @throws std::invalid_argument for N < 1 or G < 1.
  /// The permutation of epoch 0 is built here; call set_epoch at the start of every epoch.
  DistributedSampler(std::int64_t samples, std::int64_t global_batch, std::uint64_t seed);

  /// Builds the permutation of @p epoch (0-based); the same for every world size: a Fisher–Yates shuffle
  /// driven by SplitMix64 seeded with next() of SplitMix64(seed ^ (0x9e3779b97f4a7c15 · (epoch + 1))).
  /// @throws std::invalid_argument for a negative epoch.
  void set_epoch(std::int64_t epoch);

  /// ceil(N / G).
  [[nodiscard]] std::int64_t steps_per_epoch() const;

  /// Number of samples in step @p step's global batch (G, or fewer for the last).
  /// @throws std::invalid_argument when step is outside [0, steps_per_epoch()).
  [[nodiscard]] std::int64_t global_count(std::int64_t step) const;

  /// The sample indices of rank @p rank of @p world_size in step @p step of the current epoch:
  /// permutation()[step·G + r.begin, step·G + r.end) with r = split_range(global_count(step), world_size, rank).
  /// May be empty in the last, partial step. The span is valid until the next set_epoch.
  /// @throws std::invalid_argument for a bad step, rank or world size.
  [[nodiscard]] std::span<const std::int64_t> slice(std::int64_t step, int rank, int world_size) const;

  /// The current epoch's permutation (N indices).
  [[nodiscard]] const std::vector<std::int64_t>& permutation() const { return perm_; }

 private:
  std::int64_t samples_;
  std::int64_t global_batch_;
  std::uint64_t seed_;
  std::vector<std::int64_t> perm_;  // N
};

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

 private:
  std::uint64_t state_;
};

}  // namespace mpitrain::data
