#pragma once
/// @file fuzz_common.hpp
/// Helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp). The readers under test take file
/// paths, so every harness writes its input to a scratch file first; /dev/shm (a RAM file system) keeps
/// that cheap. A harness reports a bug by calling fuzz_bug(), which aborts: libFuzzer then saves the input
/// as crash-<sha1> and prints the message. Expected errors (DataError, CheckpointError, ConfigError,
/// std::invalid_argument) are caught by the harness; any other exception escapes and aborts the same way.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace mpitrain::fuzz {

/// A file named `mpitrain-fuzz-<tag>-<pid><suffix>` in /dev/shm (or the system temp directory when
/// /dev/shm is absent), removed by the destructor. One process may hold several with distinct tags.
class ScratchFile {
 public:
  /// @param tag names the harness and role, e.g. "csv" or "idx-labels".
  /// @param suffix file name ending, e.g. ".h5" (HDF5 ignores it; kept for people reading crash logs).
  explicit ScratchFile(std::string_view tag, std::string_view suffix = "");
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile();

  /// The file's path.
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  /// Replaces the file's contents with @p bytes (any size, 0 included). Aborts via fuzz_bug() when the
  /// file system refuses: that is the harness's environment failing, not the reader.
  void write(std::span<const std::uint8_t> bytes) const;
  /// As write(), for text.
  void write(std::string_view text) const;

 private:
  std::filesystem::path path_;
};

/// Prints "fuzz bug: <what>" to stderr and aborts, so that libFuzzer records the input as a crash.
[[noreturn]] void fuzz_bug(const std::string& what);

/// Calls fuzz_bug() with @p what when @p ok is false: the harness's oracle for an invariant of a result.
inline void fuzz_check(bool ok, const std::string& what) {
  if (!ok) fuzz_bug(what);
}

}  // namespace mpitrain::fuzz
