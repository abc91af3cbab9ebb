// bf16 and fp16 conversions against hand-computed bit patterns: ties, subnormals, infinities, NaN.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "mpitrain/base/float16.hpp"
#include "mpitrain/base/random.hpp"

namespace mpitrain::base {
namespace {

float from_bits(std::uint32_t bits) { return std::bit_cast<float>(bits); }

TEST(Bf16, HandComputedRoundings) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f), 0x3f80);              // a tie: to the even 1.0
  EXPECT_EQ(float_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);          // a tie: to the even 1 + 2^-6
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);   // above the tie: up
  EXPECT_EQ(float_to_bf16(-(1.0f + 0x1p-8f)), 0xbf80);           // negative tie: to the even, magnitude down
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f - 0x1p-23f), 0x3f80);   // just below the tie: down
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7f80);   // rounds to +inf
  EXPECT_EQ(float_to_bf16(from_bits(0x7f7f7fffu)), 0x7f7f);      // below the midpoint: the largest finite bf16
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(float_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(float_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(bf16_to_float(0x3fc0), 1.5f);
}

TEST(Bf16, SubnormalsAreKeptAndRoundedToNearestEven) {
  // The smallest float subnormal, 2^-149 (bits 0x00000001), is below half of the smallest bf16 subnormal
  // 2^-133 (bits 0x0001): it rounds to zero. Bits 0x00008000 are exactly half of it: a tie, to even 0.
  EXPECT_EQ(float_to_bf16(from_bits(0x00000001u)), 0x0000);
  EXPECT_EQ(float_to_bf16(from_bits(0x00008000u)), 0x0000);
  EXPECT_EQ(float_to_bf16(from_bits(0x00008001u)), 0x0001);      // above the tie: the smallest subnormal
  EXPECT_EQ(float_to_bf16(from_bits(0x00018000u)), 0x0002);      // 1.5 of it: a tie, to even 2
  EXPECT_EQ(float_to_bf16(from_bits(0x007fffffu)), 0x0080);      // the largest subnormal rounds up to 2^-126
  EXPECT_EQ(float_to_bf16(from_bits(0x80010000u)), 0x8001);      // negative subnormal, exact
  EXPECT_EQ(bf16_to_float(0x0001), 0x1p-133f);
}

TEST(Bf16, NaNStaysANaNOfTheSameSign) {
  const std::uint16_t quiet = float_to_bf16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bf16_to_float(quiet)));
  // A signalling NaN whose payload lies only in the lower 16 bits would truncate to infinity: the quiet
  // bit keeps it a NaN.
  const std::uint16_t low_payload = float_to_bf16(from_bits(0x7f800001u));
  EXPECT_EQ(low_payload, 0x7fc0);
  const std::uint16_t negative = float_to_bf16(from_bits(0xff800001u));
  EXPECT_EQ(negative, 0xffc0);
  EXPECT_TRUE(std::isnan(bf16_to_float(negative)) && std::signbit(bf16_to_float(negative)));
  // NaN with bits that would carry into the sign if rounded: stays a NaN.
  EXPECT_EQ(float_to_bf16(from_bits(0x7fffffffu)), 0x7fff);
}

TEST(Bf16, ArrayRoundingEqualsTheScalarOne) {
  SplitMix64 rng(7);
  std::vector<float> values(1031);  // odd length: vector body and scalar tail
  for (float& v : values) v = from_bits(static_cast<std::uint32_t>(rng.next()));  // every class of float
  values[0] = std::numeric_limits<float>::quiet_NaN();
  values[1] = from_bits(0x00008000u);
  std::vector<std::uint16_t> out(values.size());
  round_to_bf16(values, out);
  for (std::size_t i = 0; i < values.size(); ++i) ASSERT_EQ(out[i], float_to_bf16(values[i])) << i;
  std::vector<std::uint16_t> short_out(3);
  EXPECT_THROW(round_to_bf16(values, short_out), std::invalid_argument);
}

TEST(Fp16, HandComputedRoundings) {
  EXPECT_EQ(float_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_fp16(0.1f), 0x2e66);        // 0.0999755859375, the nearest binary16
  EXPECT_EQ(float_to_fp16(65504.0f), 0x7bff);    // the largest finite
  EXPECT_EQ(float_to_fp16(65519.0f), 0x7bff);    // below the midpoint to 65536
  EXPECT_EQ(float_to_fp16(65520.0f), 0x7c00);    // the midpoint: to even, which is +inf
  EXPECT_EQ(float_to_fp16(0x1p-24f), 0x0001);    // the smallest subnormal
  EXPECT_EQ(float_to_fp16(0x1p-25f), 0x0000);    // half of it: a tie, to even 0
  EXPECT_EQ(float_to_fp16(3 * 0x1p-25f), 0x0002);  // 1.5 of it: a tie, to even 2
  EXPECT_EQ(fp16_to_float(0x0001), 0x1p-24f);
  EXPECT_EQ(fp16_to_float(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_float(float_to_fp16(std::numeric_limits<float>::quiet_NaN()))));
}

}  // namespace
}  // namespace mpitrain::base
