#pragma once
/// @file range.hpp
/// Half-open ranges of positions (samples, records, elements of a flat buffer).

#include <cstdint>

namespace mpitrain::base {

/// Half-open range [begin, end) of positions.
struct Range {
  std::int64_t begin = 0;  ///< First position.
  std::int64_t end = 0;    ///< One past the last position.
  /// Number of positions, end - begin.
  [[nodiscard]] std::int64_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

}  // namespace mpitrain::base
