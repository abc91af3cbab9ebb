#pragma once
/// @file hdf5.hpp
/// Internal RAII wrappers around the HDF5 C API for the checkpoint code (not installed, not in include/).
/// Every failure becomes a CheckpointError whose message starts with `checkpoint <file>: ` and ends with
/// the innermost message of HDF5's error stack; a CheckpointIoError with the errno when that stack quotes
/// one (HDF5 reports the operating system's failures as "..., errno = N, error message = '...'"). HDF5's automatic error printing is silenced for the
/// lifetime of an ErrorSilencer, so nothing reaches stderr behind the caller's back.

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mpitrain/checkpoint/checkpoint.hpp"

namespace mpitrain::checkpoint::detail {

/// Owns one HDF5 identifier and closes it with @p Close in a noexcept destructor. Movable, not copyable;
/// a move leaves the source empty.
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      close();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Handle() { close(); }

  [[nodiscard]] hid_t get() const { return id_; }
  /// Closes the identifier now (if any). @return HDF5's status (negative on failure, 0 when empty).
  herr_t close() noexcept { return id_ >= 0 ? Close(std::exchange(id_, H5I_INVALID_HID)) : 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using FileHandle = Handle<H5Fclose>;
using Group = Handle<H5Gclose>;
using Dataset = Handle<H5Dclose>;
using Dataspace = Handle<H5Sclose>;
using Datatype = Handle<H5Tclose>;
using Attribute = Handle<H5Aclose>;
using PropertyList = Handle<H5Pclose>;

/// Turns HDF5's automatic error printing off and restores the previous handler on destruction.
class ErrorSilencer {
 public:
  ErrorSilencer();
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;
  ~ErrorSilencer();

 private:
  H5E_auto2_t previous_func_ = nullptr;
  void* previous_data_ = nullptr;
  bool saved_ = false;
};

/// An open HDF5 file plus its name for error messages. Locations (`loc`) are the file's or a group's id;
/// paths below them may contain '/' (nested groups).
class Hdf5File {
 public:
  /// Creates (truncates) @p path for writing; errors name @p label.
  /// File close degree is `semi`: closing fails if any object is still open instead of leaking it.
  static Hdf5File create(const std::filesystem::path& path, std::string label);
  /// Opens @p path read-only. @throws CheckpointIoError naming the errno when the file cannot be opened
  /// (missing, permission denied, locked by another process); CheckpointError "checkpoint <label>: not a
  /// readable HDF5 checkpoint (<why>)" for a foreign or truncated file.
  static Hdf5File open_read_only(const std::filesystem::path& path, std::string label);

  [[nodiscard]] hid_t id() const { return file_.get(); }
  [[nodiscard]] const std::string& label() const { return label_; }

  /// @throws CheckpointError "checkpoint <label>: <what>" plus HDF5's innermost error message, if any.
  [[noreturn]] void fail(std::string_view what) const;
  /// Returns @p value, or fails with "<what> failed" when it is negative (HDF5's error convention).
  template <typename T>
  T check(T value, std::string_view what) const {
    if (value < 0) fail(std::string(what) + " failed");
    return value;
  }

  /// Flushes and closes the file, checking both (all objects in it must be closed already).
  void flush_and_close();

  /// Whether every component of the '/'-separated @p path exists below @p loc.
  [[nodiscard]] bool exists(hid_t loc, const std::string& path) const;
  Group create_group(hid_t loc, const std::string& path) const;
  Group open_group(hid_t loc, const std::string& path) const;
  Dataset open_dataset(hid_t loc, const std::string& path) const;

  /// Scalar integer attribute stored as @p file_type (e.g. H5T_STD_I64LE).
  void write_int_attribute(hid_t loc, const std::string& name, std::int64_t value, hid_t file_type) const;
  /// Scalar float64 attribute (H5T_IEEE_F64LE).
  void write_double_attribute(hid_t loc, const std::string& name, double value) const;
  /// Scalar fixed-length byte string (H5T_C_S1, NULLPAD, like numpy 'S'); "" is stored as one NUL byte.
  void write_string_attribute(hid_t loc, const std::string& name, const std::string& value) const;
  /// 1-D fixed-length byte strings of the longest value's size (numpy 'S' array); @p values not empty.
  void write_strings_attribute(hid_t loc, const std::string& name, const std::vector<std::string>& values) const;
  /// Float32 little-endian dataset of shape @p dims (a zero dimension is allowed), creating missing
  /// intermediate groups of @p path. @p deflate_level 0: contiguous layout, uncompressed; 1..9: one chunk
  /// of the whole dataset through HDF5's deflate filter (zlib, what h5py calls compression="gzip") at
  /// that level (an empty dataset stays contiguous).
  void write_floats(hid_t loc, const std::string& path, std::span<const hsize_t> dims,
                    std::span<const float> values, int deflate_level = 0) const;
  /// Int8 dataset (H5T_STD_I8LE) of shape @p dims, otherwise as write_floats.
  void write_int8s(hid_t loc, const std::string& path, std::span<const hsize_t> dims,
                   std::span<const std::int8_t> values, int deflate_level = 0) const;
  /// Float64 little-endian dataset, as write_floats (uncompressed).
  void write_doubles(hid_t loc, const std::string& path, std::span<const hsize_t> dims,
                     std::span<const double> values) const;
  /// Int32 little-endian dataset, as write_floats (uncompressed).
  void write_ints(hid_t loc, const std::string& path, std::span<const hsize_t> dims,
                  std::span<const std::int32_t> values) const;
  /// 1-D dataset of fixed-length byte strings of the longest value's size (numpy 'S'); @p values may be empty.
  void write_strings(hid_t loc, const std::string& path, const std::vector<std::string>& values) const;

  /// A scalar (or one-element) integer attribute. Fails if missing, not an integer, or not one element.
  [[nodiscard]] std::int64_t read_int_attribute(hid_t loc, const std::string& name) const;
  /// A scalar (or one-element) floating-point attribute. Fails if missing, not a float, or not one element.
  [[nodiscard]] double read_double_attribute(hid_t loc, const std::string& name) const;
  /// Whether @p loc has an attribute @p name.
  [[nodiscard]] bool has_attribute(hid_t loc, const std::string& name) const;
  /// A scalar string attribute, fixed-length (trailing NULs dropped) or variable-length.
  [[nodiscard]] std::string read_string_attribute(hid_t loc, const std::string& name) const;
  /// A scalar or 1-D string attribute as a list.
  [[nodiscard]] std::vector<std::string> read_strings_attribute(hid_t loc, const std::string& name) const;
  /// Shape of @p dataset ({} for a scalar, {0} for a null dataspace).
  [[nodiscard]] std::vector<hsize_t> shape(const Dataset& dataset, const std::string& what) const;
  /// Checks that @p dataset's values are stored in the file before anything is allocated for them: an
  /// unfiltered dataset must store points × element-size bytes, a filtered (compressed) one at least 1 byte
  /// per 1032 (deflate's maximum ratio, zlib's "Maximum Compression Factor"). A dataset that was created
  /// but never written reads as fill values, so without this a 10 KB file could declare a (2^30, 2) kernel
  /// and have the reader allocate and fill 8 GB. @throws CheckpointError naming @p what and both sizes.
  void check_stored(const Dataset& dataset, const std::string& what) const;
  /// Reads a float dataset of exactly out.size() elements into @p out (converted to native float).
  void read_floats(const Dataset& dataset, const std::string& what, std::span<float> out) const;

 private:
  Hdf5File(FileHandle file, std::string label) : file_(std::move(file)), label_(std::move(label)) {}
  Attribute open_attribute(hid_t loc, const std::string& name) const;
  void write_fixed_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                           bool scalar) const;
  // The fixed-length, NUL-padded byte-string type of @p size bytes.
  Datatype string_type(std::size_t size) const;
  void write_dataset(hid_t loc, const std::string& path, std::span<const hsize_t> dims, std::size_t size,
                     hid_t file_type, hid_t memory_type, const void* values, int deflate_level) const;

  FileHandle file_;
  std::string label_;
};

/// "(128, 64)", "(64,)" or "()", as numpy prints shapes.
std::string format_shape(std::span<const hsize_t> dims);

}  // namespace mpitrain::checkpoint::detail
