#pragma once
/// @file checksum.hpp
/// One crc32 for the project: the checkpoint's parameter and optimizer-state checksums, the replica
/// agreement check and `param_checksum` in summary.json all use it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace mpitrain::base {

/// zlib's crc32 (CRC-32/ISO-HDLC, reflected polynomial 0xEDB88320, as in gzip, PNG and Python's
/// zlib.crc32) of @p bytes, of any length (zlib's crc32_z takes a size_t length).
/// @param previous the crc32 of the bytes before these, to checksum several buffers as one stream
///        (0 to start): crc32(b, crc32(a)) == crc32 of a followed by b.
std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t previous = 0);

/// crc32 of the bytes of @p values as they lie in memory (little-endian float32 on every supported
/// platform); see crc32(std::span<const std::byte>, std::uint32_t).
inline std::uint32_t crc32(std::span<const float> values, std::uint32_t previous = 0) {
  return crc32(std::as_bytes(values), previous);
}

/// @p crc as 8 lower-case hex digits ("a960e96f"), for logs and summary.json only: compare the numbers.
std::string checksum_hex(std::uint32_t crc);

}  // namespace mpitrain::base
