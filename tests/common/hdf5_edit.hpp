#pragma once
/// @file hdf5_edit.hpp
/// For the checkpoint tests and the checkpoint fuzzer, which damage a valid file through the HDF5 API:
/// rewriting one attribute in place as h5py's `obj.attrs[name] = value` does (the old attribute, if any,
/// is deleted and one of the new type and shape is created).

#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "checkpoint/hdf5.hpp"

namespace mpitrain::test {

/// Replaces attribute @p name of the open object @p object (file, group or dataset) by one of file type
/// @p file_type and dataspace @p space, written from @p data, which is in memory type @p memory_type.
/// @return whether HDF5 created and wrote it (a fuzzed type or space may be refused).
inline bool replace_attribute(hid_t object, const char* name, hid_t file_type, hid_t space, hid_t memory_type,
                              const void* data) {
  if (H5Aexists(object, name) > 0 && H5Adelete(object, name) < 0) return false;
  const checkpoint::detail::Attribute attr(H5Acreate2(object, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT));
  return attr.get() >= 0 && H5Awrite(attr.get(), memory_type, data) >= 0;
}

/// Replaces attribute @p name of @p object by a scalar fixed-length string of @p value's bytes (C string
/// type, at least 1 byte), as h5py writes a numpy bytes value.
inline bool replace_string_attribute(hid_t object, const char* name, const std::string& value) {
  const checkpoint::detail::Datatype type(H5Tcopy(H5T_C_S1));
  const std::string stored = value.empty() ? std::string(1, '\0') : value;
  if (H5Tset_size(type.get(), stored.size()) < 0) return false;
  const checkpoint::detail::Dataspace scalar(H5Screate(H5S_SCALAR));
  return replace_attribute(object, name, type.get(), scalar.get(), type.get(), stored.data());
}

/// Replaces attribute @p name of @p object by a scalar integer @p value stored as @p file_type (for
/// example H5T_STD_I64LE or H5T_STD_U32LE).
inline bool replace_int_attribute(hid_t object, const char* name, hid_t file_type, std::int64_t value) {
  const checkpoint::detail::Dataspace scalar(H5Screate(H5S_SCALAR));
  return replace_attribute(object, name, file_type, scalar.get(), H5T_NATIVE_INT64, &value);
}

}  // namespace mpitrain::test
