#pragma once
/// @file idx_reader.hpp
/// Reader of the IDX format of MNIST and Fashion-MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/):
/// a big-endian header (magic 0x00000803 for images of ubyte, 0x00000801 for labels of ubyte, then one
/// 32-bit size per dimension) followed by the data. Files may be gzipped (detected by content) or plain.

#include <filesystem>
#include <vector>
#include <cstdint>

#include "mpitrain/data/dataset.hpp"

namespace mpitrain::data {

/// Raw IDX images: count × (rows·cols) bytes, row-major.
struct IdxImages {
  std::int64_t count = 0;             ///< Number of images.
  std::int64_t rows = 0;              ///< Image height in pixels.
  std::int64_t cols = 0;              ///< Image width in pixels.
  std::vector<std::uint8_t> pixels;   ///< count × rows × cols bytes.
};

/// Reads an IDX3 ubyte images file (magic 0x00000803), gzipped or plain.
/// @throws DataError naming the file and what is wrong: missing file, bad magic (with the value read),
///         a header cut short (field and byte offset), a zero dimension, a truncated gzip stream, or a data
///         size that differs from the header's product (expected and actual bytes; trailing bytes too).
IdxImages read_idx_images(const std::filesystem::path& path);

/// Reads an IDX1 ubyte labels file (magic 0x00000801), gzipped or plain.
/// @throws DataError as read_idx_images.
std::vector<std::int32_t> read_idx_labels(const std::filesystem::path& path);

/// Reads an IDX images file and its labels file (each gzipped or plain) into a Dataset held as pixels:
/// pixels count × (rows·cols) bytes, features 0 × (rows·cols), labels, source = @p images.
/// @throws DataError: a bad file, an image count that differs from the label count
///         (naming both files and counts), or a label outside [0, classes) (naming the labels file and index).
Dataset load_idx_pixels(const std::filesystem::path& images, const std::filesystem::path& labels, int classes);

/// Reads an images file and a labels file into a Dataset of count × (rows·cols) unscaled float features
/// (0..255): load_idx_pixels, widened to float.
/// @throws DataError when either file is bad, when the image count differs from the label count (naming
///         both files and counts), or when a label is outside [0, classes) (naming the labels file and index).
Dataset load_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         int classes);

/// Reads an IDX images file without a labels file (predict): count × (rows·cols) unscaled float features
/// (0..255), every label 0, source = @p images, shape (rows, cols, 1).
/// @throws DataError as read_idx_images.
Dataset load_idx_unlabelled(const std::filesystem::path& images);

}  // namespace mpitrain::data
