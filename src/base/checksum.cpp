#include "mpitrain/base/checksum.hpp"

#include <spdlog/fmt/fmt.h>
#include <zlib.h>

namespace mpitrain::base {

std::uint32_t crc32(std::span<const std::byte> bytes, std::uint32_t previous) {
  return static_cast<std::uint32_t>(
      crc32_z(previous, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<z_size_t>(bytes.size())));
}

std::string checksum_hex(std::uint32_t crc) { return fmt::format("{:08x}", crc); }

}  // namespace mpitrain::base
