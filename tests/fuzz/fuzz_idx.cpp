// libFuzzer target of the IDX readers: data::read_idx_images, read_idx_labels and load_idx_dataset.
//
// Input: byte 0 selects the mode, the rest is the file (or files).
//   bit 0  0: images (read_idx_images), 1: labels (read_idx_labels)
//   bit 1  1: the harness gzips the file(s) before the reader sees them (exercising the gzip path on
//          well-formed streams); 0: the bytes are written as they are (a fuzzed gzip stream if they start
//          with 1f 8b, a plain IDX file otherwise)
//   bit 2  1: load_idx_dataset(images, labels, 10): bytes 1-2 (little-endian) give the images file's
//          length, the labels file follows it; bit 0 is then ignored
//
// Oracle: for a plain input (written as is without the gzip magic, or gzipped by the harness) an
// independent parse of the format decides whether the file is valid; the reader must accept exactly the
// valid files and return exactly their data bytes, and reject the others with a DataError naming the file.
// load_idx_dataset's result must agree with the two readers' results.
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "mpitrain/data/idx_reader.hpp"

namespace {

using mpitrain::data::DataError;
using mpitrain::fuzz::fuzz_bug;
using mpitrain::fuzz::fuzz_check;
using mpitrain::fuzz::ScratchFile;
using Bytes = std::span<const std::uint8_t>;

std::uint32_t be32(Bytes bytes, std::size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
         (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

// The reference parse: the data bytes of a valid IDX file with @p dimensions dimensions (3 for images,
// 1 for labels) and @p magic, or nothing for an invalid one.
std::optional<Bytes> reference_data(Bytes file, std::uint32_t magic, std::size_t dimensions) {
  const std::size_t header = 4 + 4 * dimensions;
  if (file.size() < header || be32(file, 0) != magic) return std::nullopt;
  unsigned __int128 expected = 1;
  for (std::size_t d = 0; d < dimensions; ++d) {
    const std::uint32_t value = be32(file, 4 + 4 * d);
    if (value == 0) return std::nullopt;
    expected *= value;
  }
  if (expected != file.size() - header) return std::nullopt;
  return file.subspan(header);
}

// A gzip stream (RFC 1952) of @p bytes.
std::vector<std::uint8_t> gzip(Bytes bytes) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    fuzz_bug("deflateInit2 failed");
  }
  std::vector<std::uint8_t> out(deflateBound(&stream, bytes.size()) + 32);
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) fuzz_bug("deflate did not finish");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

bool looks_gzipped(Bytes bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

void write(const ScratchFile& file, Bytes bytes, bool compress) {
  if (compress) {
    file.write(gzip(bytes));
  } else {
    file.write(bytes);
  }
}

void expect_named(const DataError& error, const ScratchFile& file) {
  fuzz_check(std::string(error.what()).find(file.path().string()) != std::string::npos,
             std::string("DataError does not name the file: ") + error.what());
}

template <class Result>
bool equal_bytes(const Result& result, Bytes expected) {
  return result.size() == expected.size() && std::equal(result.begin(), result.end(), expected.begin());
}

// Reads @p bytes as an images (or labels) file and compares with the reference parse.
void check_one(const ScratchFile& file, Bytes bytes, bool labels, bool compress) {
  write(file, bytes, compress);
  const bool reference_applies = compress || !looks_gzipped(bytes);
  const std::optional<Bytes> expected =
      labels ? reference_data(bytes, 0x00000801, 1) : reference_data(bytes, 0x00000803, 3);
  try {
    if (labels) {
      const std::vector<std::int32_t> values = mpitrain::data::read_idx_labels(file.path());
      if (!reference_applies) return;
      fuzz_check(expected.has_value(), "read_idx_labels accepted an invalid file");
      fuzz_check(equal_bytes(values, *expected), "read_idx_labels returned other labels than the file holds");
    } else {
      const mpitrain::data::IdxImages images = mpitrain::data::read_idx_images(file.path());
      fuzz_check(images.pixels.size() == static_cast<std::size_t>(images.count * images.rows * images.cols),
                 "pixel count differs from count × rows × cols");
      if (!reference_applies) return;
      fuzz_check(expected.has_value(), "read_idx_images accepted an invalid file");
      fuzz_check(equal_bytes(images.pixels, *expected), "read_idx_images returned other pixels than the file");
      fuzz_check(images.count == be32(bytes, 4) && images.rows == be32(bytes, 8) && images.cols == be32(bytes, 12),
                 "read_idx_images returned other dimensions than the header's");
    }
  } catch (const DataError& error) {
    expect_named(error, file);
    fuzz_check(!reference_applies || !expected.has_value(),
               std::string("a valid IDX file was rejected: ") + error.what());
  }
}

void check_pair(const ScratchFile& images_file, const ScratchFile& labels_file, Bytes images, Bytes labels,
                bool compress) {
  write(images_file, images, compress);
  write(labels_file, labels, compress);
  constexpr int classes = 10;
  try {
    const mpitrain::data::Dataset ds = mpitrain::data::load_idx_dataset(images_file.path(), labels_file.path(),
                                                                        classes);
    const auto pixels = mpitrain::data::read_idx_images(images_file.path());
    const auto values = mpitrain::data::read_idx_labels(labels_file.path());
    fuzz_check(ds.size() == pixels.count && values.size() == static_cast<std::size_t>(ds.size()),
               "load_idx_dataset's sample count differs from the readers'");
    fuzz_check(ds.features.cols() == pixels.rows * pixels.cols, "load_idx_dataset's feature count is wrong");
    fuzz_check(ds.labels == values, "load_idx_dataset's labels differ from read_idx_labels'");
    for (std::int32_t label : ds.labels) fuzz_check(label >= 0 && label < classes, "label out of range accepted");
    for (Eigen::Index i = 0; i < ds.features.size(); ++i) {
      fuzz_check(ds.features.data()[i] == static_cast<float>(pixels.pixels[static_cast<std::size_t>(i)]),
                 "load_idx_dataset's features differ from the pixels");
    }
  } catch (const DataError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ScratchFile images_file("idx-images", ".idx");
  static const ScratchFile labels_file("idx-labels", ".idx");
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  const bool labels = (mode & 1) != 0;
  const bool compress = (mode & 2) != 0;
  const Bytes rest(data + 1, size - 1);
  if ((mode & 4) == 0) {
    check_one(labels ? labels_file : images_file, rest, labels, compress);
    return 0;
  }
  if (rest.size() < 2) return 0;
  const std::size_t split = std::min<std::size_t>(rest[0] | (std::size_t{rest[1]} << 8), rest.size() - 2);
  check_pair(images_file, labels_file, rest.subspan(2, split), rest.subspan(2 + split), compress);
  return 0;
}
