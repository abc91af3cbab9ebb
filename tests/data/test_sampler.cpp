// Unit tests of split_range, DistributedSampler and ShardSampler (data.shuffle = local).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "mpitrain/data/sampler.hpp"

namespace mpitrain::data {
namespace {

TEST(SplitRange, CoversCountContiguouslyWithSizesWithinOne) {
  for (std::int64_t count = 0; count <= 60; ++count) {
    for (int parts = 1; parts <= 9; ++parts) {
      std::vector<std::int64_t> seen;
      std::int64_t next_begin = 0;
      std::int64_t smallest = std::numeric_limits<std::int64_t>::max();
      std::int64_t largest = 0;
      for (int index = 0; index < parts; ++index) {
        const Range r = split_range(count, parts, index);
        ASSERT_EQ(r.begin, next_begin) << "count " << count << " parts " << parts << " index " << index;
        ASSERT_GE(r.size(), 0);
        for (std::int64_t i = r.begin; i < r.end; ++i) seen.push_back(i);
        next_begin = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
        // The larger slices come first: a slice is never larger than the one before it.
        if (index > 0) {
          EXPECT_LE(r.size(), split_range(count, parts, index - 1).size());
        }
      }
      EXPECT_EQ(next_begin, count);
      EXPECT_LE(largest - smallest, 1);
      std::vector<std::int64_t> expected(static_cast<std::size_t>(count));
      std::iota(expected.begin(), expected.end(), std::int64_t{0});
      EXPECT_EQ(seen, expected);
    }
  }
}

TEST(SplitRange, KnownSplits) {
  // 10 into 4: 3, 3, 2, 2.
  EXPECT_EQ(split_range(10, 4, 0).begin, 0);
  EXPECT_EQ(split_range(10, 4, 0).end, 3);
  EXPECT_EQ(split_range(10, 4, 1).end, 6);
  EXPECT_EQ(split_range(10, 4, 2).end, 8);
  EXPECT_EQ(split_range(10, 4, 3).end, 10);
  // 2 into 3: 1, 1, 0.
  EXPECT_EQ(split_range(2, 3, 2).size(), 0);
  EXPECT_EQ(split_range(2, 3, 2).begin, 2);
}

TEST(SplitRange, RejectsBadArguments) {
  EXPECT_THROW(split_range(5, 0, 0), std::invalid_argument);
  EXPECT_THROW(split_range(5, 3, 3), std::invalid_argument);
  EXPECT_THROW(split_range(5, 3, -1), std::invalid_argument);
  EXPECT_THROW(split_range(-1, 3, 0), std::invalid_argument);
}

TEST(DistributedSampler, PermutationIsAPermutationAndMatchesGolden) {
  DistributedSampler sampler(10, 4, 7);
  sampler.set_epoch(0);
  // Computed with an independent Python implementation of the documented construction.
  EXPECT_EQ(sampler.permutation(), (std::vector<std::int64_t>{3, 7, 6, 1, 4, 2, 8, 9, 0, 5}));
  sampler.set_epoch(1);
  EXPECT_EQ(sampler.permutation(), (std::vector<std::int64_t>{0, 6, 3, 5, 1, 8, 2, 9, 7, 4}));

  DistributedSampler big(1001, 64, 12345);
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    big.set_epoch(epoch);
    std::vector<std::int64_t> sorted = big.permutation();
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> expected(1001);
    std::iota(expected.begin(), expected.end(), std::int64_t{0});
    EXPECT_EQ(sorted, expected);
  }
}

TEST(DistributedSampler, EpochsDifferAndAreReproducible) {
  DistributedSampler sampler(200, 32, 1);
  sampler.set_epoch(1);
  const std::vector<std::int64_t> first = sampler.permutation();
  sampler.set_epoch(2);
  const std::vector<std::int64_t> second = sampler.permutation();
  EXPECT_NE(first, second);
  sampler.set_epoch(1);
  EXPECT_EQ(sampler.permutation(), first);
  DistributedSampler other_seed(200, 32, 2);
  other_seed.set_epoch(1);
  EXPECT_NE(other_seed.permutation(), first);
  // The global batch size does not enter the permutation either.
  DistributedSampler other_batch(200, 7, 1);
  other_batch.set_epoch(1);
  EXPECT_EQ(other_batch.permutation(), first);
}

TEST(DistributedSampler, ShufflesAreUnbiased) {
  // All 24 orders of 4 items should appear about equally often over many epochs.
  DistributedSampler sampler(4, 4, 77);
  std::map<std::vector<std::int64_t>, int> counts;
  constexpr int epochs = 24000;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    sampler.set_epoch(epoch);
    ++counts[sampler.permutation()];
  }
  EXPECT_EQ(counts.size(), 24U);
  for (const auto& [order, count] : counts) EXPECT_NEAR(count, epochs / 24, 160);  // ~5 standard deviations
}

TEST(DistributedSampler, StepsPerEpochIsCeiling) {
  EXPECT_EQ(DistributedSampler(100, 10, 0).steps_per_epoch(), 10);
  EXPECT_EQ(DistributedSampler(103, 10, 0).steps_per_epoch(), 11);
  EXPECT_EQ(DistributedSampler(5, 10, 0).steps_per_epoch(), 1);
  EXPECT_EQ(DistributedSampler(1, 1, 0).steps_per_epoch(), 1);
  const DistributedSampler sampler(103, 10, 0);
  EXPECT_EQ(sampler.global_count(0), 10);
  EXPECT_EQ(sampler.global_count(9), 10);
  EXPECT_EQ(sampler.global_count(10), 3);
  EXPECT_THROW((void)sampler.global_count(11), std::invalid_argument);
  EXPECT_THROW((void)sampler.global_count(-1), std::invalid_argument);
  EXPECT_EQ(DistributedSampler(5, 10, 0).global_count(0), 5);
}

TEST(DistributedSampler, UnionOfRankSlicesIsTheGlobalBatchInOrder) {
  DistributedSampler sampler(103, 10, 9);
  sampler.set_epoch(2);
  const std::vector<std::int64_t>& perm = sampler.permutation();
  for (int world = 1; world <= 7; ++world) {
    std::vector<std::int64_t> all;
    for (std::int64_t step = 0; step < sampler.steps_per_epoch(); ++step) {
      std::vector<std::int64_t> joined;
      std::size_t smallest = std::numeric_limits<std::size_t>::max();
      std::size_t largest = 0;
      for (int rank = 0; rank < world; ++rank) {
        const auto slice = sampler.slice(step, rank, world);
        joined.insert(joined.end(), slice.begin(), slice.end());
        smallest = std::min(smallest, slice.size());
        largest = std::max(largest, slice.size());
      }
      const auto begin = perm.begin() + step * 10;
      const std::vector<std::int64_t> global(begin, begin + sampler.global_count(step));
      EXPECT_EQ(joined, global) << "world " << world << " step " << step;
      EXPECT_LE(largest - smallest, 1U) << "world " << world << " step " << step;
      all.insert(all.end(), joined.begin(), joined.end());
    }
    EXPECT_EQ(all, perm) << "world " << world;  // one epoch visits every sample once
  }
}

TEST(DistributedSampler, RankMayGetNoSamplesInPartialLastBatch) {
  DistributedSampler sampler(103, 10, 3);
  // The last global batch has 3 samples; with 4 ranks the last one gets none.
  EXPECT_EQ(sampler.slice(10, 0, 4).size(), 1U);
  EXPECT_EQ(sampler.slice(10, 2, 4).size(), 1U);
  EXPECT_TRUE(sampler.slice(10, 3, 4).empty());
  EXPECT_EQ(sampler.slice(10, 0, 4)[0], sampler.permutation()[100]);
}

TEST(DistributedSampler, RejectsBadArguments) {
  EXPECT_THROW(DistributedSampler(0, 10, 0), std::invalid_argument);
  EXPECT_THROW(DistributedSampler(10, 0, 0), std::invalid_argument);
  DistributedSampler sampler(10, 4, 0);
  EXPECT_THROW((void)sampler.slice(0, 2, 2), std::invalid_argument);
  EXPECT_THROW((void)sampler.slice(3, 0, 1), std::invalid_argument);
}

// A world of one holds the whole set as its shard: local shuffling is then exactly the global sampler.
TEST(ShardSampler, WorldOfOneShufflesAsTheGlobalSampler) {
  DistributedSampler global(103, 10, 42);
  ShardSampler local({103}, 10, 42, 0);
  ASSERT_EQ(local.steps_per_epoch(), global.steps_per_epoch());
  EXPECT_EQ(local.samples(), 103);
  EXPECT_EQ(global.samples(), 103);
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    global.set_epoch(epoch);
    local.set_epoch(epoch);
    EXPECT_EQ(local.permutation(), global.permutation()) << "epoch " << epoch;
    for (std::int64_t step = 0; step < global.steps_per_epoch(); ++step) {
      const auto a = global.slice(step, 0, 1);
      const auto b = local.slice(step, 0, 1);
      ASSERT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << "epoch " << epoch << " step " << step;
      EXPECT_EQ(local.global_count(step), global.global_count(step));
    }
  }
}

// Shards of 7, 5 and 0 samples, global batch 4 (shares 2, 1, 1): every rank's samplers agree on the steps,
// each rank uses each of its samples exactly once per epoch, and global_count is the sum of the slices.
TEST(ShardSampler, EveryShardSampleOncePerEpochAndCountsAddUp) {
  const std::vector<std::int64_t> sizes{7, 5, 0};
  std::vector<ShardSampler> ranks;
  for (int r = 0; r < 3; ++r) ranks.emplace_back(sizes, 4, 9, r);
  ASSERT_EQ(ranks[0].steps_per_epoch(), 5);  // rank 1: 5 samples at 1 per step
  for (const auto& sampler : ranks) EXPECT_EQ(sampler.samples(), 7 + 5 + 0);
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    std::vector<std::vector<std::int64_t>> used(3);
    for (auto& sampler : ranks) sampler.set_epoch(epoch);
    for (std::int64_t step = 0; step < 5; ++step) {
      std::int64_t count = 0;
      for (int r = 0; r < 3; ++r) {
        EXPECT_EQ(ranks[static_cast<std::size_t>(r)].steps_per_epoch(), 5);
        const auto slice = ranks[static_cast<std::size_t>(r)].slice(step, r, 3);
        EXPECT_LE(static_cast<std::int64_t>(slice.size()), r == 0 ? 2 : 1);
        count += static_cast<std::int64_t>(slice.size());
        used[static_cast<std::size_t>(r)].insert(used[static_cast<std::size_t>(r)].end(), slice.begin(), slice.end());
      }
      for (int r = 0; r < 3; ++r) EXPECT_EQ(ranks[static_cast<std::size_t>(r)].global_count(step), count);
    }
    for (int r = 0; r < 3; ++r) {
      auto u = used[static_cast<std::size_t>(r)];
      std::sort(u.begin(), u.end());
      std::vector<std::int64_t> all(static_cast<std::size_t>(sizes[static_cast<std::size_t>(r)]));
      std::iota(all.begin(), all.end(), std::int64_t{0});
      EXPECT_EQ(u, all) << "rank " << r << " epoch " << epoch;
    }
  }
  // Ranks with equal shard sizes still shuffle differently; epochs differ too.
  ShardSampler a({50, 50}, 10, 1, 0), b({50, 50}, 10, 1, 1);
  EXPECT_NE(a.permutation(), b.permutation());
  const auto first = a.permutation();
  a.set_epoch(1);
  EXPECT_NE(a.permutation(), first);
}

TEST(ShardSampler, RejectsImpossibleSplits) {
  EXPECT_THROW(ShardSampler({}, 4, 0, 0), std::invalid_argument);
  EXPECT_THROW(ShardSampler({0, 0}, 4, 0, 0), std::invalid_argument);      // no sample at all
  EXPECT_THROW(ShardSampler({5, 5, 5}, 2, 0, 0), std::invalid_argument);   // a rank would get no share
  EXPECT_THROW(ShardSampler({5, -1}, 4, 0, 0), std::invalid_argument);
  EXPECT_THROW(ShardSampler({5, 5}, 4, 0, 2), std::invalid_argument);
  ShardSampler sampler({5, 5}, 4, 0, 1);
  EXPECT_THROW((void)sampler.slice(0, 0, 2), std::invalid_argument);  // another rank's slice
  EXPECT_THROW((void)sampler.slice(0, 1, 3), std::invalid_argument);
  EXPECT_THROW((void)sampler.slice(3, 1, 2), std::invalid_argument);  // 3 steps: [0, 3)
}

}  // namespace
}  // namespace mpitrain::data
