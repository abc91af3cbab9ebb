#include "mpitrain/data/shard_reader.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "data/reader_internals.hpp"

namespace mpitrain::data {

namespace {

std::int64_t memory_bytes(const Dataset& ds) {
  return static_cast<std::int64_t>(ds.features.size()) * static_cast<std::int64_t>(sizeof(float)) +
         static_cast<std::int64_t>(ds.pixels.size()) +
         static_cast<std::int64_t>(ds.labels.size() * sizeof(std::int32_t));
}

// A CSV file scanned for line feeds, in blocks, from a given byte on.
class LineScanner {
 public:
  explicit LineScanner(const std::filesystem::path& path) : name_(path.string()), in_(path, std::ios::binary) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw DataError(name_ + ": no such file (or not a regular file)");
    if (!in_) throw DataError(name_ + ": cannot open for reading");
    size_ = std::filesystem::file_size(path, ec);
    if (ec) throw DataError(name_ + ": cannot get the file size: " + ec.message());
  }

  [[nodiscard]] std::uint64_t size() const { return size_; }

  // The first record boundary (the byte after a line feed) at or after @p from + 1, i.e. strictly after
  // byte @p from; the file size if no line feed follows.
  std::uint64_t boundary_after(std::uint64_t from) {
    std::uint64_t at = from;
    while (at < size_) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(block_.size(), size_ - at));
      read_at(at, want);
      const auto* feed = static_cast<const char*>(std::memchr(block_.data(), '\n', want));
      if (feed != nullptr) return at + static_cast<std::uint64_t>(feed - block_.data()) + 1;
      at += want;
    }
    return size_;
  }

  // Line feeds in bytes [0, @p end): the file's line number of byte @p end, minus one.
  std::int64_t line_feeds_before(std::uint64_t end) {
    end = std::min(end, size_);
    std::int64_t count = 0;
    for (std::uint64_t at = 0; at < end;) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(block_.size(), end - at));
      read_at(at, want);
      count += std::count(block_.data(), block_.data() + want, '\n');
      at += want;
    }
    return count;
  }

  // The bytes from 0 to the end of the first record that has content (blank lines before it included), with
  // a line feed appended if the file ends without one.
  std::string first_record() {
    std::string text;
    bool content = false;
    std::size_t bom = 0;  // bytes of a UTF-8 byte-order mark at the start: not content
    for (std::uint64_t at = 0; at < size_;) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(block_.size(), size_ - at));
      read_at(at, want);
      if (at == 0 && want >= 3 && std::memcmp(block_.data(), "\xEF\xBB\xBF", 3) == 0) bom = 3;
      for (std::size_t i = 0; i < want; ++i) {
        const char c = block_[i];
        text.push_back(c);
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && at + i >= bom) content = true;
        if (c == '\n' && content) return text;
      }
      at += want;
    }
    if (!text.empty() && text.back() != '\n') text.push_back('\n');
    return text;
  }

 private:
  void read_at(std::uint64_t offset, std::size_t size) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(block_.data(), static_cast<std::streamsize>(size));
    if (static_cast<std::size_t>(in_.gcount()) != size) {
      throw DataError(name_ + ": read error at byte " + std::to_string(offset));
    }
  }

  std::string name_;
  std::ifstream in_;
  std::uint64_t size_ = 0;
  std::vector<char> block_ = std::vector<char>(std::size_t{1} << 16);
};

}  // namespace

Dataset load_idx_records(const std::filesystem::path& images, const std::filesystem::path& labels, int classes,
                         Range records, ShardInfo* info, bool as_pixels) {
  const auto choose = [&](std::int64_t) { return records; };
  detail::IdxRecords pixels = detail::read_idx_records(images, true, choose);
  const detail::IdxRecords label_bytes = detail::read_idx_records(labels, false, choose);
  detail::check_idx_counts(images, pixels.total, labels, label_bytes.total);
  Dataset ds;
  ds.labels.assign(label_bytes.bytes.begin(), label_bytes.bytes.end());
  check_labels(ds.labels, classes, labels.string(), records.begin);
  const std::int64_t features = pixels.rows * pixels.cols;
  detail::set_idx_samples(ds, pixels.bytes.data(), records.size(), features, as_pixels);
  ds.source = images.string();
  ds.shape = {static_cast<std::int64_t>(pixels.rows), static_cast<std::int64_t>(pixels.cols), 1};
  if (info != nullptr) {
    const auto record_bytes = static_cast<std::uint64_t>(features);
    *info = ShardInfo{pixels.total, records, 16 + record_bytes * static_cast<std::uint64_t>(records.begin),
                      16 + record_bytes * static_cast<std::uint64_t>(records.end), memory_bytes(ds)};
  }
  return ds;
}

Dataset load_idx_shard(const std::filesystem::path& images, const std::filesystem::path& labels, int classes,
                       int shard, int shard_count, ShardInfo* info, bool as_pixels) {
  (void)split_range(0, shard_count, shard);  // checks shard and shard_count before any file is opened
  // The record count is in the header: read it once, then choose the shard from it.
  Range records;
  (void)detail::read_idx_records(labels, false, [&](std::int64_t total) {
    records = split_range(total, shard_count, shard);
    return Range{0, 0};
  });
  return load_idx_records(images, labels, classes, records, info, as_pixels);
}

Dataset read_csv_byte_range(const std::filesystem::path& path, const CsvOptions& options, std::uint64_t begin,
                            std::uint64_t end, CsvStats* stats, ShardInfo* info) {
  if (begin > end) {
    throw std::invalid_argument(path.string() + ": byte range begins at " + std::to_string(begin) +
                                " after its end " + std::to_string(end));
  }
  LineScanner scanner(path);
  end = std::min(end, scanner.size());
  begin = std::min(begin, end);
  detail::CsvWindow window;
  window.allow_empty = true;
  if (begin == 0 && end == scanner.size()) {
    window.allow_empty = false;  // the whole file: the same checks as read_csv_dataset
  } else {
    window.first_record = scanner.first_record();
    const std::uint64_t first_end = window.first_record.size();  // the first record is always range 0's
    window.begin = begin == 0 ? 0 : std::max(scanner.boundary_after(begin), first_end);
    window.end = end == scanner.size() ? end : std::max(scanner.boundary_after(end), first_end);
    window.end = std::min(std::max(window.end, window.begin), scanner.size());
    if (window.begin == 0) window.first_record.clear();  // range 0 parses the first record itself
  }
  Dataset ds;
  try {
    ds = detail::read_csv_window(path, options, window, stats);
  } catch (const DataError&) {
    if (window.begin == 0) throw;
    // Only for an error are the line ends before the window counted (reading the file up to it), so that
    // the error names the file's own line number; parsing the window again throws it with that number.
    window.first_line = 1 + scanner.line_feeds_before(window.begin);
    ds = detail::read_csv_window(path, options, window, stats);
  }
  if (info != nullptr) {
    *info = ShardInfo{-1, Range{}, window.begin, std::min(window.end, scanner.size()), memory_bytes(ds)};
  }
  return ds;
}

Dataset read_csv_shard(const std::filesystem::path& path, const CsvOptions& options, int shard, int shard_count,
                       CsvStats* stats, ShardInfo* info) {
  (void)split_range(0, shard_count, shard);
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw DataError(path.string() + ": no such file (or not a regular file)");
  const Range bytes = split_range(static_cast<std::int64_t>(size), shard_count, shard);
  return read_csv_byte_range(path, options, static_cast<std::uint64_t>(bytes.begin),
                             static_cast<std::uint64_t>(bytes.end), stats, info);
}

}  // namespace mpitrain::data
