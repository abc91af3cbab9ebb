// Unit tests of the base stage: SplitMix64 and the Fisher–Yates shuffle.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "mpitrain/base/random.hpp"

namespace mpitrain::base {
namespace {

TEST(SplitMix64, MatchesPublishedOutputsForSeedZero) {
  // Vigna's reference splitmix64.c (and Java's SplittableRandom) with seed 0.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(rng.next(), 0x06c45d188009454fULL);
}

TEST(SplitMix64, BelowStaysInRangeAndMatchesMultiplyShift) {
  for (const std::uint64_t bound : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3}, std::uint64_t{10},
                                    std::uint64_t{1} << 32 | 1, std::uint64_t{1} << 63 | 1,
                                    std::numeric_limits<std::uint64_t>::max()}) {
    SplitMix64 rng(bound);
    for (int i = 0; i < 2000; ++i) ASSERT_LT(rng.below(bound), bound) << "bound " << bound;
  }
  // Without a rejection (probability 10 / 2^64 here), below(b) is the high word of next() · b.
  SplitMix64 a(99);
  SplitMix64 b(99);
  for (int i = 0; i < 100; ++i) {
    const long double x = static_cast<long double>(b.next());
    const auto expected = static_cast<std::uint64_t>(x * 10.0L / 18446744073709551616.0L);
    EXPECT_EQ(a.below(10), expected);
  }
  // Golden values computed with an independent Python implementation.
  SplitMix64 c(99);
  const std::vector<std::uint64_t> golden{2, 0, 8, 1, 1, 2, 6, 7};
  for (const std::uint64_t value : golden) EXPECT_EQ(c.below(10), value);
  EXPECT_THROW(SplitMix64(1).below(0), std::invalid_argument);
}

TEST(SplitMix64, BelowIsRoughlyUniform) {
  SplitMix64 rng(2024);
  std::vector<int> counts(6, 0);
  constexpr int draws = 60000;
  for (int i = 0; i < draws; ++i) ++counts[rng.below(6)];
  for (const int count : counts) EXPECT_NEAR(count, draws / 6, 500);  // ~5 standard deviations
}

TEST(SplitMix64, UniformFloatUsesTheTop24Bits) {
  SplitMix64 a(5);
  SplitMix64 b(5);
  for (int i = 0; i < 1000; ++i) {
    const float u = a.uniform_float();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    EXPECT_EQ(u, static_cast<float>(static_cast<double>(b.next() >> 40) / 16777216.0));
  }
}

TEST(SplitMix64, UniformDoubleUsesTheTop53Bits) {
  SplitMix64 a(5);
  SplitMix64 b(5);
  for (int i = 0; i < 1000; ++i) {
    const double u = a.uniform_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    EXPECT_EQ(u, std::ldexp(static_cast<double>(b.next() >> 11), -53));
  }
}

TEST(KeyedSeed, MatchesAnIndependentImplementationAndDependsOnTheOrder) {
  // Golden values from a Python implementation of the documented chain (h = SplitMix64(h ^ k).next()).
  EXPECT_EQ(keyed_seed({0}), 0xe220a8397b1dcdafULL);  // SplitMix64(0).next()
  EXPECT_EQ(keyed_seed({7, 3}), 0x6baa78681a99f995ULL);
  EXPECT_EQ(keyed_seed({3, 7}), 0xe880a903bcff6547ULL);
  EXPECT_EQ(keyed_seed({42, 5, 123456789, 0xdeadbeef}), 0xcfcda6221a3c87c6ULL);
}

TEST(Shuffle, MatchesAnIndependentImplementation) {
  // Golden values from an independent Python implementation of SplitMix64, Lemire's bounded draw and
  // Durstenfeld's loop (for i = n-1 down to 1: swap v[i] with v[below(i + 1)]).
  SplitMix64 rng(42);
  std::vector<int> v(10);
  std::iota(v.begin(), v.end(), 0);
  shuffle(rng, std::span<int>(v));
  EXPECT_EQ(v, (std::vector<int>{8, 3, 6, 5, 4, 0, 9, 2, 1, 7}));
  EXPECT_EQ(rng.next(), 0x9e54d738297f77aeULL);  // exactly n - 1 = 9 draws before (none rejected)
}

TEST(Shuffle, ShortSpansDrawNothing) {
  SplitMix64 a(3);
  SplitMix64 b(3);
  std::vector<int> one{5};
  shuffle(a, std::span<int>(one));
  shuffle(a, std::span<int>());
  EXPECT_EQ(one, std::vector<int>{5});
  EXPECT_EQ(a.next(), b.next());
}

}  // namespace
}  // namespace mpitrain::base
