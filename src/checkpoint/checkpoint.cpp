#include "mpitrain/checkpoint/checkpoint.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <climits>
#include <cstring>
#include <span>

#include <boost/algorithm/string/split.hpp>
#include <spdlog/fmt/fmt.h>

#include "hdf5.hpp"
#include "mpitrain/base/checksum.hpp"
#include "mpitrain/base/files.hpp"
#include "mpitrain/base/tensor.hpp"
#include "mpitrain/checkpoint/lineage.hpp"
#include "mpitrain/nn/model.hpp"

// Layout choices beyond the header's summary:
// - `/mpitrain/optimizer` has `state_names` ("m,v", or "" for none) so the order of the state buffers
//   survives (HDF5 iterates groups by name, not creation order).
// - Integer attributes: format_version is int32; epoch, step_in_epoch, global_step, sampler_seed and
//   iterations int64; the crc32 values uint32. Strings are fixed-length NUL-padded byte strings (numpy 'S').
// - Every tensor is stored with its registry shape, in parameters and optimizer states alike; scaler
//   shift and scale are 1-D float32, of length 0 when the scaler holds no values.
// - Format 1 held an MLP as attributes (inputs int64, hidden "256,128" or "" for none, activation, classes
//   int32) and no buffers; its tensors had the names and shapes that nn::mlp_spec's registry gives.
// - The file uses the HDF5 1.8 format (libver bounds v18..v18, see hdf5.cpp): checksummed metadata, so a
//   corrupt header is reported rather than parsed, and attributes over 64 KiB (a long config) are allowed.

namespace mpitrain::checkpoint {
namespace {

using detail::format_shape;
using detail::Group;
using detail::Hdf5File;

static_assert(std::endian::native == std::endian::little,
              "the crc32 attributes are defined over the little-endian float32 bytes of the tensors");

constexpr const char* keras_backend = "tensorflow";
constexpr const char* keras_version = "2.15.0";

[[noreturn]] void fail(const std::string& label, const std::string& what) {
  throw CheckpointError("checkpoint " + label + ": " + what);
}

// The RunProgress fields by attribute name (P is RunProgress or const RunProgress).
template <class P>
auto progress_doubles(P& p) {
  return std::array{std::pair{"epoch_loss_sum", &p.epoch_loss_sum}, std::pair{"epoch_correct", &p.epoch_correct},
                    std::pair{"epoch_samples", &p.epoch_samples}, std::pair{"epoch_penalty_sum", &p.epoch_penalty_sum}};
}
template <class P>
auto progress_ints(P& p) {
  return std::array{std::pair{"epoch_applied_steps", &p.epoch_applied_steps},
                    std::pair{"epoch_skipped_steps", &p.epoch_skipped_steps},
                    std::pair{"skipped_steps", &p.skipped_steps},
                    std::pair{"consecutive_skipped_steps", &p.consecutive_skipped_steps}};
}

// crc32 of every optimizer state buffer, one after the other.
std::uint32_t states_crc32(const std::vector<OptimizerStateView>& states) {
  std::uint32_t crc = 0;
  for (const auto& s : states) crc = base::crc32(s.values, crc);
  return crc;
}

std::vector<hsize_t> stored_shape(const nn::ParameterInfo& p) {
  return {p.shape.begin(), p.shape.end()};
}

std::span<const float> slice(std::span<const float> flat, const nn::ParameterInfo& p) {
  return flat.subspan(static_cast<std::size_t>(p.offset), static_cast<std::size_t>(p.size()));
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  if (!text.empty()) boost::algorithm::split(parts, text, [](char c) { return c == ','; });
  return parts;
}

// The registries of @p spec's model; an invalid spec is this file's error.
struct Registries {
  nn::ParameterRegistry parameters;
  nn::ParameterRegistry buffers;
};
Registries registries_for(const nn::ModelSpec& spec, const std::string& label) {
  try {
    return {nn::registry_of(spec), nn::buffer_registry_of(spec)};
  } catch (const std::invalid_argument& e) {
    fail(label, std::string("invalid model spec: ") + e.what());
  }
}

// The layers that hold tensors, in order of their first tensor (parameters, then buffers).
std::vector<std::string> layer_names(const Registries& r) {
  std::vector<std::string> names;
  for (const auto* registry : {&r.parameters, &r.buffers}) {
    for (const auto& p : registry->entries()) {
      if (std::find(names.begin(), names.end(), p.layer) == names.end()) names.push_back(p.layer);
    }
  }
  return names;
}

void validate_for_write(const CheckpointView& ckpt, const Registries& r, const std::string& label) {
  auto sizes = [&](const std::string& what, std::size_t have, std::int64_t need) {
    if (have != static_cast<std::size_t>(need)) {
      fail(label, "cannot write: " + what + " has " + std::to_string(have) + " floats, the model needs " +
                      std::to_string(need));
    }
  };
  sizes("parameters", ckpt.parameters.size(), r.parameters.total());
  sizes("buffers", ckpt.buffers.size(), r.buffers.total());
  if (ckpt.weights_only && !ckpt.optimizer_state.empty()) fail(label, "cannot write: a weights file has no optimizer state");
  for (const auto& state : ckpt.optimizer_state) {
    if (state.name.empty() || state.name.find_first_of(",/") != std::string::npos) {
      fail(label, "cannot write: optimizer state name '" + state.name + "' is empty or contains ',' or '/'");
    }
    sizes("optimizer state " + state.name, state.values.size(), r.parameters.total());
  }
  sizes("scaler scale", ckpt.info.scaler_scale.size(), static_cast<std::int64_t>(ckpt.info.scaler_shift.size()));
  if (!ckpt.info.scaler_shift.empty()) {
    sizes("scaler shift", ckpt.info.scaler_shift.size(), base::element_count(ckpt.model.input_shape));
  }
}

// The int8 tensor called @p name in @p int8, or nullptr.
const Int8TensorView* find_int8(std::span<const Int8TensorView> int8, const std::string& name) {
  const auto it = std::ranges::find(int8, name, &Int8TensorView::name);
  return it == int8.end() ? nullptr : &*it;
}

void check_int8(std::span<const Int8TensorView> int8, const Registries& r, const std::string& label) {
  for (const auto& t : int8) {
    const auto p = r.parameters.find(t.name);
    if (!p) fail(label, "cannot write: int8 tensor " + t.name + " is not a parameter of the model");
    if (static_cast<std::int64_t>(t.values.size()) != p->size() ||
        static_cast<std::int64_t>(t.scales.size()) != p->shape.back()) {
      fail(label, "cannot write: int8 tensor " + t.name + " has " + std::to_string(t.values.size()) + " values and " +
                      std::to_string(t.scales.size()) + " scales, its shape " + format_shape(stored_shape(*p)) +
                      " needs " + std::to_string(p->size()) + " and " + std::to_string(p->shape.back()));
    }
  }
}

// Writes one parameter or buffer tensor: float32, or int8 plus `<name>_scale` when it is in @p int8.
void write_tensor(const Hdf5File& file, hid_t group, const nn::ParameterInfo& p, std::span<const float> flat,
                  std::span<const Int8TensorView> int8, int gzip_level) {
  if (const Int8TensorView* q = find_int8(int8, p.name)) {
    file.write_int8s(group, p.name, stored_shape(p), q->values, gzip_level);
    const hsize_t channels = q->scales.size();
    file.write_floats(group, p.name + "_scale", std::span(&channels, 1), q->scales, gzip_level);
  } else {
    file.write_floats(group, p.name, stored_shape(p), slice(flat, p), gzip_level);
  }
}

void write_contents(const Hdf5File& file, const CheckpointView& ckpt, const Registries& r,
                    std::span<const Int8TensorView> int8 = {}) {
  const hid_t root = file.id();
  // Keras 2 `save_weights` layout: per layer its trained tensors, then its buffers.
  const std::vector<std::string> layers = layer_names(r);
  file.write_strings_attribute(root, "layer_names", layers);
  file.write_string_attribute(root, "backend", keras_backend);
  file.write_string_attribute(root, "keras_version", keras_version);
  for (const auto& layer : layers) {
    Group group = file.create_group(root, layer);
    std::vector<std::string> weight_names;
    for (const auto& [registry, flat] : {std::pair{&r.parameters, ckpt.parameters}, std::pair{&r.buffers, ckpt.buffers}}) {
      for (const auto& p : registry->entries()) {
        if (p.layer != layer) continue;
        weight_names.push_back(p.name);
        write_tensor(file, group.get(), p, flat, int8, ckpt.gzip_level);
      }
    }
    file.write_strings_attribute(group.get(), "weight_names", weight_names);
  }

  // mpitrain's own state.
  const CheckpointInfo& info = ckpt.info;
  Group own = file.create_group(root, "mpitrain");
  file.write_int_attribute(own.get(), "format_version", checkpoint_format_version, H5T_STD_I32LE);
  file.write_string_attribute(own.get(), "kind",
                              !int8.empty() ? "weights_int8" : ckpt.weights_only ? "weights" : "checkpoint");
  file.write_string_attribute(own.get(), "model_spec", nn::to_json_text(ckpt.model));
  file.write_int_attribute(own.get(), "epoch", info.epoch, H5T_STD_I64LE);
  file.write_int_attribute(own.get(), "step_in_epoch", info.step_in_epoch, H5T_STD_I64LE);
  file.write_int_attribute(own.get(), "global_step", info.global_step, H5T_STD_I64LE);
  file.write_string_attribute(own.get(), "config", info.config_ini);
  file.write_string_attribute(own.get(), "trajectory", info.trajectory);
  file.write_string_attribute(own.get(), "lineage", info.lineage);
  if (!info.derivation.empty()) file.write_string_attribute(own.get(), "derivation", info.derivation);
  file.write_int_attribute(own.get(), "sampler_seed", static_cast<std::int64_t>(info.sampler_seed), H5T_STD_I64LE);
  file.write_int_attribute(own.get(), "parameter_crc32", base::crc32(ckpt.parameters), H5T_STD_U32LE);
  file.write_int_attribute(own.get(), "buffer_crc32", base::crc32(ckpt.buffers), H5T_STD_U32LE);
  file.write_int_attribute(own.get(), "state_crc32", states_crc32(ckpt.optimizer_state), H5T_STD_U32LE);
  for (const auto& [name, value] : progress_doubles(info.progress)) file.write_double_attribute(own.get(), name, *value);
  for (const auto& [name, value] : progress_ints(info.progress)) {
    file.write_int_attribute(own.get(), name, *value, H5T_STD_I64LE);
  }

  if (!ckpt.weights_only) {
    Group optimizer = file.create_group(own.get(), "optimizer");
    file.write_string_attribute(optimizer.get(), "name", info.optimizer_name);
    file.write_int_attribute(optimizer.get(), "iterations", info.optimizer_iterations, H5T_STD_I64LE);
    std::vector<std::string> names;
    for (const auto& s : ckpt.optimizer_state) names.push_back(s.name);
    file.write_string_attribute(optimizer.get(), "state_names", fmt::format("{}", fmt::join(names, ",")));
    for (const auto& state : ckpt.optimizer_state) {
      for (const auto& p : r.parameters.entries()) {
        // `<state>/dense/kernel:0`: the parameter name's '/' makes a nested group, created on the way.
        file.write_floats(optimizer.get(), state.name + "/" + p.name, stored_shape(p), slice(state.values, p),
                          ckpt.gzip_level);
      }
    }
  }

  Group scaler = file.create_group(own.get(), "scaler");
  file.write_string_attribute(scaler.get(), "method", info.scaler_method);
  const hsize_t features = info.scaler_shift.size();
  file.write_floats(scaler.get(), "shift", std::span(&features, 1), info.scaler_shift);
  file.write_floats(scaler.get(), "scale", std::span(&features, 1), info.scaler_scale);
}

// The tensor at @p path below @p loc, opened after checking its shape against the registry's.
detail::Dataset open_checked(const Hdf5File& file, hid_t loc, const std::string& path, const std::string& what,
                             const nn::ParameterInfo& p) {
  if (!file.exists(loc, path)) file.fail(what + " is missing");
  detail::Dataset dataset = file.open_dataset(loc, path);
  const std::vector<hsize_t> actual = file.shape(dataset, what);
  const std::vector<hsize_t> expected = stored_shape(p);
  if (actual != expected) {
    file.fail(what + " has shape " + format_shape(actual) + ", the model needs " + format_shape(expected));
  }
  file.check_stored(dataset, what);
  return dataset;
}

// Reads one flat buffer (parameters, buffers or an optimizer state) tensor by tensor. Every shape is
// checked before anything is allocated, so a corrupt spec cannot request a huge buffer on its own.
// @p path_of gives each tensor's dataset path below @p loc.
template <typename PathOf>
std::vector<float> read_flat(const Hdf5File& file, hid_t loc, const std::string& what,
                             const nn::ParameterRegistry& registry, PathOf path_of) {
  std::vector<detail::Dataset> datasets;
  for (const auto& p : registry.entries()) {
    datasets.push_back(open_checked(file, loc, path_of(p), what + p.name, p));
  }
  std::vector<float> flat(static_cast<std::size_t>(registry.total()));
  for (std::size_t i = 0; i < datasets.size(); ++i) {
    const auto& p = registry.entries()[i];
    file.read_floats(datasets[i], what + p.name,
                     std::span(flat).subspan(static_cast<std::size_t>(p.offset), static_cast<std::size_t>(p.size())));
  }
  return flat;
}

std::vector<int> parse_hidden(const Hdf5File& file, const std::string& text) {
  std::vector<int> widths;
  for (const auto& part : split(text)) {
    int width = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), width);
    if (ec != std::errc() || end != part.data() + part.size() || part.empty()) {
      file.fail("attribute hidden of /mpitrain is not a comma-separated list of widths: '" + text + "'");
    }
    widths.push_back(width);
  }
  return widths;
}

// Format 1: the MLP described by the attributes inputs, hidden, activation and classes.
nn::ModelSpec read_mlp_attributes(const Hdf5File& file, hid_t own) {
  const std::int64_t inputs = file.read_int_attribute(own, "inputs");
  const std::vector<int> hidden = parse_hidden(file, file.read_string_attribute(own, "hidden"));
  const std::string activation = file.read_string_attribute(own, "activation");
  const std::int64_t classes = file.read_int_attribute(own, "classes");
  if (classes < INT_MIN || classes > INT_MAX) file.fail("attribute classes of /mpitrain is out of range");
  try {
    return nn::mlp_spec(inputs, hidden, nn::parse_activation(activation), static_cast<int>(classes));
  } catch (const std::invalid_argument& e) {
    file.fail(std::string("invalid architecture: ") + e.what());
  }
}

nn::ModelSpec read_model_spec(const Hdf5File& file, hid_t own, std::int64_t version) {
  if (version == 1) return read_mlp_attributes(file, own);
  try {
    return nn::parse_model_spec(file.read_string_attribute(own, "model_spec"));
  } catch (const std::invalid_argument& e) {
    file.fail(std::string("attribute model_spec of /mpitrain: ") + e.what());
  }
}

void check_crc(const Hdf5File& file, hid_t own, const char* attribute, std::uint32_t actual, const std::string& what) {
  const std::int64_t stored = file.read_int_attribute(own, attribute);
  if (stored != actual) {
    file.fail(what + " checksum mismatch (corrupt file): stored crc32 " + std::to_string(stored) + ", computed " +
              std::to_string(actual));
  }
}

void read_optimizer(const Hdf5File& file, hid_t own, const nn::ParameterRegistry& registry, Checkpoint& ckpt) {
  if (!file.exists(own, "optimizer")) file.fail("no /mpitrain/optimizer group");
  Group optimizer = file.open_group(own, "optimizer");
  ckpt.info.optimizer_name = file.read_string_attribute(optimizer.get(), "name");
  ckpt.info.optimizer_iterations = file.read_int_attribute(optimizer.get(), "iterations");
  for (const auto& name : split(file.read_string_attribute(optimizer.get(), "state_names"))) {
    ckpt.optimizer_state.push_back(
        {name, read_flat(file, optimizer.get(), "optimizer state " + name + " of ", registry,
                         [&](const nn::ParameterInfo& p) { return name + "/" + p.name; })});
  }
  std::vector<OptimizerStateView> views;
  for (const auto& s : ckpt.optimizer_state) views.push_back({s.name, s.values});
  check_crc(file, own, "state_crc32", states_crc32(views), "optimizer state");
}

void read_scaler(const Hdf5File& file, hid_t own, std::int64_t inputs, CheckpointInfo& info) {
  if (!file.exists(own, "scaler")) file.fail("no /mpitrain/scaler group");
  Group scaler = file.open_group(own, "scaler");
  info.scaler_method = file.read_string_attribute(scaler.get(), "method");
  for (auto [name, out] : {std::pair{"shift", &info.scaler_shift}, std::pair{"scale", &info.scaler_scale}}) {
    const std::string what = std::string("scaler ") + name;
    if (!file.exists(scaler.get(), name)) file.fail(what + " is missing");
    detail::Dataset dataset = file.open_dataset(scaler.get(), name);
    const std::vector<hsize_t> shape = file.shape(dataset, what);
    if (shape.size() != 1 || (shape[0] != 0 && shape[0] != static_cast<hsize_t>(inputs))) {
      file.fail(what + " has shape " + format_shape(shape) + ", expected (0,) or (" + std::to_string(inputs) + ",)");
    }
    file.check_stored(dataset, what);
    out->resize(static_cast<std::size_t>(shape[0]));
    file.read_floats(dataset, what, *out);
  }
  if (info.scaler_shift.size() != info.scaler_scale.size()) file.fail("scaler shift and scale differ in length");
}

// The lineage attribute, checked; "" when missing (a file written before lineages existed).
std::string read_lineage(const Hdf5File& file, hid_t own) {
  if (!file.has_attribute(own, "lineage")) return "";
  std::string text = file.read_string_attribute(own, "lineage");
  try {
    Lineage::parse(text);
  } catch (const std::invalid_argument& e) {
    file.fail(std::string("attribute lineage of /mpitrain: ") + e.what());
  }
  return text;
}

// The /mpitrain group and the file's format version, after checking that this build reads it.
std::pair<Group, std::int64_t> open_own_group(const Hdf5File& file) {
  if (!file.exists(file.id(), "mpitrain")) file.fail("not an mpitrain checkpoint (no /mpitrain group)");
  Group own = file.open_group(file.id(), "mpitrain");
  const std::int64_t version = file.read_int_attribute(own.get(), "format_version");
  if (version != 1 && version != checkpoint_format_version) {
    file.fail("format_version is " + std::to_string(version) + ", this build reads versions 1 and " +
              std::to_string(checkpoint_format_version));
  }
  return {std::move(own), version};
}

Checkpoint read_contents(const Hdf5File& file) {
  const hid_t root = file.id();
  auto [own, version] = open_own_group(file);
  Checkpoint ckpt;
  ckpt.format_version = static_cast<int>(version);
  ckpt.model = read_model_spec(file, own.get(), version);
  const Registries r = registries_for(ckpt.model, file.label());
  if (version >= 2) {
    const std::string kind = file.read_string_attribute(own.get(), "kind");
    if (kind != "checkpoint" && kind != "weights") file.fail("attribute kind of /mpitrain is '" + kind + "'");
    ckpt.weights_only = kind == "weights";
  }

  // Keras layout: /<layer>/<tensor name>, where the tensor name already starts with `<layer>/`.
  const auto keras_path = [](const nn::ParameterInfo& p) { return p.layer + "/" + p.name; };
  ckpt.parameters = read_flat(file, root, "", r.parameters, keras_path);
  check_crc(file, own.get(), "parameter_crc32", base::crc32(ckpt.parameters), "parameter");
  if (version >= 2) {
    ckpt.buffers = read_flat(file, root, "", r.buffers, keras_path);
    check_crc(file, own.get(), "buffer_crc32", base::crc32(ckpt.buffers), "buffer");
  }
  CheckpointInfo& info = ckpt.info;
  info.epoch = file.read_int_attribute(own.get(), "epoch");
  info.step_in_epoch = file.read_int_attribute(own.get(), "step_in_epoch");
  info.global_step = file.read_int_attribute(own.get(), "global_step");
  info.config_ini = file.read_string_attribute(own.get(), "config");
  info.trajectory = file.read_string_attribute(own.get(), "trajectory");
  info.lineage = read_lineage(file, own.get());
  if (file.has_attribute(own.get(), "derivation")) info.derivation = file.read_string_attribute(own.get(), "derivation");
  info.sampler_seed = static_cast<std::uint64_t>(file.read_int_attribute(own.get(), "sampler_seed"));
  for (const auto& [name, value] : progress_doubles(info.progress)) {
    if (file.has_attribute(own.get(), name)) *value = file.read_double_attribute(own.get(), name);
  }
  for (const auto& [name, value] : progress_ints(info.progress)) {
    if (file.has_attribute(own.get(), name)) *value = file.read_int_attribute(own.get(), name);
  }
  if (!ckpt.weights_only) read_optimizer(file, own.get(), r.parameters, ckpt);
  read_scaler(file, own.get(), base::element_count(ckpt.model.input_shape), info);
  return ckpt;
}

// base::write_atomically (synced) of the file @p fill writes, a file-system failure reported as a
// CheckpointIoError naming the checkpoint.
void write_synced(const std::filesystem::path& path, const std::string& label,
                  const std::function<void(const std::filesystem::path&)>& fill) {
  try {
    base::write_atomically(path, fill, base::Durability::synced);
  } catch (const base::FileError& e) {
    throw CheckpointIoError("checkpoint " + label + ": " + e.what(), e.error_number());
  }
}

}  // namespace

CheckpointView Checkpoint::view() const {
  std::vector<OptimizerStateView> states;
  for (const auto& s : optimizer_state) states.push_back({s.name, s.values});
  return {model, parameters, buffers, std::move(states), info, weights_only};
}

const OptimizerState& Checkpoint::state(const std::string& name) const {
  for (const auto& s : optimizer_state) {
    if (s.name == name) return s;
  }
  throw CheckpointError("checkpoint has no optimizer state '" + name + "'");
}

void write_checkpoint(const std::filesystem::path& path, const CheckpointView& ckpt,
                      const std::function<void()>& before_rename) {
  const std::string label = path.string();
  const detail::ErrorSilencer silence;
  const Registries registries = registries_for(ckpt.model, label);
  validate_for_write(ckpt, registries, label);

  write_synced(path, label, [&](const std::filesystem::path& tmp) {
    {
      // Every HDF5 object is closed when write_contents returns, so the close below really closes it.
      Hdf5File file = Hdf5File::create(tmp, label);
      write_contents(file, ckpt, registries);
      file.flush_and_close();
    }
    // Read back what reached the file: its checks (shapes, crc32 of the tensors against the values
    // written) and the fields that say which checkpoint it is.
    const Checkpoint back = read_contents(Hdf5File::open_read_only(tmp, label));
    const CheckpointInfo& info = ckpt.info;
    if (back.info.global_step != info.global_step || back.info.lineage != info.lineage ||
        back.info.epoch != info.epoch || back.info.step_in_epoch != info.step_in_epoch ||
        back.weights_only != ckpt.weights_only || back.info.derivation != info.derivation) {
      fail(label, "the file written does not read back as written (" + tmp.string() + ")");
    }
    if (before_rename) before_rename();  // tests: kill -9 between the complete temporary and the rename
  });
}

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt,
                      const std::function<void()>& before_rename) {
  write_checkpoint(path, ckpt.view(), before_rename);
}

void write_int8_weights(const std::filesystem::path& path, const CheckpointView& ckpt,
                        std::span<const Int8TensorView> int8) {
  const std::string label = path.string();
  const detail::ErrorSilencer silence;
  const Registries registries = registries_for(ckpt.model, label);
  CheckpointView weights = ckpt;
  weights.optimizer_state.clear();
  weights.weights_only = true;
  validate_for_write(weights, registries, label);
  check_int8(int8, registries, label);
  write_synced(path, label, [&](const std::filesystem::path& tmp) {
    Hdf5File file = Hdf5File::create(tmp, label);
    write_contents(file, weights, registries, int8);
    file.flush_and_close();
  });
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  const std::string label = path.string();
  const detail::ErrorSilencer silence;
  try {
    const Hdf5File file = Hdf5File::open_read_only(path, label);
    return read_contents(file);
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {  // e.g. bad_alloc from sizes a corrupt file claims
    fail(label, e.what());
  }
}

CheckpointIdentity read_checkpoint_identity(const std::filesystem::path& path) {
  const std::string label = path.string();
  const detail::ErrorSilencer silence;
  const Hdf5File file = Hdf5File::open_read_only(path, label);
  auto [own, version] = open_own_group(file);
  return {file.read_int_attribute(own.get(), "global_step"), read_lineage(file, own.get())};
}

}  // namespace mpitrain::checkpoint
