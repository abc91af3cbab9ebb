#pragma once
/// @file checkpoint_edits.hpp
/// Structure-aware mutations of a checkpoint for fuzz_checkpoint. Flipping bytes of an HDF5 1.8 file
/// mostly breaks a metadata checksum, so the reader's own checks are rarely reached that way; these edits
/// instead rewrite a valid checkpoint through the HDF5 API, so that the file stays well-formed HDF5 while
/// its content (attribute types, values and shapes, dataset shapes, types and storage, links) is fuzzed.

#include <cstdint>
#include <filesystem>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "mpitrain/checkpoint/checkpoint.hpp"

namespace mpitrain::fuzz {

/// The checkpoints the fuzzer starts from, every value deterministic. @p kind 0: inputs 3, hidden {2},
/// tanh, classes 2, Adam states m and v, a standardize scaler of 3 features (about 10 KB); 1: the same
/// without hidden layer, SGD without state and no scaler values (about 6 KB).
checkpoint::Checkpoint template_checkpoint(int kind);

/// Byte range [offset, offset + size) of a file.
struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

/// The raw data of every dataset of the HDF5 file @p path with contiguous storage, in file order: the
/// bytes that no metadata checksum covers.
std::vector<ByteRange> raw_data_ranges(const std::filesystem::path& path);

/// Opens @p path (an HDF5 file) read-write and applies up to 16 edits decoded from @p input until it
/// runs out of bytes. An edit that HDF5 refuses (e.g. on an object deleted by an earlier edit) is skipped.
/// Edits: delete an attribute; set an attribute to integers or floats of one of several types, scalar or
/// a list; set an attribute to fixed- or variable-length strings; replace a dataset by one of another
/// rank, shape (up to 2^62 per dimension, stored or not), type (float32/64 either byte order, int32,
/// string); delete a link; replace an object by a group, or by a soft link (dangling or to another object).
void apply_checkpoint_edits(const std::filesystem::path& path, FuzzedDataProvider& input);

}  // namespace mpitrain::fuzz
