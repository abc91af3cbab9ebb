#include "hdf5.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "mpitrain/base/files.hpp"

namespace mpitrain::checkpoint::detail {
namespace {

// HDF5's report of a failure: the innermost message of its error stack ("" if the stack is empty) and,
// when the failure came from the operating system, the errno HDF5 quotes ("..., errno = 11, error
// message = '...'") with that entry's message.
struct Hdf5Failure {
  std::string message;
  int error_number = 0;
};

// Reads and clears HDF5's error stack.
Hdf5Failure hdf5_failure() {
  Hdf5Failure failure;
  auto visit = [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
    auto* f = static_cast<Hdf5Failure*>(data);
    if (err == nullptr || err->desc == nullptr) return 0;
    const std::string_view desc = err->desc;
    if (n == 0) f->message = desc;
    if (const auto at = desc.find("errno = "); at != std::string_view::npos && f->error_number == 0) {
      f->error_number = std::atoi(err->desc + at + 8);
      f->message = desc;  // the system's reason is the one to show
    }
    return 0;
  };
  // Walking upward starts at the function where the error was first detected: the most specific reason.
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, visit, &failure);
  H5Eclear2(H5E_DEFAULT);
  return failure;
}

// A failure the operating system reported is an I/O error (CheckpointIoError), any other a fault of the
// file or of the data (CheckpointError).
[[noreturn]] void throw_failure(const std::string& message, const Hdf5Failure& failure) {
  if (failure.error_number != 0) throw CheckpointIoError(message, failure.error_number);
  throw CheckpointError(message);
}

[[noreturn]] void throw_error(const std::string& label, std::string_view what, bool with_hdf5_detail) {
  std::string message = "checkpoint " + label + ": " + std::string(what);
  const Hdf5Failure failure = with_hdf5_detail ? hdf5_failure() : Hdf5Failure{};
  if (!failure.message.empty()) message += " (" + failure.message + ")";
  throw_failure(message, failure);
}

// The HDF5 path of @p loc ("/mpitrain"), for messages.
std::string object_path(hid_t loc) {
  const ssize_t length = H5Iget_name(loc, nullptr, 0);
  if (length <= 0) return "?";
  std::string name(static_cast<std::size_t>(length) + 1, '\0');
  H5Iget_name(loc, name.data(), name.size());
  name.resize(static_cast<std::size_t>(length));
  return name;
}

// Drops everything from the first NUL: fixed-length strings are NUL-padded or NUL-terminated.
std::string until_nul(const char* data, std::size_t size) {
  return {data, static_cast<std::size_t>(std::find(data, data + size, '\0') - data)};
}

}  // namespace

ErrorSilencer::ErrorSilencer() {
  saved_ = H5Eget_auto2(H5E_DEFAULT, &previous_func_, &previous_data_) >= 0;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

ErrorSilencer::~ErrorSilencer() {
  if (saved_) H5Eset_auto2(H5E_DEFAULT, previous_func_, previous_data_);
}

Hdf5File Hdf5File::create(const std::filesystem::path& path, std::string label) {
  PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS));
  // The 1.8 file format checksums all metadata (superblock, object headers, B-trees, heaps), so a reader
  // detects a corrupt header instead of parsing it; HDF5 >= 1.8 and every h5py read it.
  if (fapl.get() < 0 || H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_SEMI) < 0 ||
      H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18) < 0) {
    throw_error(label, "cannot set up file access", true);
  }
  FileHandle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (file.get() < 0) throw_error(label, "cannot create " + path.string(), true);
  return {std::move(file), std::move(label)};
}

Hdf5File Hdf5File::open_read_only(const std::filesystem::path& path, std::string label) {
  // The operating system's verdict first, so that a missing or unreadable file is an I/O error with its
  // errno, and only a file that opens is judged by its contents.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    throw CheckpointIoError("checkpoint " + label + ": not a readable HDF5 checkpoint (cannot open it: " +
                                base::errno_text(error) + ")",
                            error);
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) throw_error(label, "not a readable HDF5 checkpoint (not a regular file)", false);
  FileHandle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file.get() < 0) {
    const Hdf5Failure failure = hdf5_failure();
    const std::string detail = failure.message.empty() ? "open failed" : failure.message;
    throw_failure("checkpoint " + label +
                      (failure.error_number != 0 ? ": cannot open it (" + detail + ")"
                                                 : ": not a readable HDF5 checkpoint (" + detail + ")"),
                  failure);
  }
  return {std::move(file), std::move(label)};
}

void Hdf5File::fail(std::string_view what) const { throw_error(label_, what, true); }

void Hdf5File::flush_and_close() {
  check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "flush");
  check(file_.close(), "close");
}

bool Hdf5File::exists(hid_t loc, const std::string& path) const {
  std::string prefix;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = std::min(path.find('/', start), path.size());
    if (!prefix.empty()) prefix += '/';
    prefix += path.substr(start, slash - start);
    // Negative: the lookup itself failed (a corrupt header, or a parent that is not a group).
    if (check(H5Lexists(loc, prefix.c_str(), H5P_DEFAULT), "look-up of " + prefix) == 0) return false;
    start = slash + 1;
  }
  return true;
}

Group Hdf5File::create_group(hid_t loc, const std::string& path) const {
  PropertyList lcpl(check(H5Pcreate(H5P_LINK_CREATE), "link property list"));
  check(H5Pset_create_intermediate_group(lcpl.get(), 1), "intermediate groups");
  return Group(check(H5Gcreate2(loc, path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                     "create group " + path));
}

Group Hdf5File::open_group(hid_t loc, const std::string& path) const {
  return Group(check(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), "open group " + path));
}

Dataset Hdf5File::open_dataset(hid_t loc, const std::string& path) const {
  return Dataset(check(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), "open dataset " + path));
}

void Hdf5File::write_int_attribute(hid_t loc, const std::string& name, std::int64_t value,
                                   hid_t file_type) const {
  Dataspace space(check(H5Screate(H5S_SCALAR), "dataspace"));
  Attribute attr(check(H5Acreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       "create attribute " + name));
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), "write attribute " + name);
}

void Hdf5File::write_double_attribute(hid_t loc, const std::string& name, double value) const {
  Dataspace space(check(H5Screate(H5S_SCALAR), "dataspace"));
  Attribute attr(check(H5Acreate2(loc, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       "create attribute " + name));
  check(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value), "write attribute " + name);
}

void Hdf5File::write_string_attribute(hid_t loc, const std::string& name, const std::string& value) const {
  write_fixed_strings(loc, name, {value}, /*scalar=*/true);
}

void Hdf5File::write_strings_attribute(hid_t loc, const std::string& name,
                                       const std::vector<std::string>& values) const {
  if (values.empty()) fail("attribute " + name + ": no strings to write");
  write_fixed_strings(loc, name, values, /*scalar=*/false);
}

namespace {
// @p values packed into fixed-length, NUL-padded slots of @p size bytes each (the longest value's size).
// HDF5 has no zero-size fixed-length string type: an empty string is one NUL byte (numpy reads b'').
std::vector<char> packed_strings(const std::vector<std::string>& values, std::size_t& size) {
  size = 1;
  for (const auto& v : values) size = std::max(size, v.size());
  std::vector<char> buffer(values.size() * size, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::memcpy(buffer.data() + i * size, values[i].data(), values[i].size());
  }
  return buffer;
}
}  // namespace

Datatype Hdf5File::string_type(std::size_t size) const {
  Datatype type(check(H5Tcopy(H5T_C_S1), "string type"));
  check(H5Tset_size(type.get(), size), "string size");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "string padding");
  return type;
}

void Hdf5File::write_fixed_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                                   bool scalar) const {
  std::size_t size = 0;
  const std::vector<char> buffer = packed_strings(values, size);
  const Datatype type = string_type(size);
  const hsize_t count = values.size();
  Dataspace space(check(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr), "dataspace"));
  Attribute attr(check(H5Acreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       "create attribute " + name));
  check(H5Awrite(attr.get(), type.get(), buffer.data()), "write attribute " + name);
}

void Hdf5File::write_floats(hid_t loc, const std::string& path, std::span<const hsize_t> dims,
                            std::span<const float> values, int deflate_level) const {
  write_dataset(loc, path, dims, values.size(), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values.data(), deflate_level);
}

void Hdf5File::write_int8s(hid_t loc, const std::string& path, std::span<const hsize_t> dims,
                           std::span<const std::int8_t> values, int deflate_level) const {
  write_dataset(loc, path, dims, values.size(), H5T_STD_I8LE, H5T_NATIVE_INT8, values.data(), deflate_level);
}

void Hdf5File::write_doubles(hid_t loc, const std::string& path, std::span<const hsize_t> dims,
                             std::span<const double> values) const {
  write_dataset(loc, path, dims, values.size(), H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values.data(), 0);
}

void Hdf5File::write_ints(hid_t loc, const std::string& path, std::span<const hsize_t> dims,
                          std::span<const std::int32_t> values) const {
  write_dataset(loc, path, dims, values.size(), H5T_STD_I32LE, H5T_NATIVE_INT32, values.data(), 0);
}

void Hdf5File::write_strings(hid_t loc, const std::string& path, const std::vector<std::string>& values) const {
  std::size_t size = 0;
  const std::vector<char> buffer = packed_strings(values, size);
  const Datatype type = string_type(size);
  const hsize_t dims[] = {values.size()};
  write_dataset(loc, path, dims, values.size(), type.get(), type.get(), buffer.data(), 0);
}

void Hdf5File::write_dataset(hid_t loc, const std::string& path, std::span<const hsize_t> dims, std::size_t size,
                             hid_t file_type, hid_t memory_type, const void* values, int deflate_level) const {
  const hsize_t count = std::accumulate(dims.begin(), dims.end(), hsize_t{1}, std::multiplies<>());
  if (count != size) {
    fail("dataset " + path + ": shape " + format_shape(dims) + " does not hold " + std::to_string(size) +
         " values");
  }
  if (deflate_level < 0 || deflate_level > 9) {
    fail("dataset " + path + ": deflate level " + std::to_string(deflate_level) + " is outside [0, 9]");
  }
  Dataspace space(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "dataspace"));
  PropertyList lcpl(check(H5Pcreate(H5P_LINK_CREATE), "link property list"));
  check(H5Pset_create_intermediate_group(lcpl.get(), 1), "intermediate groups");
  PropertyList dcpl(check(H5Pcreate(H5P_DATASET_CREATE), "dataset creation property list"));
  if (deflate_level > 0 && count > 0) {
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(dims.size()), dims.data()), "chunk of " + path);
    check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(deflate_level)), "deflate filter of " + path);
  }
  Dataset dataset(check(H5Dcreate2(loc, path.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
                        "create dataset " + path));
  if (count > 0) {
    check(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), "write dataset " + path);
  }
}

Attribute Hdf5File::open_attribute(hid_t loc, const std::string& name) const {
  if (check(H5Aexists(loc, name.c_str()), "look-up of attribute " + name) == 0) {
    fail("attribute " + name + " of " + object_path(loc) + " is missing");
  }
  return Attribute(check(H5Aopen(loc, name.c_str(), H5P_DEFAULT), "open attribute " + name));
}

std::int64_t Hdf5File::read_int_attribute(hid_t loc, const std::string& name) const {
  Attribute attr = open_attribute(loc, name);
  Datatype type(check(H5Aget_type(attr.get()), "type of attribute " + name));
  Dataspace space(check(H5Aget_space(attr.get()), "dataspace of attribute " + name));
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Sget_simple_extent_npoints(space.get()) != 1) {
    fail("attribute " + name + " of " + object_path(loc) + " is not one integer");
  }
  std::int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), "read attribute " + name);
  return value;
}

double Hdf5File::read_double_attribute(hid_t loc, const std::string& name) const {
  Attribute attr = open_attribute(loc, name);
  Datatype type(check(H5Aget_type(attr.get()), "type of attribute " + name));
  Dataspace space(check(H5Aget_space(attr.get()), "dataspace of attribute " + name));
  if (H5Tget_class(type.get()) != H5T_FLOAT || H5Sget_simple_extent_npoints(space.get()) != 1) {
    fail("attribute " + name + " of " + object_path(loc) + " is not one floating-point number");
  }
  double value = 0.0;
  check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value), "read attribute " + name);
  return value;
}

bool Hdf5File::has_attribute(hid_t loc, const std::string& name) const {
  return check(H5Aexists(loc, name.c_str()), "look-up of attribute " + name) > 0;
}

std::string Hdf5File::read_string_attribute(hid_t loc, const std::string& name) const {
  std::vector<std::string> values = read_strings_attribute(loc, name);
  if (values.size() != 1) fail("attribute " + name + " of " + object_path(loc) + " is not one string");
  return values.front();
}

std::vector<std::string> Hdf5File::read_strings_attribute(hid_t loc, const std::string& name) const {
  Attribute attr = open_attribute(loc, name);
  Datatype type(check(H5Aget_type(attr.get()), "type of attribute " + name));
  Dataspace space(check(H5Aget_space(attr.get()), "dataspace of attribute " + name));
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (H5Tget_class(type.get()) != H5T_STRING || points < 0 || H5Sget_simple_extent_ndims(space.get()) > 1) {
    fail("attribute " + name + " of " + object_path(loc) + " is not a string or a list of strings");
  }
  const auto count = static_cast<std::size_t>(points);
  std::vector<std::string> values;
  if (count == 0) return values;
  if (check(H5Tis_variable_str(type.get()), "string type of attribute " + name) > 0) {
    // Variable-length strings (what h5py writes for a Python str): HDF5 allocates, we reclaim.
    Datatype memory(check(H5Tcopy(H5T_C_S1), "string type"));
    check(H5Tset_size(memory.get(), H5T_VARIABLE), "string size");
    check(H5Tset_cset(memory.get(), H5Tget_cset(type.get())), "string charset");
    std::vector<char*> pointers(count, nullptr);
    check(H5Aread(attr.get(), memory.get(), pointers.data()), "read attribute " + name);
    for (const char* p : pointers) values.emplace_back(p != nullptr ? p : "");
    H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
    return values;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (size == 0) fail("attribute " + name + " has a zero-size string type");
  std::vector<char> buffer(count * size, '\0');
  check(H5Aread(attr.get(), type.get(), buffer.data()), "read attribute " + name);
  for (std::size_t i = 0; i < count; ++i) values.push_back(until_nul(buffer.data() + i * size, size));
  return values;
}

std::vector<hsize_t> Hdf5File::shape(const Dataset& dataset, const std::string& what) const {
  Dataspace space(check(H5Dget_space(dataset.get()), "dataspace of " + what));
  const H5S_class_t kind = H5Sget_simple_extent_type(space.get());
  if (kind == H5S_NULL) return {0};
  if (kind == H5S_SCALAR) return {};
  const int rank = check(H5Sget_simple_extent_ndims(space.get()), "rank of " + what);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "shape of " + what);
  return dims;
}

void Hdf5File::check_stored(const Dataset& dataset, const std::string& what) const {
  Dataspace space(check(H5Dget_space(dataset.get()), "dataspace of " + what));
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points <= 0) return;
  Datatype type(check(H5Dget_type(dataset.get()), "type of " + what));
  PropertyList dcpl(check(H5Dget_create_plist(dataset.get()), "creation properties of " + what));
  const int filters = check(H5Pget_nfilters(dcpl.get()), "filters of " + what);
  const long double bytes = static_cast<long double>(points) * static_cast<long double>(H5Tget_size(type.get()));
  const long double needed = filters > 0 ? bytes / 1032 : bytes;
  const hsize_t stored = H5Dget_storage_size(dataset.get());
  if (static_cast<long double>(stored) < needed) {
    fail(what + " stores " + std::to_string(stored) + " bytes in the file but its shape needs " +
         std::to_string(static_cast<unsigned long long>(bytes)) + (filters > 0 ? " (compressed at most 1032:1)" : "") +
         " (a dataset never written, or a truncated one)");
  }
}

void Hdf5File::read_floats(const Dataset& dataset, const std::string& what, std::span<float> out) const {
  Datatype type(check(H5Dget_type(dataset.get()), "type of " + what));
  if (H5Tget_class(type.get()) != H5T_FLOAT) fail(what + " is not a float dataset");
  Dataspace space(check(H5Dget_space(dataset.get()), "dataspace of " + what));
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0 || static_cast<std::size_t>(points) != out.size()) {
    fail(what + " has " + std::to_string(points) + " values, expected " + std::to_string(out.size()));
  }
  if (out.empty()) return;
  check(H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + what);
}

std::string format_shape(std::span<const hsize_t> dims) {
  std::string text = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(dims[i]);
  }
  return text + (dims.size() == 1 ? ",)" : ")");
}

}  // namespace mpitrain::checkpoint::detail
