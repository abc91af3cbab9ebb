#include "mpitrain/checkpoint/checkpoint.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <climits>
#include <cstring>
#include <optional>
#include <span>

#include "hdf5.hpp"
#include "mpitrain/base/files.hpp"
#include "mpitrain/base/tensor.hpp"
#include "mpitrain/checkpoint/lineage.hpp"
#include "mpitrain/nn/model.hpp"

// Layout choices beyond the header's summary:
// - `hidden` is a fixed-length string attribute of comma-separated decimal widths ("256,128"), and "" (one
//   NUL byte) for no hidden layer: HDF5 cannot hold a zero-size fixed-length string nor (portably) a
//   zero-length attribute array, and a string reads back the same in h5py for every width list.
// - `/mpitrain/optimizer` also has `state_names` ("m,v", or "" for none) so the order of the state buffers
//   survives (HDF5 iterates groups by name, not creation order).
// - Integer attributes: format_version and classes are int32; inputs, epoch, step_in_epoch, global_step and
//   iterations int64; parameter_crc32 uint32. Strings are fixed-length NUL-padded byte strings (numpy 'S').
// - Kernels are stored (inputs, outputs) and biases (outputs,), in parameters and optimizer states alike;
//   scaler shift and scale are 1-D (features) float32, of length 0 when the scaler holds no values.
// - The file uses the HDF5 1.8 format (libver bounds v18..v18, see hdf5.cpp): checksummed metadata, so a
//   corrupt header is reported rather than parsed, and attributes over 64 KiB (a long config) are allowed.

namespace mpitrain::checkpoint {
namespace {

using detail::format_shape;
using detail::Group;
using detail::Hdf5File;

static_assert(std::endian::native == std::endian::little,
              "parameter_crc32 is defined over the little-endian float32 bytes of the parameters");

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

// zlib crc32 of the parameter bytes; fed in chunks because crc32 takes a 32-bit length.
std::uint32_t parameter_crc32(std::span<const float> values) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* bytes = reinterpret_cast<const Bytef*>(values.data());
  std::size_t left = values.size_bytes();
  while (left > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(left, std::size_t{1} << 30));
    crc = crc32(crc, bytes, chunk);
    bytes += chunk;
    left -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

// crc32 of every optimizer state buffer, one after the other.
std::uint32_t state_crc32(const std::vector<std::vector<float>>& states) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  for (const auto& s : states) {
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(s.data()), s.size() * sizeof(float));
  }
  return static_cast<std::uint32_t>(crc);
}

std::vector<hsize_t> stored_shape(const nn::ParameterInfo& p) { return {p.shape.begin(), p.shape.end()}; }

std::span<const float> slice(const std::vector<float>& flat, const nn::ParameterInfo& p) {
  return std::span<const float>(flat).subspan(static_cast<std::size_t>(p.offset), static_cast<std::size_t>(p.size()));
}

std::string join(const std::vector<std::string>& parts) {
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : ",") + part;
  return text;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  if (text.empty()) return parts;
  std::size_t start = 0;
  for (std::size_t comma; (comma = text.find(',', start)) != std::string::npos; start = comma + 1) {
    parts.push_back(text.substr(start, comma - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

// Layer names in registry order, each once.
std::vector<std::string> layer_names(const nn::ParameterRegistry& registry) {
  std::vector<std::string> names;
  for (const auto& p : registry.entries()) {
    if (std::find(names.begin(), names.end(), p.layer) == names.end()) names.push_back(p.layer);
  }
  return names;
}

nn::ParameterRegistry registry_for(const nn::ModelSpec& spec, const std::string& label) {
  try {
    return nn::registry_of(spec);
  } catch (const std::invalid_argument& e) {
    fail(label, std::string("invalid architecture: ") + e.what());
  }
}

// Format 1 stores the architecture as the attributes of an MLP; this adapter between them and a ModelSpec
// goes when format 2 stores the spec itself as JSON.
struct MlpAttributes {
  std::int64_t inputs = 0;
  std::vector<int> hidden;
  nn::ActivationKind activation = nn::ActivationKind::relu;
  int classes = 0;
};

constexpr const char* only_mlp = "checkpoint format 1 stores only an MLP (dense and activation layers "
                                 "alternating with one activation kind, a dense layer last, a one-dimensional input)";

// The attributes of @p spec, if it is nn::mlp_spec's chain (Dense, activation, ..., Dense).
std::optional<MlpAttributes> mlp_attributes(const nn::ModelSpec& spec) {
  MlpAttributes a;
  bool fits = spec.input_shape.size() == 1 && !spec.layers.empty();
  for (const nn::LayerSpec& layer : spec.layers) {
    if (const auto* act = std::get_if<nn::ActivationSpec>(&layer)) a.activation = act->kind;
    const auto* dense = std::get_if<nn::DenseSpec>(&layer);
    if (dense != nullptr) fits = fits && dense->units <= INT_MAX;
    if (dense != nullptr && fits) a.hidden.push_back(static_cast<int>(dense->units));
  }
  fits = fits && !a.hidden.empty();
  if (fits) {
    a.inputs = spec.input_shape.front();
    a.classes = a.hidden.back();
    a.hidden.pop_back();
    try {
      fits = nn::mlp_spec(a.inputs, a.hidden, a.activation, a.classes) == spec;
    } catch (const std::invalid_argument&) {
      fits = false;
    }
  }
  if (!fits) return std::nullopt;
  return a;
}

void validate_for_write(const Checkpoint& ckpt, const nn::ParameterRegistry& registry, const std::string& label) {
  if (!mlp_attributes(ckpt.architecture)) fail(label, std::string("cannot write: ") + only_mlp);
  const auto total = static_cast<std::size_t>(registry.total());
  auto sizes = [&](const std::string& what, std::size_t have, std::size_t need) {
    if (have != need) {
      fail(label, "cannot write: " + what + " has " + std::to_string(have) + " floats, the architecture needs " +
                      std::to_string(need));
    }
  };
  sizes("parameters", ckpt.parameters.size(), total);
  if (ckpt.optimizer_state.size() != ckpt.optimizer_state_names.size()) {
    fail(label, "cannot write: " + std::to_string(ckpt.optimizer_state.size()) + " optimizer state buffers for " +
                    std::to_string(ckpt.optimizer_state_names.size()) + " names");
  }
  for (std::size_t i = 0; i < ckpt.optimizer_state.size(); ++i) {
    const std::string& name = ckpt.optimizer_state_names[i];
    if (name.empty() || name.find_first_of(",/") != std::string::npos) {
      fail(label, "cannot write: optimizer state name '" + name + "' is empty or contains ',' or '/'");
    }
    sizes("optimizer state " + name, ckpt.optimizer_state[i].size(), total);
  }
  sizes("scaler scale", ckpt.scaler_scale.size(), ckpt.scaler_shift.size());
  if (!ckpt.scaler_shift.empty()) {
    sizes("scaler shift", ckpt.scaler_shift.size(),
          static_cast<std::size_t>(base::element_count(ckpt.architecture.input_shape)));
  }
}

void write_contents(const Hdf5File& file, const Checkpoint& ckpt, const nn::ParameterRegistry& registry) {
  const hid_t root = file.id();
  // Keras 2 `save_weights` layout.
  const std::vector<std::string> layers = layer_names(registry);
  file.write_strings_attribute(root, "layer_names", layers);
  file.write_string_attribute(root, "backend", keras_backend);
  file.write_string_attribute(root, "keras_version", keras_version);
  for (const auto& layer : layers) {
    Group group = file.create_group(root, layer);
    std::vector<std::string> weight_names;
    for (const auto& p : registry.entries()) {
      if (p.layer == layer) weight_names.push_back(p.name);
    }
    file.write_strings_attribute(group.get(), "weight_names", weight_names);
    for (const auto& p : registry.entries()) {
      if (p.layer == layer) file.write_floats(group.get(), p.name, stored_shape(p), slice(ckpt.parameters, p));
    }
  }

  // mpitrain's own state.
  Group own = file.create_group(root, "mpitrain");
  const MlpAttributes mlp = mlp_attributes(ckpt.architecture).value();  // validate_for_write checked it
  std::vector<std::string> widths;
  for (int w : mlp.hidden) widths.push_back(std::to_string(w));
  file.write_int_attribute(own.get(), "format_version", checkpoint_format_version, H5T_STD_I32LE);
  file.write_int_attribute(own.get(), "inputs", mlp.inputs, H5T_STD_I64LE);
  file.write_string_attribute(own.get(), "hidden", join(widths));
  file.write_string_attribute(own.get(), "activation", nn::to_string(mlp.activation));
  file.write_int_attribute(own.get(), "classes", mlp.classes, H5T_STD_I32LE);
  file.write_int_attribute(own.get(), "epoch", ckpt.epoch, H5T_STD_I64LE);
  file.write_int_attribute(own.get(), "step_in_epoch", ckpt.step_in_epoch, H5T_STD_I64LE);
  file.write_int_attribute(own.get(), "global_step", ckpt.global_step, H5T_STD_I64LE);
  file.write_string_attribute(own.get(), "config", ckpt.config_ini);
  file.write_string_attribute(own.get(), "trajectory", ckpt.trajectory);
  file.write_string_attribute(own.get(), "lineage", ckpt.lineage);
  file.write_int_attribute(own.get(), "sampler_seed", static_cast<std::int64_t>(ckpt.sampler_seed), H5T_STD_I64LE);
  file.write_int_attribute(own.get(), "state_crc32", state_crc32(ckpt.optimizer_state), H5T_STD_U32LE);
  file.write_int_attribute(own.get(), "parameter_crc32", parameter_crc32(ckpt.parameters), H5T_STD_U32LE);
  for (const auto& [name, value] : progress_doubles(ckpt.progress)) file.write_double_attribute(own.get(), name, *value);
  for (const auto& [name, value] : progress_ints(ckpt.progress)) {
    file.write_int_attribute(own.get(), name, *value, H5T_STD_I64LE);
  }

  Group optimizer = file.create_group(own.get(), "optimizer");
  file.write_string_attribute(optimizer.get(), "name", ckpt.optimizer_name);
  file.write_int_attribute(optimizer.get(), "iterations", ckpt.optimizer_iterations, H5T_STD_I64LE);
  file.write_string_attribute(optimizer.get(), "state_names", join(ckpt.optimizer_state_names));
  for (std::size_t i = 0; i < ckpt.optimizer_state.size(); ++i) {
    for (const auto& p : registry.entries()) {
      // `<state>/dense/kernel:0`: the parameter name's '/' makes a nested group, created on the way.
      file.write_floats(optimizer.get(), ckpt.optimizer_state_names[i] + "/" + p.name, stored_shape(p),
                        slice(ckpt.optimizer_state[i], p));
    }
  }

  Group scaler = file.create_group(own.get(), "scaler");
  file.write_string_attribute(scaler.get(), "method", ckpt.scaler_method);
  const hsize_t features = ckpt.scaler_shift.size();
  file.write_floats(scaler.get(), "shift", std::span(&features, 1), ckpt.scaler_shift);
  file.write_floats(scaler.get(), "scale", std::span(&features, 1), ckpt.scaler_scale);
}

// The tensor at @p path below @p loc, opened after checking its shape against the registry's.
detail::Dataset open_checked(const Hdf5File& file, hid_t loc, const std::string& path, const std::string& what,
                             const nn::ParameterInfo& p) {
  if (!file.exists(loc, path)) file.fail(what + " is missing");
  detail::Dataset dataset = file.open_dataset(loc, path);
  const std::vector<hsize_t> actual = file.shape(dataset, what);
  const std::vector<hsize_t> expected = stored_shape(p);
  if (actual != expected) {
    file.fail(what + " has shape " + format_shape(actual) + ", the architecture needs " + format_shape(expected));
  }
  file.check_stored(dataset, what);
  return dataset;
}

// Reads one flat buffer (parameters or an optimizer state) tensor by tensor. Every shape is checked
// before anything is allocated, so a corrupt architecture cannot request a huge buffer on its own.
// @p path_of gives each parameter's dataset path below @p loc.
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

nn::ModelSpec read_architecture(const Hdf5File& file, hid_t own) {
  MlpAttributes mlp;
  mlp.inputs = file.read_int_attribute(own, "inputs");
  mlp.hidden = parse_hidden(file, file.read_string_attribute(own, "hidden"));
  const std::string activation = file.read_string_attribute(own, "activation");
  try {
    mlp.activation = nn::parse_activation(activation);
  } catch (const std::invalid_argument& e) {
    file.fail(std::string("attribute activation of /mpitrain: ") + e.what());
  }
  const std::int64_t classes = file.read_int_attribute(own, "classes");
  if (classes < INT_MIN || classes > INT_MAX) file.fail("attribute classes of /mpitrain is out of range");
  mlp.classes = static_cast<int>(classes);
  try {
    return nn::mlp_spec(mlp.inputs, mlp.hidden, mlp.activation, mlp.classes);
  } catch (const std::invalid_argument& e) {
    file.fail(std::string("invalid architecture: ") + e.what());
  }
}

// The lineage attribute, checked; "" when missing (a file written before lineages existed).
std::string read_lineage(const Hdf5File& file, hid_t own) {
  if (file.check(H5Aexists(own, "lineage"), "look-up of attribute lineage") == 0) return "";
  std::string text = file.read_string_attribute(own, "lineage");
  try {
    Lineage::parse(text);
  } catch (const std::invalid_argument& e) {
    file.fail(std::string("attribute lineage of /mpitrain: ") + e.what());
  }
  return text;
}

// The /mpitrain group after checking the format version.
Group open_own_group(const Hdf5File& file) {
  if (!file.exists(file.id(), "mpitrain")) file.fail("not an mpitrain checkpoint (no /mpitrain group)");
  Group own = file.open_group(file.id(), "mpitrain");
  const std::int64_t version = file.read_int_attribute(own.get(), "format_version");
  if (version != checkpoint_format_version) {
    file.fail("format_version is " + std::to_string(version) + ", this build reads version " +
              std::to_string(checkpoint_format_version));
  }
  return own;
}

Checkpoint read_contents(const Hdf5File& file) {
  const hid_t root = file.id();
  Group own = open_own_group(file);
  Checkpoint ckpt;
  ckpt.architecture = read_architecture(file, own.get());
  const nn::ParameterRegistry registry = registry_for(ckpt.architecture, file.label());

  // Keras layout: /<layer>/<layer>/kernel:0; the parameter name already starts with `<layer>/`.
  ckpt.parameters = read_flat(file, root, "", registry,
                              [](const nn::ParameterInfo& p) { return p.layer + "/" + p.name; });
  const std::int64_t stored_crc = file.read_int_attribute(own.get(), "parameter_crc32");
  const std::uint32_t actual_crc = parameter_crc32(ckpt.parameters);
  if (stored_crc != actual_crc) {
    file.fail("parameter checksum mismatch (corrupt file): stored crc32 " + std::to_string(stored_crc) +
              ", computed " + std::to_string(actual_crc));
  }
  ckpt.epoch = file.read_int_attribute(own.get(), "epoch");
  ckpt.step_in_epoch = file.read_int_attribute(own.get(), "step_in_epoch");
  ckpt.global_step = file.read_int_attribute(own.get(), "global_step");
  ckpt.config_ini = file.read_string_attribute(own.get(), "config");
  ckpt.trajectory = file.read_string_attribute(own.get(), "trajectory");
  ckpt.lineage = read_lineage(file, own.get());
  ckpt.sampler_seed = static_cast<std::uint64_t>(file.read_int_attribute(own.get(), "sampler_seed"));
  for (const auto& [name, value] : progress_doubles(ckpt.progress)) {
    if (file.has_attribute(own.get(), name)) *value = file.read_double_attribute(own.get(), name);
  }
  for (const auto& [name, value] : progress_ints(ckpt.progress)) {
    if (file.has_attribute(own.get(), name)) *value = file.read_int_attribute(own.get(), name);
  }

  if (!file.exists(own.get(), "optimizer")) file.fail("no /mpitrain/optimizer group");
  Group optimizer = file.open_group(own.get(), "optimizer");
  ckpt.optimizer_name = file.read_string_attribute(optimizer.get(), "name");
  ckpt.optimizer_iterations = file.read_int_attribute(optimizer.get(), "iterations");
  ckpt.optimizer_state_names = split(file.read_string_attribute(optimizer.get(), "state_names"));
  for (const auto& state : ckpt.optimizer_state_names) {
    ckpt.optimizer_state.push_back(read_flat(file, optimizer.get(), "optimizer state " + state + " of ", registry,
                                             [&](const nn::ParameterInfo& p) { return state + "/" + p.name; }));
  }

  const std::int64_t stored_state_crc = file.read_int_attribute(own.get(), "state_crc32");
  if (stored_state_crc != state_crc32(ckpt.optimizer_state)) {
    file.fail("optimizer state checksum mismatch (corrupt file)");
  }

  if (!file.exists(own.get(), "scaler")) file.fail("no /mpitrain/scaler group");
  Group scaler = file.open_group(own.get(), "scaler");
  ckpt.scaler_method = file.read_string_attribute(scaler.get(), "method");
  for (auto [name, out] : {std::pair{"shift", &ckpt.scaler_shift}, std::pair{"scale", &ckpt.scaler_scale}}) {
    const std::string what = std::string("scaler ") + name;
    if (!file.exists(scaler.get(), name)) file.fail(what + " is missing");
    detail::Dataset dataset = file.open_dataset(scaler.get(), name);
    const std::vector<hsize_t> shape = file.shape(dataset, what);
    const auto inputs = static_cast<hsize_t>(ckpt.architecture.input_shape.front());  // an MLP's
    if (shape.size() != 1 || (shape[0] != 0 && shape[0] != inputs)) {
      file.fail(what + " has shape " + format_shape(shape) + ", expected (0,) or (" + std::to_string(inputs) + ",)");
    }
    file.check_stored(dataset, what);
    out->resize(static_cast<std::size_t>(shape[0]));
    file.read_floats(dataset, what, *out);
  }
  if (ckpt.scaler_shift.size() != ckpt.scaler_scale.size()) file.fail("scaler shift and scale differ in length");
  return ckpt;
}

}  // namespace

void check_storable(const nn::ModelSpec& architecture) {
  if (!mlp_attributes(architecture)) {
    throw CheckpointError(std::string(only_mlp) + ": this model cannot be checkpointed");
  }
}

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt,
                      const std::function<void()>& before_rename) {
  const std::string label = path.string();
  const detail::ErrorSilencer silence;
  const nn::ParameterRegistry registry = registry_for(ckpt.architecture, label);
  validate_for_write(ckpt, registry, label);
  try {
    base::write_atomically(
        path,
        [&](const std::filesystem::path& tmp) {
          {
            // Every HDF5 object is closed when write_contents returns, so the close below really closes it.
            Hdf5File file = Hdf5File::create(tmp, label);
            write_contents(file, ckpt, registry);
            file.flush_and_close();
          }
          // Read back what reached the file: its checks (shapes, crc32 of the tensors against the values
          // written) and the fields that say which checkpoint it is.
          const Checkpoint back = read_contents(Hdf5File::open_read_only(tmp, label));
          if (back.global_step != ckpt.global_step || back.lineage != ckpt.lineage || back.epoch != ckpt.epoch ||
              back.step_in_epoch != ckpt.step_in_epoch) {
            fail(label, "the file written does not read back as written (" + tmp.string() + ")");
          }
          if (before_rename) before_rename();  // tests: kill -9 between the complete temporary and the rename
        },
        base::Durability::synced);
  } catch (const base::FileError& e) {
    throw CheckpointIoError("checkpoint " + label + ": " + e.what(), e.error_number());
  }
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
  Group own = open_own_group(file);
  return {file.read_int_attribute(own.get(), "global_step"), read_lineage(file, own.get())};
}

}  // namespace mpitrain::checkpoint
