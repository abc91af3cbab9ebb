#pragma once
/// @file float16.hpp
/// 16-bit floating-point formats, stored as their bits in a `std::uint16_t`: bf16 is the upper half of an
/// IEEE-754 binary32 (8 significant bits, fp32's range; Kalamkar et al., "A Study of BFLOAT16 for Deep
/// Learning Training", arXiv:1905.12322, 2019); fp16 is IEEE-754-2008 binary16 (11 significant bits,
/// largest finite 65504). Every conversion to 16 bits rounds to nearest, ties to even, keeps subnormal
/// results, and turns a NaN into a quiet NaN of the same sign; every conversion to fp32 is exact. Used by
/// the gradient exchange (dist/compression.hpp) and by the bf16 matrix products (nn/matmul.hpp).

#include <bit>
#include <cstdint>
#include <span>

namespace mpitrain::base {

/// fp32 → bf16, round to nearest even; NaN → a quiet NaN (payload's upper bits kept, quiet bit set).
/// Inline and branch-free so that loops over arrays vectorise (the same bits as the scalar call).
inline std::uint16_t float_to_bf16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  // Round to nearest even: add 0x7fff plus the lowest kept bit, then truncate (a carry may reach the
  // exponent, and from the largest finite values to infinity, as rounding should).
  const std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const std::uint32_t quiet_nan = (bits >> 16) | 0x0040u;
  return static_cast<std::uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

/// bf16 → fp32 (exact).
inline float bf16_to_float(std::uint16_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16); }

/// fp32 → fp16, round to nearest even; overflow → ±inf; subnormal results kept; NaN → a quiet NaN.
std::uint16_t float_to_fp16(float value);
/// fp16 → fp32 (exact).
float fp16_to_float(std::uint16_t bits);

/// Rounds every element of @p in to bf16 into @p out, as float_to_bf16 (vectorised).
/// @throws std::invalid_argument when the lengths differ.
void round_to_bf16(std::span<const float> in, std::span<std::uint16_t> out);

}  // namespace mpitrain::base
