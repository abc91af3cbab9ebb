#pragma once
/// @file mapped_file.hpp
/// A file's bytes, memory-mapped read-only and shared (POSIX mmap with PROT_READ, MAP_SHARED): every rank of
/// a node maps the same page-cache pages, so a text corpus is never copied whole per rank.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace mpitrain::data {

/// A read-only memory map of a whole regular file, unmapped by the destructor. Movable, not copyable.
class MappedFile {
 public:
  /// Maps @p path.
  /// @throws DataError "<path>: no such file (or not a regular file)", "<path>: cannot open for reading:
  ///         <errno text>", "<path>: the file is empty" or "<path>: mmap failed: <errno text>".
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// The file's bytes (size() bytes), valid while this object lives.
  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  /// The file's size in bytes (>= 1).
  [[nodiscard]] std::size_t size() const { return size_; }
  /// The path it was opened with, for messages.
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  void release() noexcept;

  std::string name_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace mpitrain::data
