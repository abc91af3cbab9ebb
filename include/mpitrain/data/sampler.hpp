#pragma once
/// @file sampler.hpp
/// The distributed sampler. Each epoch has one permutation of the training set derived from (seed, epoch)
/// alone, the same on every rank and for every world size. Step s of the epoch uses the global batch
/// perm[s·G, min((s+1)·G, N)), split into contiguous per-rank slices whose sizes differ by at most one.
/// The number of steps per epoch is ceil(N / G) on every rank; in the last, partial global batch a rank
/// may get zero samples. ShardSampler (data.shuffle = local) instead shuffles within each rank's own shard;
/// its results depend on the world size.

#include <cstdint>
#include <span>
#include <vector>

#include "mpitrain/base/range.hpp"

namespace mpitrain::data {

using base::Range;

/// Contiguous split of @p count items into @p parts slices whose sizes differ by at most one; the first
/// `count % parts` slices get one more. Returns slice @p index.
/// @throws std::invalid_argument when parts < 1, index outside [0, parts) or count < 0.
Range split_range(std::int64_t count, int parts, int index);

/// What the training loop asks of a sampler: per-epoch orders and, for each step, this rank's sample
/// indices and the global batch's sample count. Implemented by DistributedSampler (data.shuffle = global)
/// and ShardSampler (data.shuffle = local).
class BatchSampler {
 public:
  virtual ~BatchSampler() = default;
  /// Builds the order of @p epoch (0-based). @throws std::invalid_argument for a negative epoch.
  virtual void set_epoch(std::int64_t epoch) = 0;
  /// Samples of one epoch, summed over all ranks (each used once per epoch).
  [[nodiscard]] virtual std::int64_t samples() const = 0;
  /// Steps per epoch, the same on every rank.
  [[nodiscard]] virtual std::int64_t steps_per_epoch() const = 0;
  /// Samples in step @p step's global batch, summed over all ranks.
  /// @throws std::invalid_argument when step is outside [0, steps_per_epoch()).
  [[nodiscard]] virtual std::int64_t global_count(std::int64_t step) const = 0;
  /// Row indices (into the data set this rank holds) of rank @p rank's slice of step @p step; possibly
  /// empty. Valid until the next set_epoch. @throws std::invalid_argument for a bad step, rank or world size.
  [[nodiscard]] virtual std::span<const std::int64_t> slice(std::int64_t step, int rank, int world_size) const = 0;
  /// The epoch of the last set_epoch (0 before any).
  [[nodiscard]] std::int64_t epoch() const { return epoch_; }

 protected:
  std::int64_t epoch_ = 0;  ///< Set by set_epoch.
};

/// The permutation of epoch @p epoch of @p samples items: a Fisher–Yates shuffle driven by SplitMix64 seeded
/// with next() of SplitMix64(seed ^ (0x9e3779b97f4a7c15 · (epoch + 1))). Written into @p out (resized).
/// @throws std::invalid_argument for a negative epoch or sample count.
void epoch_permutation(std::int64_t samples, std::uint64_t seed, std::int64_t epoch, std::vector<std::int64_t>& out);

/// Per-epoch permutations and per-rank slices of global batches.
class DistributedSampler final : public BatchSampler {
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
  void set_epoch(std::int64_t epoch) override;

  /// N.
  [[nodiscard]] std::int64_t samples() const override { return samples_; }
  /// ceil(N / G).
  [[nodiscard]] std::int64_t steps_per_epoch() const override;

  /// Number of samples in step @p step's global batch (G, or fewer for the last).
  /// @throws std::invalid_argument when step is outside [0, steps_per_epoch()).
  [[nodiscard]] std::int64_t global_count(std::int64_t step) const override;

  /// The sample indices of rank @p rank of @p world_size in step @p step of the current epoch:
  /// permutation()[step·G + r.begin, step·G + r.end) with r = split_range(global_count(step), world_size, rank).
  /// May be empty in the last, partial step. The span is valid until the next set_epoch.
  /// @throws std::invalid_argument for a bad step, rank or world size.
  [[nodiscard]] std::span<const std::int64_t> slice(std::int64_t step, int rank, int world_size) const override;

  /// The current epoch's permutation (N indices).
  [[nodiscard]] const std::vector<std::int64_t>& permutation() const { return perm_; }

 private:
  std::int64_t samples_;
  std::int64_t global_batch_;
  std::uint64_t seed_;
  std::vector<std::int64_t> perm_;  // N
};

/// The sampler of data.shuffle = local: rank r holds only its shard of n_r samples (rows 0..n_r-1 of its
/// own data set) and shuffles within it. Its share of every global batch of G samples is
/// b_r = split_range(G, world size, r).size() samples (contiguous shares whose sizes differ by at most one,
/// as with the global sampler). Each epoch, rank r takes the permutation epoch_permutation(n_r, seed_r,
/// epoch) of its shard, with seed_r = seed ^ (0xd1b54a32d192ed03 · r), so rank 0 (and a world of one)
/// shuffles exactly as DistributedSampler; step s uses positions [s·b_r, min((s+1)·b_r, n_r)) of it. The
/// number of steps per epoch is max over ranks of ceil(n_r / b_r), so every sample of every shard is used
/// once per epoch, and a rank whose shard is used up gets no samples in the last steps.
/// Results depend on the world size (the shards and the batches' make-up do).
class ShardSampler final : public BatchSampler {
 public:
  /// @param shard_sizes n_r of every rank (size = world size; the caller gathers them), each >= 0, sum >= 1.
  /// @param global_batch G >= world size, so that every rank's share is at least one sample.
  /// @param seed the sampler seed. @param rank this rank, in [0, world size).
  /// @throws std::invalid_argument for an empty world, a negative size, no sample at all, G < world size
  ///         or a bad rank.
  ShardSampler(std::vector<std::int64_t> shard_sizes, std::int64_t global_batch, std::uint64_t seed, int rank);
  /// Permutes this rank's shard for @p epoch. @throws std::invalid_argument for a negative epoch.
  void set_epoch(std::int64_t epoch) override;
  /// Sum over ranks r of n_r.
  [[nodiscard]] std::int64_t samples() const override { return total_; }
  /// max over ranks r of ceil(n_r / b_r).
  [[nodiscard]] std::int64_t steps_per_epoch() const override;
  /// Sum over ranks r of clamp(n_r - step·b_r, 0, b_r).
  [[nodiscard]] std::int64_t global_count(std::int64_t step) const override;
  /// Positions [step·b_r, min((step+1)·b_r, n_r)) of this rank's permutation (row indices into its shard).
  /// @throws std::invalid_argument for a bad step, or a rank or world size other than the constructor's.
  [[nodiscard]] std::span<const std::int64_t> slice(std::int64_t step, int rank, int world_size) const override;
  /// The current epoch's permutation of this rank's shard (n_rank indices).
  [[nodiscard]] const std::vector<std::int64_t>& permutation() const { return perm_; }

 private:
  void check_step(std::int64_t step) const;  // throws std::invalid_argument outside [0, steps_)

  std::vector<std::int64_t> sizes_;   // n_r, world size
  std::vector<std::int64_t> shares_;  // b_r, world size
  std::uint64_t seed_;
  int rank_;
  std::int64_t total_ = 0;  // sum of sizes_
  std::int64_t steps_ = 0;
  std::vector<std::int64_t> perm_;  // n_rank
};

}  // namespace mpitrain::data
