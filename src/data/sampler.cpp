#include "mpitrain/data/sampler.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "mpitrain/base/random.hpp"

namespace mpitrain::data {

namespace {
constexpr std::uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL;
}  // namespace

Range split_range(std::int64_t count, int parts, int index) {
  if (parts < 1) throw std::invalid_argument("split_range: parts must be >= 1, got " + std::to_string(parts));
  if (index < 0 || index >= parts) {
    throw std::invalid_argument("split_range: index " + std::to_string(index) + " outside [0, " +
                                std::to_string(parts) + ")");
  }
  if (count < 0) throw std::invalid_argument("split_range: count must be >= 0, got " + std::to_string(count));
  const std::int64_t base = count / parts;
  const std::int64_t extra = count % parts;
  const std::int64_t begin = index * base + std::min<std::int64_t>(index, extra);
  const std::int64_t size = base + (index < extra ? 1 : 0);
  return Range{begin, begin + size};
}

DistributedSampler::DistributedSampler(std::int64_t samples, std::int64_t global_batch, std::uint64_t seed)
    : samples_(samples), global_batch_(global_batch), seed_(seed) {
  if (samples < 1) {
    throw std::invalid_argument("DistributedSampler: samples must be >= 1, got " + std::to_string(samples));
  }
  if (global_batch < 1) {
    throw std::invalid_argument("DistributedSampler: global batch must be >= 1, got " + std::to_string(global_batch));
  }
  set_epoch(0);
}

void epoch_permutation(std::int64_t samples, std::uint64_t seed, std::int64_t epoch, std::vector<std::int64_t>& out) {
  if (epoch < 0) throw std::invalid_argument("epoch_permutation: negative epoch " + std::to_string(epoch));
  if (samples < 0) throw std::invalid_argument("epoch_permutation: negative sample count " + std::to_string(samples));
  // One next() of a generator seeded with the mixed (seed, epoch) decorrelates neighbouring epochs and seeds.
  base::SplitMix64 mixer(seed ^ (golden_gamma * static_cast<std::uint64_t>(epoch + 1)));
  base::SplitMix64 rng(mixer.next());
  out.resize(static_cast<std::size_t>(samples));
  std::iota(out.begin(), out.end(), std::int64_t{0});
  base::shuffle(rng, std::span<std::int64_t>(out));
}

void DistributedSampler::set_epoch(std::int64_t epoch) {
  if (epoch < 0) throw std::invalid_argument("DistributedSampler::set_epoch: negative epoch " + std::to_string(epoch));
  epoch_permutation(samples_, seed_, epoch, perm_);
  epoch_ = epoch;
}

std::int64_t DistributedSampler::steps_per_epoch() const { return (samples_ + global_batch_ - 1) / global_batch_; }

std::int64_t DistributedSampler::global_count(std::int64_t step) const {
  if (step < 0 || step >= steps_per_epoch()) {
    throw std::invalid_argument("DistributedSampler: step " + std::to_string(step) + " outside [0, " +
                                std::to_string(steps_per_epoch()) + ")");
  }
  return std::min(global_batch_, samples_ - step * global_batch_);
}

std::span<const std::int64_t> DistributedSampler::slice(std::int64_t step, int rank, int world_size) const {
  const Range local = split_range(global_count(step), world_size, rank);
  const std::int64_t offset = step * global_batch_ + local.begin;
  return {perm_.data() + offset, static_cast<std::size_t>(local.size())};
}

ShardSampler::ShardSampler(std::vector<std::int64_t> shard_sizes, std::int64_t global_batch, std::uint64_t seed,
                           int rank)
    : sizes_(std::move(shard_sizes)), seed_(seed), rank_(rank) {
  const auto world = static_cast<std::int64_t>(sizes_.size());
  if (world < 1) throw std::invalid_argument("ShardSampler: no shard sizes (empty world)");
  if (rank < 0 || rank >= world) {
    throw std::invalid_argument("ShardSampler: rank " + std::to_string(rank) + " outside [0, " +
                                std::to_string(world) + ")");
  }
  if (global_batch < world) {
    throw std::invalid_argument("ShardSampler: the global batch (" + std::to_string(global_batch) +
                                ") must be at least the world size (" + std::to_string(world) +
                                ") with data.shuffle = local, so that every shard is used");
  }
  for (std::size_t r = 0; r < sizes_.size(); ++r) {
    if (sizes_[r] < 0) throw std::invalid_argument("ShardSampler: negative shard size for rank " + std::to_string(r));
    total_ += sizes_[r];
    const std::int64_t share = split_range(global_batch, static_cast<int>(world), static_cast<int>(r)).size();
    shares_.push_back(share);
    steps_ = std::max(steps_, (sizes_[r] + share - 1) / share);
  }
  if (total_ < 1) throw std::invalid_argument("ShardSampler: the shards hold no sample at all");
  set_epoch(0);
}

void ShardSampler::set_epoch(std::int64_t epoch) {
  if (epoch < 0) throw std::invalid_argument("ShardSampler::set_epoch: negative epoch " + std::to_string(epoch));
  // Rank 0 keeps the seed itself (constant · 0 = 0): a world of one shuffles exactly as DistributedSampler.
  const std::uint64_t rank_seed = seed_ ^ (0xd1b54a32d192ed03ULL * static_cast<std::uint64_t>(rank_));
  epoch_permutation(sizes_[static_cast<std::size_t>(rank_)], rank_seed, epoch, perm_);
  epoch_ = epoch;
}

std::int64_t ShardSampler::steps_per_epoch() const { return steps_; }

void ShardSampler::check_step(std::int64_t step) const {
  if (step < 0 || step >= steps_) {
    throw std::invalid_argument("ShardSampler: step " + std::to_string(step) + " outside [0, " +
                                std::to_string(steps_) + ")");
  }
}

std::int64_t ShardSampler::global_count(std::int64_t step) const {
  check_step(step);
  std::int64_t count = 0;
  for (std::size_t r = 0; r < sizes_.size(); ++r) {
    count += std::clamp<std::int64_t>(sizes_[r] - step * shares_[r], 0, shares_[r]);
  }
  return count;
}

std::span<const std::int64_t> ShardSampler::slice(std::int64_t step, int rank, int world_size) const {
  if (rank != rank_ || world_size != static_cast<int>(sizes_.size())) {
    throw std::invalid_argument("ShardSampler: built for rank " + std::to_string(rank_) + " of " +
                                std::to_string(sizes_.size()) + ", asked for rank " + std::to_string(rank) +
                                " of " + std::to_string(world_size));
  }
  check_step(step);
  const auto r = static_cast<std::size_t>(rank_);
  const std::int64_t begin = std::min(step * shares_[r], sizes_[r]);
  const std::int64_t end = std::min(begin + shares_[r], sizes_[r]);
  return {perm_.data() + begin, static_cast<std::size_t>(end - begin)};
}

}  // namespace mpitrain::data
