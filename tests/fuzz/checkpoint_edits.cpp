#include "checkpoint_edits.hpp"

#include <hdf5.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/hdf5.hpp"
#include "common/hdf5_edit.hpp"

namespace mpitrain::fuzz {
namespace {

using checkpoint::detail::Dataset;
using checkpoint::detail::Dataspace;
using checkpoint::detail::Datatype;
using checkpoint::detail::FileHandle;
using checkpoint::detail::Group;
using checkpoint::detail::PropertyList;
using Object = checkpoint::detail::Handle<H5Oclose>;

// Every attribute the reader looks at, on the object that holds it in the template.
constexpr std::pair<const char*, const char*> known_attributes[] = {
    {"/", "layer_names"},           {"/", "backend"},
    {"/", "keras_version"},         {"/dense", "weight_names"},
    {"/dense_1", "weight_names"},   {"/mpitrain", "format_version"},
    {"/mpitrain", "model_spec"},    {"/mpitrain", "kind"},
    {"/mpitrain", "buffer_crc32"},
    {"/mpitrain", "epoch"},         {"/mpitrain", "step_in_epoch"},
    {"/mpitrain", "global_step"},   {"/mpitrain", "config"},
    {"/mpitrain", "trajectory"},    {"/mpitrain", "sampler_seed"},
    {"/mpitrain", "lineage"},
    {"/mpitrain", "state_crc32"},   {"/mpitrain", "parameter_crc32"},
    {"/mpitrain/optimizer", "name"}, {"/mpitrain/optimizer", "iterations"},
    {"/mpitrain/optimizer", "state_names"}, {"/mpitrain/scaler", "method"},
};
constexpr const char* objects[] = {"/", "/dense", "/dense_1", "/mpitrain", "/mpitrain/optimizer",
                                   "/mpitrain/scaler", "/dense/dense/kernel:0"};

// Datasets of the template, then a few that a changed architecture or state list would ask for.
constexpr const char* dataset_paths[] = {
    "dense/dense/kernel:0",  "dense/dense/bias:0",  "dense_1/dense_1/kernel:0",  "dense_1/dense_1/bias:0",
    "mpitrain/optimizer/m/dense/kernel:0",   "mpitrain/optimizer/m/dense/bias:0",
    "mpitrain/optimizer/m/dense_1/kernel:0", "mpitrain/optimizer/m/dense_1/bias:0",
    "mpitrain/optimizer/v/dense/kernel:0",   "mpitrain/optimizer/v/dense/bias:0",
    "mpitrain/optimizer/v/dense_1/kernel:0", "mpitrain/optimizer/v/dense_1/bias:0",
    "mpitrain/scaler/shift", "mpitrain/scaler/scale", "dense_2/dense_2/kernel:0", "dense_2/dense_2/bias:0",
    "mpitrain/optimizer/x/dense/kernel:0"};
constexpr const char* group_paths[] = {"dense", "dense/dense", "dense_1", "mpitrain", "mpitrain/optimizer",
                                       "mpitrain/optimizer/m", "mpitrain/optimizer/m/dense", "mpitrain/scaler"};

constexpr std::int64_t interesting_ints[] = {0,           1,           2,          3,          4,
                                             -1,          255,         65536,      1LL << 20,  1LL << 30,
                                             2147483647,  1LL << 31,   1LL << 32,  1LL << 40,  1LL << 62,
                                             INT64_MAX,   INT64_MIN,   1234,       4242};
constexpr hsize_t interesting_dims[] = {0, 1, 2, 3, 4, 1u << 16, 1u << 20, 1ull << 30, 1ull << 31, 1ull << 32,
                                        1ull << 40, 1ull << 62};

std::string pick_path(FuzzedDataProvider& in) {
  return in.ConsumeBool() ? in.PickValueInArray(dataset_paths) : in.PickValueInArray(group_paths);
}

Object open_object(hid_t file, std::string& name, FuzzedDataProvider& in) {
  std::string object;
  if (in.ConsumeBool()) {
    const auto& [o, a] = in.PickValueInArray(known_attributes);
    object = o;
    name = a;
  } else {
    object = in.PickValueInArray(objects);
    name = in.PickValueInArray(known_attributes).second;
  }
  return Object(H5Oopen(file, object.c_str(), H5P_DEFAULT));
}

// Scalar, or a list of 0 to 3 elements.
Dataspace attribute_space(FuzzedDataProvider& in) {
  const int kind = in.ConsumeIntegralInRange(0, 4);
  if (kind == 0) return Dataspace(H5Screate(H5S_SCALAR));
  const hsize_t count = static_cast<hsize_t>(kind - 1);
  return Dataspace(H5Screate_simple(1, &count, nullptr));
}

std::size_t element_count(hid_t space) {
  const hssize_t points = H5Sget_simple_extent_npoints(space);
  return points > 0 ? static_cast<std::size_t>(points) : 0;
}

void delete_attribute(hid_t file, FuzzedDataProvider& in) {
  std::string name;
  const Object object = open_object(file, name, in);
  if (object.get() >= 0) H5Adelete(object.get(), name.c_str());
}

void set_number_attribute(hid_t file, FuzzedDataProvider& in) {
  std::string name;
  const Object object = open_object(file, name, in);
  const hid_t type = in.PickValueInArray({H5T_STD_I8LE, H5T_STD_I32LE, H5T_STD_I64LE, H5T_STD_U32LE,
                                          H5T_STD_U64LE, H5T_STD_I64BE, H5T_IEEE_F64LE});
  const Dataspace space = attribute_space(in);
  std::vector<std::int64_t> values(std::max<std::size_t>(element_count(space.get()), 1));
  for (auto& v : values) v = in.ConsumeBool() ? in.PickValueInArray(interesting_ints) : in.ConsumeIntegral<std::int64_t>();
  std::vector<double> doubles(values.begin(), values.end());
  if (object.get() < 0 || space.get() < 0) return;
  const bool floating = type == H5T_IEEE_F64LE;
  (void)test::replace_attribute(object.get(), name.c_str(), type, space.get(),
                                floating ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64,
                                floating ? static_cast<const void*>(doubles.data()) : values.data());
}

void set_string_attribute(hid_t file, FuzzedDataProvider& in) {
  std::string name;
  const Object object = open_object(file, name, in);
  const Dataspace space = attribute_space(in);
  const bool variable = in.ConsumeBool();
  const bool utf8 = in.ConsumeBool();
  const H5T_str_t pad = in.PickValueInArray({H5T_STR_NULLTERM, H5T_STR_NULLPAD, H5T_STR_SPACEPAD});
  std::vector<std::string> values(std::max<std::size_t>(element_count(space.get()), 1));
  for (auto& v : values) v = in.ConsumeRandomLengthString(64);
  if (object.get() < 0 || space.get() < 0) return;
  Datatype type(H5Tcopy(H5T_C_S1));
  H5Tset_cset(type.get(), utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
  if (variable) {
    H5Tset_size(type.get(), H5T_VARIABLE);
    std::vector<const char*> pointers;
    for (const auto& v : values) pointers.push_back(v.c_str());
    (void)test::replace_attribute(object.get(), name.c_str(), type.get(), space.get(), type.get(), pointers.data());
    return;
  }
  std::size_t size = 1;
  for (const auto& v : values) size = std::max(size, v.size());
  std::vector<char> buffer(values.size() * size, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) std::memcpy(buffer.data() + i * size, values[i].data(), values[i].size());
  H5Tset_size(type.get(), size);
  H5Tset_strpad(type.get(), pad);
  (void)test::replace_attribute(object.get(), name.c_str(), type.get(), space.get(), type.get(), buffer.data());
}

PropertyList intermediate_groups() {
  PropertyList lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  return lcpl;
}

void replace_dataset(hid_t file, FuzzedDataProvider& in) {
  const std::string path = in.PickValueInArray(dataset_paths);
  const int kind = in.ConsumeIntegralInRange(0, 4);  // 0 null, 1 scalar, 2..4 rank 1..3
  std::vector<hsize_t> dims(kind >= 2 ? static_cast<std::size_t>(kind - 1) : 0);
  for (auto& d : dims) d = in.ConsumeBool() ? in.ConsumeIntegralInRange<hsize_t>(0, 8) : in.PickValueInArray(interesting_dims);
  Datatype string_type(H5Tcopy(H5T_C_S1));
  H5Tset_size(string_type.get(), 4);
  const hid_t type = in.PickValueInArray({H5T_IEEE_F32LE, H5T_IEEE_F32BE, H5T_IEEE_F64LE, H5T_STD_I32LE,
                                          H5T_STD_U8LE, string_type.get()});
  const bool chunked = in.ConsumeBool() && !dims.empty() && std::count(dims.begin(), dims.end(), 0) == 0;
  const bool write = in.ConsumeBool();
  Dataspace space(kind == 0   ? H5Screate(H5S_NULL)
                  : kind == 1 ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  if (space.get() < 0) return;
  PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (chunked) {
    std::vector<hsize_t> chunk(dims.size());
    for (std::size_t i = 0; i < dims.size(); ++i) chunk[i] = std::min<hsize_t>(dims[i], 4);
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_deflate(dcpl.get(), 6);
  }
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  const PropertyList lcpl = intermediate_groups();
  Dataset dataset(H5Dcreate2(file, path.c_str(), type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT));
  const std::size_t points = element_count(space.get());
  if (dataset.get() < 0 || !write || kind == 0 || points > 4096) return;
  std::vector<std::uint8_t> bytes = in.ConsumeBytes<std::uint8_t>(points * H5Tget_size(type));
  bytes.resize(points * H5Tget_size(type), 0x3f);
  H5Dwrite(dataset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data());
}

void delete_link(hid_t file, FuzzedDataProvider& in) { H5Ldelete(file, pick_path(in).c_str(), H5P_DEFAULT); }

// Replaces an object by an empty group, a soft link (to another object, to itself, or dangling) or an
// external link into the same file.
void replace_object(hid_t file, const std::string& file_name, FuzzedDataProvider& in) {
  const std::string path = pick_path(in);
  const int kind = in.ConsumeIntegralInRange(0, 3);
  const std::string target = "/" + pick_path(in);
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  const PropertyList lcpl = intermediate_groups();
  switch (kind) {
    case 0: {
      const Group group(H5Gcreate2(file, path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
      break;
    }
    case 1: H5Lcreate_soft(target.c_str(), file, path.c_str(), lcpl.get(), H5P_DEFAULT); break;
    case 2: H5Lcreate_soft(("/" + path).c_str(), file, path.c_str(), lcpl.get(), H5P_DEFAULT); break;
    default: H5Lcreate_external(file_name.c_str(), target.c_str(), file, path.c_str(), lcpl.get(), H5P_DEFAULT);
  }
}

std::vector<float> ramp(std::size_t n, float start, float step) {
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = start + step * static_cast<float>(i);
  return values;
}

}  // namespace

std::vector<ByteRange> raw_data_ranges(const std::filesystem::path& path) {
  const checkpoint::detail::ErrorSilencer silence;
  FileHandle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  std::vector<ByteRange> ranges;
  auto visit = [](hid_t root, const char* name, const H5O_info_t* info, void* out) -> herr_t {
    if (info->type != H5O_TYPE_DATASET) return 0;
    const Dataset dataset(H5Dopen2(root, name, H5P_DEFAULT));
    const haddr_t offset = H5Dget_offset(dataset.get());
    const hsize_t size = H5Dget_storage_size(dataset.get());
    if (offset != HADDR_UNDEF && size > 0) static_cast<std::vector<ByteRange>*>(out)->push_back({offset, size});
    return 0;
  };
  if (file.get() < 0 || H5Ovisit(file.get(), H5_INDEX_NAME, H5_ITER_NATIVE, visit, &ranges) < 0) {
    throw std::runtime_error("cannot list the datasets of " + path.string());
  }
  std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  return ranges;
}

checkpoint::Checkpoint template_checkpoint(int kind) {
  checkpoint::Checkpoint ckpt;
  ckpt.model = nn::mlp_spec(3, {2}, nn::ActivationKind::tanh, 2);
  const std::size_t total = 3 * 2 + 2 + 2 * 2 + 2;
  ckpt.parameters = ramp(total, -1.0f, 0.125f);
  auto& info = ckpt.info;
  info.optimizer_name = "adam";
  info.optimizer_iterations = 7;
  ckpt.optimizer_state = {{"m", ramp(total, 0.5f, -0.0625f)}, {"v", ramp(total, 0.01f, 0.01f)}};
  info.epoch = 1;
  info.step_in_epoch = 3;
  info.global_step = 7;
  info.scaler_method = "standardize";
  info.scaler_shift = {0.5f, -0.25f, 1.0f};
  info.scaler_scale = {2.0f, 4.0f, 0.5f};
  info.config_ini = "[model]\nhidden = 2\nactivation = tanh\nclasses = 2\n";
  info.lineage = "run@0,session@5";
  if (kind == 1) {  // a weights file of a softmax regression
    ckpt.model = nn::mlp_spec(3, {}, nn::ActivationKind::tanh, 2);
    ckpt.parameters.resize(3 * 2 + 2);
    ckpt.weights_only = true;
    info.optimizer_name.clear();
    info.optimizer_iterations = 0;
    ckpt.optimizer_state.clear();
    info.scaler_method = "none";
    info.scaler_shift.clear();
    info.scaler_scale.clear();
  }
  return ckpt;
}

void apply_checkpoint_edits(const std::filesystem::path& path, FuzzedDataProvider& in) {
  const checkpoint::detail::ErrorSilencer silence;
  PropertyList fapl(H5Pcreate(H5P_FILE_ACCESS));
  if (in.ConsumeBool()) H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
  FileHandle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()));
  if (file.get() < 0) return;
  for (int edit = 0; edit < 16 && in.remaining_bytes() > 0; ++edit) {
    switch (in.ConsumeIntegralInRange(0, 5)) {
      case 0: delete_attribute(file.get(), in); break;
      case 1: set_number_attribute(file.get(), in); break;
      case 2: set_string_attribute(file.get(), in); break;
      case 3: replace_dataset(file.get(), in); break;
      case 4: delete_link(file.get(), in); break;
      default: replace_object(file.get(), path.string(), in); break;
    }
  }
  H5Eclear2(H5E_DEFAULT);
}

}  // namespace mpitrain::fuzz
