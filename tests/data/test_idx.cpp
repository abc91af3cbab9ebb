// Unit tests of the IDX reader on fixture files written at test time (plain and gzipped).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "file_fixture.hpp"
#include "mpitrain/data/idx_reader.hpp"

namespace mpitrain::data {
namespace {

namespace fs = std::filesystem;
using test::Bytes;
using test::expect_data_error;
using test::put_be32;

using IdxTest = test::FileFixture;

std::uint8_t pixel_value(std::uint32_t image, std::uint32_t row, std::uint32_t col) {
  return static_cast<std::uint8_t>((image * 97 + row * 13 + col * 5 + 200) % 256);
}

// An images file: header of 16 bytes, then `data_bytes` pixels (default: exactly count·rows·cols).
Bytes images_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, long data_bytes = -1,
                  std::uint32_t magic = 0x00000803) {
  Bytes out;
  put_be32(out, magic);
  put_be32(out, count);
  put_be32(out, rows);
  put_be32(out, cols);
  for (std::uint32_t i = 0; i < count; ++i)
    for (std::uint32_t r = 0; r < rows; ++r)
      for (std::uint32_t c = 0; c < cols; ++c) out.push_back(pixel_value(i, r, c));
  if (data_bytes >= 0) out.resize(16 + static_cast<std::size_t>(data_bytes), 0x7f);
  return out;
}

Bytes labels_file(const std::vector<std::uint8_t>& labels, std::uint32_t magic = 0x00000801) {
  Bytes out;
  put_be32(out, magic);
  put_be32(out, static_cast<std::uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

void expect_images_match_formula(const IdxImages& images, std::uint32_t count, std::uint32_t rows,
                                 std::uint32_t cols) {
  ASSERT_EQ(images.count, count);
  ASSERT_EQ(images.rows, rows);
  ASSERT_EQ(images.cols, cols);
  ASSERT_EQ(images.pixels.size(), std::size_t{count} * rows * cols);
  std::size_t at = 0;
  for (std::uint32_t i = 0; i < count; ++i)
    for (std::uint32_t r = 0; r < rows; ++r)
      for (std::uint32_t c = 0; c < cols; ++c) ASSERT_EQ(images.pixels[at++], pixel_value(i, r, c));
}

TEST_F(IdxTest, ReadsPlainImagesAndLabels) {
  const fs::path images = write_plain("images-idx3-ubyte", images_file(3, 2, 4));
  const fs::path labels = write_plain("labels-idx1-ubyte", labels_file({7, 0, 9}));
  expect_images_match_formula(read_idx_images(images), 3, 2, 4);
  EXPECT_EQ(read_idx_labels(labels), (std::vector<std::int32_t>{7, 0, 9}));
}

TEST_F(IdxTest, ReadsGzippedImagesAndLabels) {
  // 300 images of 28 × 28 (235 kB): large enough to span several zlib buffers.
  const fs::path images = write_gz("images-idx3-ubyte.gz", images_file(300, 28, 28));
  std::vector<std::uint8_t> label_values;
  for (int i = 0; i < 300; ++i) label_values.push_back(static_cast<std::uint8_t>(i % 10));
  const fs::path labels = write_gz("labels-idx1-ubyte.gz", labels_file(label_values));
  // The fixture really is gzip (magic 1f 8b), so this exercises decompression.
  std::ifstream raw(images, std::ios::binary);
  EXPECT_EQ(raw.get(), 0x1f);
  EXPECT_EQ(raw.get(), 0x8b);
  expect_images_match_formula(read_idx_images(images), 300, 28, 28);
  EXPECT_EQ(read_idx_labels(labels), std::vector<std::int32_t>(label_values.begin(), label_values.end()));
}

TEST_F(IdxTest, LoadDatasetGivesUnscaledFloatRows) {
  const fs::path images = write_gz("img.gz", images_file(4, 3, 2));
  const fs::path labels = write_plain("lab", labels_file({1, 2, 3, 4}));
  const Dataset ds = load_idx_dataset(images, labels, 10);
  ASSERT_EQ(ds.size(), 4);
  ASSERT_EQ(ds.feature_count(), 6);
  EXPECT_EQ(ds.sample_shape(), (base::Shape{3, 2, 1}));  // rows, columns, one channel
  EXPECT_EQ(ds.labels, (std::vector<std::int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(ds.source, images.string());
  for (std::uint32_t i = 0; i < 4; ++i)
    for (std::uint32_t r = 0; r < 3; ++r)
      for (std::uint32_t c = 0; c < 2; ++c)
        EXPECT_EQ(ds.features(i, r * 2 + c), static_cast<float>(pixel_value(i, r, c)));
  // By hand: image 3, row 2, column 1 is (3·97 + 2·13 + 1·5 + 200) mod 256 = 522 mod 256 = 10.
  EXPECT_EQ(ds.features(3, 5), 10.0f);
}

TEST_F(IdxTest, UnlabelledImagesAreUnscaledFloatRowsWithLabelZero) {
  const fs::path images = write_plain("img", images_file(4, 3, 2));
  const Dataset ds = load_idx_unlabelled(images);
  ASSERT_EQ(ds.size(), 4);
  ASSERT_EQ(ds.feature_count(), 6);
  EXPECT_EQ(ds.pixels.size(), 0);
  EXPECT_EQ(ds.labels, (std::vector<std::int32_t>(4, 0)));
  EXPECT_EQ(ds.source, images.string());
  for (std::uint32_t i = 0; i < 4; ++i)
    for (std::uint32_t r = 0; r < 3; ++r)
      for (std::uint32_t c = 0; c < 2; ++c)
        EXPECT_EQ(ds.features(i, r * 2 + c), static_cast<float>(pixel_value(i, r, c)));
}

TEST_F(IdxTest, PixelsAreTheBytesOfTheFloatRows) {
  const fs::path images = write_plain("img", images_file(3, 2, 2));
  const fs::path labels = write_plain("lab", labels_file({1, 2, 3}));
  const Dataset pixels = load_idx_pixels(images, labels, 10);
  EXPECT_EQ(pixels.features.rows(), 0);
  EXPECT_EQ(pixels.feature_count(), 4);
  ASSERT_EQ(pixels.pixels.rows(), 3);
  for (std::uint32_t i = 0; i < 3; ++i)
    for (std::uint32_t p = 0; p < 4; ++p) EXPECT_EQ(pixels.pixels(i, p), pixel_value(i, p / 2, p % 2));
  EXPECT_EQ(pixels.labels, (std::vector<std::int32_t>{1, 2, 3}));
}

TEST_F(IdxTest, BadMagicIsNamed) {
  const fs::path labels_as_images = write_plain("swapped", labels_file({1, 2}));
  expect_data_error([&] { (void)read_idx_images(labels_as_images); },
                    {labels_as_images.string(), "magic", "0x00000801", "0x00000803"});
  const fs::path images_as_labels = write_gz("swapped.gz", images_file(1, 1, 1));
  expect_data_error([&] { (void)read_idx_labels(images_as_labels); },
                    {images_as_labels.string(), "magic", "0x00000803", "0x00000801"});
}

TEST_F(IdxTest, TruncatedDataGivesExpectedAndActualBytes) {
  const fs::path plain = write_plain("short", images_file(3, 2, 2, 10));
  expect_data_error([&] { (void)read_idx_images(plain); }, {plain.string(), "truncated", "expected 12", "found 10"});
  const fs::path gz = write_gz("short.gz", images_file(3, 2, 2, 7));
  expect_data_error([&] { (void)read_idx_images(gz); }, {gz.string(), "expected 12", "found 7"});
  Bytes labels = labels_file({1, 2, 3});
  labels.pop_back();
  const fs::path short_labels = write_plain("short-labels", labels);
  expect_data_error([&] { (void)read_idx_labels(short_labels); }, {short_labels.string(), "expected 3", "found 2"});
}

TEST_F(IdxTest, TruncatedHeaderIsNamed) {
  Bytes bytes = images_file(3, 2, 2);
  bytes.resize(10);
  const fs::path path = write_plain("header", bytes);
  expect_data_error([&] { (void)read_idx_images(path); }, {path.string(), "header", "rows", "offset 8"});
}

TEST_F(IdxTest, TruncatedGzipStreamIsAnError) {
  // Compress, then cut the compressed file: the gzip stream itself ends early.
  const fs::path whole = write_gz("whole.gz", images_file(50, 28, 28));
  std::ifstream in(whole, std::ios::binary);
  Bytes compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  compressed.resize(compressed.size() / 2);
  const fs::path cut = write_plain("cut.gz", compressed);
  expect_data_error([&] { (void)read_idx_images(cut); }, {cut.string(), "truncated"});
}

TEST_F(IdxTest, TrailingBytesAreAnError) {
  const fs::path plain = write_plain("long", images_file(3, 2, 2, 14));
  expect_data_error([&] { (void)read_idx_images(plain); },
                    {plain.string(), "2 trailing bytes", "expected 12", "found 14"});
  Bytes labels = labels_file({1, 2, 3});
  labels.push_back(4);
  const fs::path gz = write_gz("long-labels.gz", labels);
  expect_data_error([&] { (void)read_idx_labels(gz); }, {gz.string(), "1 trailing bytes", "expected 3"});
}

// zlib's gzread ignores bytes after the end of the gzip stream; the reader refuses them, as it refuses
// trailing bytes after a plain file's data. Members concatenated as by `cat a.gz b.gz` are still one file.
TEST_F(IdxTest, BytesAfterTheGzipStreamAreAnError) {
  const Bytes labels = labels_file({1, 2, 3});
  const fs::path gz = write_gz("labels.gz", labels);
  EXPECT_EQ(read_idx_labels(gz), (std::vector<std::int32_t>{1, 2, 3}));
  std::ifstream in(gz, std::ios::binary);
  Bytes compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes padded = compressed;
  padded.insert(padded.end(), {0, 0, 0, 'x', 'y'});
  const fs::path bad = write_plain("padded.gz", padded);
  expect_data_error([&] { (void)read_idx_labels(bad); },
                    {bad.string(), "5 trailing bytes after the gzip stream",
                     "ends at byte " + std::to_string(compressed.size())});
  const fs::path images = write_gz("images.gz", images_file(40, 3, 3));
  std::ifstream in_images(images, std::ios::binary);
  Bytes long_images((std::istreambuf_iterator<char>(in_images)), std::istreambuf_iterator<char>());
  long_images.push_back('\n');
  const fs::path bad_images = write_plain("images-newline.gz", long_images);
  expect_data_error([&] { (void)read_idx_images(bad_images); }, {bad_images.string(), "1 trailing bytes after the gzip"});

  // Two members: the labels file split after its header, each half gzipped, then concatenated.
  const fs::path head = write_gz("head.gz", Bytes(labels.begin(), labels.begin() + 8));
  const fs::path tail = write_gz("tail.gz", Bytes(labels.begin() + 8, labels.end()));
  std::ifstream a(head, std::ios::binary), b(tail, std::ios::binary);
  Bytes joined((std::istreambuf_iterator<char>(a)), std::istreambuf_iterator<char>());
  joined.insert(joined.end(), std::istreambuf_iterator<char>(b), std::istreambuf_iterator<char>());
  EXPECT_EQ(read_idx_labels(write_plain("joined.gz", joined)), (std::vector<std::int32_t>{1, 2, 3}));
}

TEST_F(IdxTest, ZeroDimensionIsAnError) {
  const fs::path path = write_plain("zero", images_file(3, 0, 2));
  expect_data_error([&] { (void)read_idx_images(path); }, {path.string(), "rows", "is 0"});
  const fs::path labels = write_plain("zero-labels", labels_file({}));
  expect_data_error([&] { (void)read_idx_labels(labels); }, {labels.string(), "label count", "is 0"});
}

TEST_F(IdxTest, CountMismatchNamesBothFiles) {
  const fs::path images = write_plain("img", images_file(3, 2, 2));
  const fs::path labels = write_plain("lab", labels_file({1, 2}));
  expect_data_error([&] { (void)load_idx_dataset(images, labels, 10); },
                    {images.string(), labels.string(), "3 images", "2 labels"});
}

TEST_F(IdxTest, LabelOutOfRangeNamesFileAndIndex) {
  const fs::path images = write_plain("img", images_file(3, 2, 2));
  const fs::path labels = write_plain("lab", labels_file({1, 10, 2}));
  expect_data_error([&] { (void)load_idx_dataset(images, labels, 10); },
                    {labels.string(), "label 10", "index 1", "[0, 10)"});
  EXPECT_EQ(load_idx_dataset(images, labels, 11).labels, (std::vector<std::int32_t>{1, 10, 2}));
}

TEST_F(IdxTest, MissingFileIsNamed) {
  const fs::path missing = dir_ / "does-not-exist.gz";
  expect_data_error([&] { (void)read_idx_images(missing); }, {missing.string(), "no such file"});
  expect_data_error([&] { (void)read_idx_labels(missing); }, {missing.string(), "no such file"});
}

}  // namespace
}  // namespace mpitrain::data
