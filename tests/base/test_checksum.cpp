// base::crc32 against the CRC-32 catalogue's check value and against zlib called directly.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "mpitrain/base/checksum.hpp"

using mpitrain::base::checksum_hex;
using mpitrain::base::crc32;

TEST(Crc32, MatchesTheCatalogueCheckValue) {
  // CRC-32/ISO-HDLC of the ASCII digits "123456789" is 0xCBF43926 (Greg Cook's CRC catalogue).
  constexpr std::string_view digits = "123456789";
  EXPECT_EQ(crc32(std::as_bytes(std::span(digits.data(), digits.size()))), 0xCBF43926u);
  EXPECT_EQ(crc32(std::span<const std::byte>()), 0u);
}

TEST(Crc32, FloatsAreTheirBytesAndBuffersChain) {
  const std::vector<float> a{1.0f, -2.5f, 3.25f}, b{0.0f, 1e-30f};
  std::vector<unsigned char> bytes((a.size() + b.size()) * sizeof(float));
  std::memcpy(bytes.data(), a.data(), a.size() * sizeof(float));
  std::memcpy(bytes.data() + a.size() * sizeof(float), b.data(), b.size() * sizeof(float));
  const auto whole = ::crc32(0L, bytes.data(), static_cast<uInt>(bytes.size()));
  EXPECT_EQ(crc32(b, crc32(a)), whole);
  EXPECT_NE(crc32(a, crc32(b)), whole);
}

TEST(Crc32, HexHasEightLowerCaseDigits) {
  EXPECT_EQ(checksum_hex(0xa960e96fu), "a960e96f");
  EXPECT_EQ(checksum_hex(0x00000abcu), "00000abc");
  EXPECT_EQ(checksum_hex(0xFFFFFFFFu), "ffffffff");
}
