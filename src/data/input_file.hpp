#pragma once
/// @file input_file.hpp
/// Private to src/data: a data file read sequentially, plain or gzip-compressed, for the IDX and CSV readers.
/// A file whose first two bytes are the gzip magic 1f 8b is decompressed with zlib's inflate (RFC 1952;
/// members concatenated as by `cat a.gz b.gz` are read one after the other, as gzip(1) does); any other
/// file is read as it is. Unlike zlib's gzread, which ignores bytes after the last gzip member, such
/// trailing bytes are an error, as trailing bytes after a plain file's data are.

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mpitrain::data::detail {

/// One open file; every error is a DataError naming the file.
class InputFile {
 public:
  /// Opens @p path and looks at its first bytes.
  /// @throws DataError "no such file (or not a regular file)" or "cannot open for reading".
  explicit InputFile(const std::filesystem::path& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  /// Whether the file is gzip-compressed (first bytes 1f 8b).
  [[nodiscard]] bool gzip() const { return gzip_; }
  /// The file's own size in bytes (compressed for gzip).
  [[nodiscard]] std::uint64_t file_size() const { return file_size_; }
  /// The (uncompressed) bytes read or skipped so far.
  [[nodiscard]] std::uint64_t position() const { return position_; }

  /// Reads up to @p size bytes into @p out; fewer only at the end of the data.
  /// @throws DataError for a read error, corrupt gzip data, a gzip stream cut short ("truncated gzip
  ///         stream") or bytes after the last gzip member ("N trailing bytes after the gzip stream").
  std::size_t read(void* out, std::size_t size);

  /// Moves @p bytes forward: a seek for a plain file, decompress-and-discard for gzip.
  /// @return the bytes skipped (fewer only at the end of the data). @throws DataError as read.
  std::uint64_t skip(std::uint64_t bytes);

 private:
  std::size_t inflate_some(unsigned char* out, std::size_t size);
  bool refill();

  struct Closer {
    void operator()(std::FILE* file) const noexcept { std::fclose(file); }
  };
  std::string name_;
  std::unique_ptr<std::FILE, Closer> file_;
  std::uint64_t file_size_ = 0;
  std::uint64_t position_ = 0;
  bool gzip_ = false;
  bool stream_open_ = false;  // inflateInit2 done (gzip)
  bool member_done_ = false;  // the current gzip member ended; the next bytes must be another member or nothing
  z_stream stream_{};
  std::vector<unsigned char> input_;  // compressed bytes read ahead (gzip)
  std::uint64_t consumed_ = 0;        // compressed bytes read from the file into input_
};

}  // namespace mpitrain::data::detail
