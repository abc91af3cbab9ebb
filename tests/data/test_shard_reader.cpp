// Unit tests of the shard readers: the union of the shards of N = 1..4 ranks is the whole file as the
// whole-file readers (an independent path) read it, in order; shards read only their records.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_fixture.hpp"
#include "mpitrain/data/csv_reader.hpp"
#include "mpitrain/data/idx_reader.hpp"
#include "mpitrain/data/shard_reader.hpp"

namespace mpitrain::data {
namespace {

namespace fs = std::filesystem;
using test::Bytes;
using test::expect_data_error;
using test::put_be32;

using ShardReaderTest = test::FileFixture;

Bytes images_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, std::size_t extra = 0) {
  Bytes out;
  for (const std::uint32_t v : {0x00000803u, count, rows, cols}) put_be32(out, v);
  for (std::uint32_t i = 0; i < count * rows * cols; ++i) out.push_back(static_cast<std::uint8_t>((i * 37 + 11) % 256));
  out.resize(out.size() + extra, 0x55);
  return out;
}

Bytes labels_file(std::uint32_t count) {
  Bytes out;
  put_be32(out, 0x00000801);
  put_be32(out, count);
  for (std::uint32_t i = 0; i < count; ++i) out.push_back(static_cast<std::uint8_t>((i * 7) % 10));
  return out;
}

// Row-wise concatenation of shards.
Dataset concatenate(const std::vector<Dataset>& parts) {
  Dataset out;
  Eigen::Index rows = 0;
  for (const Dataset& p : parts) rows += p.features.rows();
  out.features.resize(rows, parts.front().features.cols());
  Eigen::Index at = 0;
  for (const Dataset& p : parts) {
    EXPECT_EQ(p.features.cols(), out.features.cols());
    out.features.middleRows(at, p.features.rows()) = p.features;
    at += p.features.rows();
    out.labels.insert(out.labels.end(), p.labels.begin(), p.labels.end());
  }
  return out;
}

void expect_same(const Dataset& actual, const Dataset& expected, const std::string& what) {
  ASSERT_EQ(actual.features.rows(), expected.features.rows()) << what;
  ASSERT_EQ(actual.features.cols(), expected.features.cols()) << what;
  EXPECT_TRUE(actual.features == expected.features) << what;
  EXPECT_EQ(actual.labels, expected.labels) << what;
}

TEST_F(ShardReaderTest, IdxShardsOfOneToFourRanksMakeTheWholeFile) {
  for (const bool gz : {false, true}) {
    const fs::path images = gz ? write_gz("i.gz", images_file(11, 2, 3)) : write_plain("i", images_file(11, 2, 3));
    const fs::path labels = gz ? write_gz("l.gz", labels_file(11)) : write_plain("l", labels_file(11));
    const Dataset whole = load_idx_dataset(images, labels, 10);
    for (int n = 1; n <= 4; ++n) {
      std::vector<Dataset> parts;
      for (int s = 0; s < n; ++s) {
        ShardInfo info;
        parts.push_back(load_idx_shard(images, labels, 10, s, n, &info));
        EXPECT_EQ(parts.back().sample_shape(), (base::Shape{2, 3, 1}));
        // 11 records over n shards: the first 11 % n get one more.
        const std::int64_t expected = 11 / n + (s < 11 % n ? 1 : 0);
        EXPECT_EQ(info.records.size(), expected);
        EXPECT_EQ(info.total_records, 11);
        EXPECT_EQ(info.byte_end - info.byte_begin, static_cast<std::uint64_t>(expected * 6));
        EXPECT_EQ(info.memory_bytes, expected * (6 + 1) * 4);
      }
      expect_same(concatenate(parts), whole, (gz ? "gzip, " : "plain, ") + std::to_string(n) + " shards");
    }
  }
}

TEST_F(ShardReaderTest, IdxRecordsAreTheRequestedRows) {
  const fs::path images = write_gz("i.gz", images_file(9, 1, 4));
  const fs::path labels = write_gz("l.gz", labels_file(9));
  const Dataset ds = load_idx_records(images, labels, 10, Range{3, 7});
  ASSERT_EQ(ds.size(), 4);
  for (Eigen::Index r = 0; r < 4; ++r) {
    EXPECT_EQ(ds.labels[static_cast<std::size_t>(r)], ((r + 3) * 7) % 10);
    for (Eigen::Index c = 0; c < 4; ++c) {
      const auto i = static_cast<std::uint32_t>((r + 3) * 4 + c);  // pixel index in the file
      EXPECT_EQ(ds.features(r, c), static_cast<float>((i * 37 + 11) % 256));
    }
  }
  expect_data_error([&] { (void)load_idx_records(images, labels, 10, Range{5, 10}); },
                    {images.string(), "[5, 10)", "9"});
  // Kept as bytes: the same values, a quarter of the memory.
  ShardInfo info;
  const Dataset bytes = load_idx_records(images, labels, 10, Range{3, 7}, &info, true);
  ASSERT_EQ(bytes.size(), 4);
  EXPECT_EQ(bytes.features.rows(), 0);
  EXPECT_EQ(bytes.feature_count(), 4);
  EXPECT_EQ(bytes.labels, ds.labels);
  EXPECT_TRUE(bytes.pixels.cast<float>() == ds.features);
  EXPECT_EQ(info.memory_bytes, 4 * 4 + 4 * 4);  // 16 pixels, 4 int32 labels
}

TEST_F(ShardReaderTest, IdxLabelOutOfRangeNamesItsIndexInTheFile) {
  const fs::path images = write_plain("i", images_file(9, 1, 4));
  const fs::path labels = write_plain("l", labels_file(9));  // label of record i: 7·i mod 10
  // Records [3, 7) hold labels 1, 8, 5, 2: with 8 classes record 4 (label 8) is the first out of range.
  expect_data_error([&] { (void)load_idx_records(images, labels, 8, Range{3, 7}); },
                    {labels.string(), "label 8", "index 4", "[0, 8)"});
  EXPECT_EQ(load_idx_records(images, labels, 9, Range{3, 7}).size(), 4);
}

TEST_F(ShardReaderTest, IdxDamageIsFoundByTheShardsTogether) {
  // Plain: every shard checks the size against the header.
  const fs::path labels = write_plain("l", labels_file(8));
  const fs::path long_plain = write_plain("long", images_file(8, 2, 2, 3));
  expect_data_error([&] { (void)load_idx_shard(long_plain, labels, 10, 0, 2); }, {long_plain.string(), "3 trailing bytes"});
  Bytes cut = images_file(8, 2, 2);
  cut.resize(cut.size() - 5);
  const fs::path short_plain = write_plain("short", cut);
  expect_data_error([&] { (void)load_idx_shard(short_plain, labels, 10, 0, 2); },
                    {short_plain.string(), "truncated", "expected 32", "found 27"});
  // gzip: trailing bytes are found by the shard that holds the last record, not by the others.
  const fs::path long_gz = write_gz("long.gz", images_file(8, 2, 2, 3));
  EXPECT_EQ(load_idx_shard(long_gz, labels, 10, 0, 2).size(), 4);
  expect_data_error([&] { (void)load_idx_shard(long_gz, labels, 10, 1, 2); }, {long_gz.string(), "3 trailing bytes"});
  const fs::path short_gz = write_gz("short.gz", cut);
  EXPECT_EQ(load_idx_shard(short_gz, labels, 10, 0, 2).size(), 4);
  expect_data_error([&] { (void)load_idx_shard(short_gz, labels, 10, 1, 2); }, {short_gz.string(), "truncated"});
  // A shard that starts beyond the end of a truncated gzip stream.
  Bytes very_cut = images_file(8, 2, 2);
  very_cut.resize(16 + 10);
  const fs::path very_short = write_gz("very_short.gz", very_cut);
  expect_data_error([&] { (void)load_idx_shard(very_short, labels, 10, 3, 4); },
                    {very_short.string(), "truncated", "expected 32", "found 10"});
  // Counts must agree; labels are checked in range.
  const fs::path nine = write_plain("l9", labels_file(9));
  expect_data_error([&] { (void)load_idx_shard(write_plain("i8", images_file(8, 2, 2)), nine, 10, 0, 2); },
                    {"count mismatch", nine.string(), "8 images", "9 labels"});
  expect_data_error([&] { (void)load_idx_shard(write_plain("i8", images_file(8, 2, 2)), labels, 5, 1, 2); },
                    {labels.string(), "label 8 at index 4", "[0, 5)"});
  EXPECT_THROW((void)load_idx_shard(long_plain, labels, 10, 2, 2), std::invalid_argument);
}

// A CSV with a BOM, a header, CRLF and LF endings, blank lines, missing values and the label in the middle.
std::string sample_csv(int rows) {
  std::string text = "\xEF\xBB\xBF" "a,label,b\r\n";
  for (int i = 0; i < rows; ++i) {
    if (i % 5 == 2) text += "\n";  // blank line
    text += std::to_string(i) + "." + std::to_string(i % 4) + "," + std::to_string(i % 3) + "," +
            (i % 6 == 1 ? std::string("NA") : std::to_string(i * 2)) + (i % 2 == 0 ? "\r\n" : "\n");
  }
  return text;
}

TEST_F(ShardReaderTest, CsvShardsOfOneToFourRanksMakeTheWholeFile) {
  for (const CsvHeader header : {CsvHeader::automatic, CsvHeader::no}) {
    // Without a header the first record is data: every shard must still see it only once.
    std::string content = sample_csv(40);
    if (header == CsvHeader::no) content = content.substr(content.find('\n') + 1);
    const fs::path path = write("data.csv", content);
    CsvOptions options;
    options.header = header;
    options.label_column = header == CsvHeader::no ? "1" : "label";
    options.classes = 3;
    CsvStats whole_stats;
    const Dataset whole = read_csv_dataset(path, options, &whole_stats);
    ASSERT_EQ(whole.size(), 40);
    for (int n = 1; n <= 4; ++n) {
      std::vector<Dataset> parts;
      std::int64_t imputed = 0;
      std::uint64_t next_byte = 0;
      for (int s = 0; s < n; ++s) {
        CsvStats stats;
        ShardInfo info;
        parts.push_back(read_csv_shard(path, options, s, n, &stats, &info));
        EXPECT_EQ(info.byte_begin, next_byte) << "shard windows must tile the file";
        next_byte = info.byte_end;
        EXPECT_EQ(stats.had_header, whole_stats.had_header);
        imputed += stats.imputed_cells;
        if (n > 1) {
          EXPECT_GT(parts.back().size(), 0) << "shard " << s << " of " << n;
        }
      }
      EXPECT_EQ(next_byte, content.size());
      EXPECT_EQ(imputed, whole_stats.imputed_cells);
      expect_same(concatenate(parts), whole, "CSV, " + std::to_string(n) + " shards");
    }
  }
}

TEST_F(ShardReaderTest, CsvEverySplitPointPartitionsTheRecords) {
  // Two ranges [0, b) and [b, size) for every byte b, and three ranges around every b: boundaries that
  // fall on a line feed, a CR, the BOM, a blank line or inside the header all give each record once.
  const std::string content = sample_csv(7);
  const fs::path path = write("data.csv", content);
  CsvOptions options;
  options.classes = 3;
  const Dataset whole = read_csv_dataset(path, options);
  for (std::uint64_t b = 0; b <= content.size(); ++b) {
    const Dataset head = read_csv_byte_range(path, options, 0, b);
    const Dataset tail = read_csv_byte_range(path, options, b, content.size());
    expect_same(concatenate({head, tail}), whole, "split at byte " + std::to_string(b));
    const std::uint64_t c = std::min<std::uint64_t>(b + 9, content.size());
    const Dataset mid = read_csv_byte_range(path, options, b, c);
    const Dataset rest = read_csv_byte_range(path, options, c, content.size());
    expect_same(concatenate({head, mid, rest}), whole, "split at bytes " + std::to_string(b) + ", " + std::to_string(c));
  }
}

TEST_F(ShardReaderTest, CsvShardErrorsNameTheWindow) {
  std::string content = "label,a,b\n";
  for (int i = 0; i < 30; ++i) content += std::to_string(i % 10) + ",1,2\n";
  content += "3,4\n";  // ragged, in the last shard
  const fs::path path = write("data.csv", content);
  // The width comes from the file's first record, even for a shard that never reads it; the error names
  // the file's own line: the header (line 1) and 30 rows (lines 2..31) come before the ragged row.
  expect_data_error([&] { (void)read_csv_shard(path, {}, 3, 4); },
                    {path.string() + ": line 32: expected 3 fields (the width of the first record, line 1), found 2"});
  // Shard 0 of 4 is bytes [0, 48) of 194; byte 48 is in the record at bytes 46..51 (10 + 6k, k = 6), so
  // it reads records k = 0..6.
  EXPECT_EQ(read_csv_shard(path, {}, 0, 4).size(), 7);
  // A quoted field with a line feed, split by a shard boundary, is reported (the documented limitation).
  const std::string quoted = "label,a,b\n1,\"x\n" + std::string(40, 'y') + "\",2\n";
  const fs::path qpath = write("quoted.csv", quoted);
  // Bytes 12.. start inside the quoted field (its line feed is byte 14); bytes ..12 end inside it.
  expect_data_error([&] { (void)read_csv_byte_range(qpath, {}, 12, quoted.size()); },
                    {qpath.string() + ": line 3", "unbalanced quotes"});
  expect_data_error([&] { (void)read_csv_byte_range(qpath, {}, 0, 12); }, {qpath.string(), "unbalanced quotes"});
  // A header without rows gives empty shards (0 × features), an empty file an error.
  const fs::path header_only = write("header.csv", "label,a,b\n");
  const Dataset none = read_csv_shard(header_only, {}, 1, 2);
  EXPECT_EQ(none.size(), 0);
  EXPECT_EQ(none.feature_count(), 2);
  expect_data_error([&] { (void)read_csv_shard(write("empty.csv", ""), {}, 1, 2); }, {"empty"});
  EXPECT_THROW((void)read_csv_shard(path, {}, -1, 2), std::invalid_argument);
  EXPECT_THROW((void)read_csv_byte_range(path, {}, 9, 3), std::invalid_argument);
}

}  // namespace
}  // namespace mpitrain::data
