#pragma once
/// @file array_file.hpp
/// HDF5 files of named arrays that are not checkpoints (explain's attributions.h5), written through the
/// checkpoint stage's HDF5 wrapper: little-endian datasets numpy and h5py read as they are.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::checkpoint {

namespace detail {
class Hdf5File;
}

/// Writes datasets and root attributes into an open file; handed to the filler of write_array_file.
/// Every method throws CheckpointError naming the file and the dataset when HDF5 fails or when
/// @p values does not hold the product of @p shape elements.
class ArrayWriter {
 public:
  explicit ArrayWriter(const detail::Hdf5File& file) : file_(file) {}
  /// A float32 dataset @p name of @p shape (row-major, the first dimension usually the samples).
  void floats(const std::string& name, const base::Shape& shape, std::span<const float> values) const;
  /// A float64 dataset.
  void doubles(const std::string& name, const base::Shape& shape, std::span<const double> values) const;
  /// An int32 dataset.
  void ints(const std::string& name, const base::Shape& shape, std::span<const std::int32_t> values) const;
  /// A 1-D dataset of fixed-length byte strings (numpy 'S'; h5py reads bytes).
  void strings(const std::string& name, const std::vector<std::string>& values) const;
  /// A string attribute of the root group.
  void attribute(const std::string& name, const std::string& value) const;

 private:
  const detail::Hdf5File& file_;
};

/// Creates @p path atomically (a temporary file renamed over it once complete and synced: an earlier file
/// of that name stays whole until then) and lets @p fill write its contents.
/// @throws CheckpointError, or CheckpointIoError with the errno, naming @p path.
void write_array_file(const std::filesystem::path& path, const std::function<void(const ArrayWriter&)>& fill);

}  // namespace mpitrain::checkpoint
