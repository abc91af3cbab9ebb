#include "mpitrain/data/idx_reader.hpp"

#include <spdlog/fmt/fmt.h>

#include "data/input_file.hpp"
#include "data/reader_internals.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace mpitrain::data {

namespace {

constexpr std::uint32_t images_magic = 0x00000803;
constexpr std::uint32_t labels_magic = 0x00000801;
// Guard against a corrupt header asking for an absurd amount of memory (1 TiB).
constexpr std::uint64_t max_data_bytes = std::uint64_t{1} << 40;

// A gzipped or plain IDX file read sequentially (detail::InputFile); every error names the file.
class IdxFile {
 public:
  explicit IdxFile(const std::filesystem::path& path) : file_(path) {}

  const std::string& name() const { return file_.name(); }

  // Whether the file is plain rather than gzipped.
  bool plain() const { return !file_.gzip(); }

  // Moves forward to uncompressed byte @p offset: a seek for a plain file; for gzip, zlib decompresses
  // and discards up to it (a short read then tells that the data ended first).
  void seek(std::uint64_t offset) {
    if (offset < file_.position()) {
      throw DataError(name() + ": cannot seek back to byte " + std::to_string(offset));
    }
    (void)file_.skip(offset - file_.position());
  }

  // The uncompressed offset reached.
  std::uint64_t position() const { return file_.position(); }

  // Reads up to @p size bytes; returns how many were read (fewer only at the end of the file).
  std::size_t read(std::uint8_t* out, std::size_t size) { return file_.read(out, size); }

  // Reads one big-endian 32-bit header field.
  std::uint32_t read_u32(const char* what, std::size_t offset) {
    std::array<std::uint8_t, 4> bytes{};
    if (read(bytes.data(), bytes.size()) != bytes.size()) {
      throw DataError(name() + ": file ends inside the header (" + what + " at byte offset " +
                      std::to_string(offset) + ")");
    }
    return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
           std::uint32_t{bytes[3]};
  }

  // Reads exactly @p expected data bytes that follow a @p header_bytes header, and nothing more.
  std::vector<std::uint8_t> read_data(std::uint64_t expected, std::size_t header_bytes) {
    if (expected > max_data_bytes) {
      throw DataError(name() + ": the header announces " + std::to_string(expected) + " data bytes, too many");
    }
    std::vector<std::uint8_t> data;
    // Grow by chunks doubling from 1 MiB to 64 MiB rather than trusting the header with one huge
    // allocation: a short file announcing gigabytes costs about twice what it holds, plus 1 MiB.
    std::size_t chunk = std::size_t{1} << 20;
    while (data.size() < expected) {
      const std::size_t old_size = data.size();
      const std::size_t want = std::min<std::size_t>(chunk, expected - old_size);
      chunk = std::min(2 * chunk, std::size_t{64} << 20);
      data.resize(old_size + want);
      const std::size_t got = read(data.data() + old_size, want);
      if (got < want) throw truncated(expected, header_bytes, old_size + got);
    }
    check_no_trailing(expected, header_bytes);
    return data;
  }

  // At the end of @p expected data bytes, checks that nothing follows.
  void check_no_trailing(std::uint64_t expected, std::size_t header_bytes) {
    std::uint64_t trailing = 0;
    std::array<std::uint8_t, 4096> scratch{};
    for (std::size_t got = 0; (got = read(scratch.data(), scratch.size())) > 0;) trailing += got;
    if (trailing > 0) throw trailing_bytes(expected, header_bytes, expected + trailing);
  }

  DataError trailing_bytes(std::uint64_t expected, std::size_t header_bytes, std::uint64_t found) const {
    return DataError(name() + ": " + std::to_string(found - expected) + " trailing bytes: expected " +
                     std::to_string(expected) + " data bytes after the " + std::to_string(header_bytes) +
                     "-byte header, found " + std::to_string(found));
  }

  DataError truncated(std::uint64_t expected, std::size_t header_bytes, std::uint64_t found) const {
    return DataError(name() + ": truncated: expected " + std::to_string(expected) + " data bytes after the " +
                     std::to_string(header_bytes) + "-byte header, found " + std::to_string(found));
  }

 private:
  detail::InputFile file_;
};

void check_magic(const IdxFile& file, std::uint32_t magic, std::uint32_t expected, const char* kind) {
  if (magic != expected) {
    throw DataError(fmt::format("{}: bad magic number {:#010x} (expected {:#010x} for {})", file.name(), magic,
                                expected, kind));
  }
}

std::uint32_t read_dimension(IdxFile& file, const char* what, std::size_t offset) {
  const std::uint32_t value = file.read_u32(what, offset);
  if (value == 0) {
    throw DataError(file.name() + ": header field " + what + " (byte offset " + std::to_string(offset) +
                    ") is 0; every dimension must be > 0");
  }
  return value;
}

// Reads the 16-byte header of an images file into count, rows and cols.
IdxImages read_images_header(IdxFile& file) {
  check_magic(file, file.read_u32("magic", 0), images_magic, "IDX3 ubyte images");
  IdxImages images;
  images.count = read_dimension(file, "image count", 4);
  images.rows = read_dimension(file, "rows", 8);
  images.cols = read_dimension(file, "columns", 12);
  return images;
}

}  // namespace

IdxImages read_idx_images(const std::filesystem::path& path) {
  IdxFile file(path);
  IdxImages images = read_images_header(file);
  // Each factor is < 2^32, so the product of the first two fits; the check stops the third overflowing.
  const auto pixels = static_cast<std::uint64_t>(images.rows) * static_cast<std::uint64_t>(images.cols);
  const auto count = static_cast<std::uint64_t>(images.count);
  const std::uint64_t expected = pixels > max_data_bytes / count ? max_data_bytes + 1 : pixels * count;
  images.pixels = file.read_data(expected, 16);
  return images;
}

std::vector<std::int32_t> read_idx_labels(const std::filesystem::path& path) {
  IdxFile file(path);
  check_magic(file, file.read_u32("magic", 0), labels_magic, "IDX1 ubyte labels");
  const std::uint32_t count = read_dimension(file, "label count", 4);
  const std::vector<std::uint8_t> bytes = file.read_data(count, 8);
  return {bytes.begin(), bytes.end()};
}

namespace {

Dataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels, int classes,
                      bool as_pixels) {
  const IdxImages raw = read_idx_images(images);
  std::vector<std::int32_t> label_values = read_idx_labels(labels);
  detail::check_idx_counts(images, raw.count, labels, static_cast<std::int64_t>(label_values.size()));
  check_labels(label_values, classes, labels.string());
  Dataset ds;
  detail::set_idx_samples(ds, raw.pixels.data(), raw.count, raw.rows * raw.cols, as_pixels);
  ds.labels = std::move(label_values);
  ds.source = images.string();
  ds.shape = {static_cast<std::int64_t>(raw.rows), static_cast<std::int64_t>(raw.cols), 1};
  return ds;
}

}  // namespace

Dataset load_idx_pixels(const std::filesystem::path& images, const std::filesystem::path& labels, int classes) {
  return load_idx_pair(images, labels, classes, true);
}

Dataset load_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels, int classes) {
  return load_idx_pair(images, labels, classes, false);
}

Dataset load_idx_unlabelled(const std::filesystem::path& images) {
  const IdxImages raw = read_idx_images(images);
  Dataset ds;
  detail::set_idx_samples(ds, raw.pixels.data(), raw.count, raw.rows * raw.cols, false);
  ds.labels.assign(static_cast<std::size_t>(raw.count), 0);
  ds.source = images.string();
  ds.shape = {static_cast<std::int64_t>(raw.rows), static_cast<std::int64_t>(raw.cols), 1};
  return ds;
}

namespace detail {

void check_idx_counts(const std::filesystem::path& images, std::int64_t image_count,
                      const std::filesystem::path& labels, std::int64_t label_count) {
  if (image_count != label_count) {
    throw DataError("count mismatch: " + images.string() + " has " + std::to_string(image_count) + " images but " +
                    labels.string() + " has " + std::to_string(label_count) + " labels");
  }
}

void set_idx_samples(Dataset& ds, const std::uint8_t* bytes, std::int64_t count, std::int64_t features,
                     bool as_pixels) {
  const Eigen::Map<const ByteMatrix> samples(bytes, static_cast<Eigen::Index>(count),
                                             static_cast<Eigen::Index>(features));
  if (as_pixels) {
    ds.pixels = samples;
    ds.features.resize(0, static_cast<Eigen::Index>(features));
  } else {
    ds.features = samples.cast<float>();
  }
}

IdxRecords read_idx_records(const std::filesystem::path& path, bool images,
                            const std::function<Range(std::int64_t)>& choose) {
  IdxFile file(path);
  IdxRecords out;
  std::size_t header_bytes = 8;
  if (images) {
    const IdxImages header = read_images_header(file);
    out.total = header.count;
    out.rows = header.rows;
    out.cols = header.cols;
    header_bytes = 16;
  } else {
    check_magic(file, file.read_u32("magic", 0), labels_magic, "IDX1 ubyte labels");
    out.total = read_dimension(file, "label count", 4);
  }
  const auto record_bytes = static_cast<std::uint64_t>(out.rows) * static_cast<std::uint64_t>(out.cols);
  const auto total = static_cast<std::uint64_t>(out.total);
  if (record_bytes > max_data_bytes / total) {
    throw DataError(file.name() + ": the header announces more than " + std::to_string(max_data_bytes) +
                    " data bytes, too many");
  }
  out.range = choose(out.total);
  if (out.range.begin < 0 || out.range.end < out.range.begin || out.range.end > out.total) {
    throw DataError(file.name() + ": records [" + std::to_string(out.range.begin) + ", " +
                    std::to_string(out.range.end) + ") are outside the file's " + std::to_string(out.total));
  }
  const std::uint64_t total_bytes = record_bytes * total;
  // A plain file's size tells whether it is complete, so every shard checks it for nothing.
  if (file.plain()) {
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec && size < header_bytes + total_bytes) throw file.truncated(total_bytes, header_bytes, size - header_bytes);
    if (!ec && size > header_bytes + total_bytes) {
      throw file.trailing_bytes(total_bytes, header_bytes, size - header_bytes);
    }
  }
  const std::uint64_t skip = record_bytes * static_cast<std::uint64_t>(out.range.begin);
  file.seek(header_bytes + skip);
  out.bytes.resize(record_bytes * static_cast<std::uint64_t>(out.range.size()));
  if (file.read(out.bytes.data(), out.bytes.size()) < out.bytes.size()) {
    throw file.truncated(total_bytes, header_bytes, file.position() - header_bytes);
  }
  // Only the shard holding the last record reads on to check that nothing follows.
  if (out.range.end == out.total) file.check_no_trailing(total_bytes, header_bytes);
  return out;
}

}  // namespace detail

}  // namespace mpitrain::data
