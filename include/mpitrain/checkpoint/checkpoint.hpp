#pragma once
/// @file checkpoint.hpp
/// HDF5 checkpoints, format 2. The weights use the layout of Keras 2 `Model.save_weights` to an .h5 file,
/// so that `model.load_weights('checkpoint.h5')` on a Keras model of the same layers loads them:
///   root attributes `layer_names` (fixed-length byte strings: the layers that hold tensors, in order),
///   `backend`, `keras_version`; group `/<layer>` with attribute `weight_names` (its trained tensors, then
///   its buffers, e.g. [`dense/kernel:0`, `dense/bias:0`]); one float32 dataset per tensor at
///   `/<layer>/<tensor name>` with the registry's N-dimensional shape as it is (a Dense kernel is
///   (inputs, units), its bias (units,): Keras's layouts; see the README's "Checkpoints" for each layer).
/// mpitrain's own state lives in groups Keras ignores:
///   `/mpitrain` attributes format_version (2), kind (`checkpoint`, or `weights` for a file of final
///   weights without optimizer state, model.h5), model_spec (the nn::ModelSpec as JSON text), epoch,
///   step_in_epoch, global_step, sampler_seed, config (INI text), trajectory, lineage (see lineage.hpp;
///   missing in files written before lineages existed, read as ""), parameter_crc32,
///   buffer_crc32, state_crc32 (zlib crc32 of the bytes of the parameters, the buffers, and every
///   optimizer state one after the other, each in registry order);
///   and the RunProgress fields (below; float64 and int64 attributes of the same names, optional: a file
///   without them reads as zeros);
///   `/mpitrain/optimizer` (absent in a weights file) attributes name, iterations, state_names (e.g.
///   "m,v"), and one dataset per state and parameter: `/mpitrain/optimizer/<state>/<parameter name>` with
///   the parameter's shape;
///   `/mpitrain/scaler` attribute method, datasets shift and scale (features: 0 or the input size).
/// Format 1 files (an MLP described by the attributes inputs, hidden, activation and classes) still read:
/// their model spec is nn::mlp_spec of those attributes, and their tensors have the same names and shapes.
/// Files are written in the HDF5 1.8 format (checksummed metadata), which h5py and Keras read.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpitrain/nn/model_spec.hpp"

namespace mpitrain::checkpoint {

/// A wrong, truncated or corrupt checkpoint: what() names the file and what is wrong (for a shape
/// mismatch, the tensor and both shapes). Thrown as such only for the file's contents (format, model spec,
/// shapes, checksums); a failure to read or write the file at all is the subclass CheckpointIoError.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The file system or the operating system failed while reading or writing a checkpoint (permission
/// denied, a lock held by another process such as HDF5's "unable to lock file, errno = 11", a read or
/// write error, a full disk): says nothing about the file's contents. what() names the file and the
/// errno; error_number() is the errno (0 when HDF5 reported none).
class CheckpointIoError : public CheckpointError {
 public:
  CheckpointIoError(const std::string& what, int error_number) : CheckpointError(what), error_number_(error_number) {}
  [[nodiscard]] int error_number() const { return error_number_; }

 private:
  int error_number_;
};

/// The format this build writes (format_version attribute); it reads formats 1 and 2.
inline constexpr int checkpoint_format_version = 2;

/// Training progress besides the position: what a resumed run needs to report the same epoch metrics and
/// skip counts as an uninterrupted run. The sums are over every rank; all are zero at an epoch boundary
/// except the two run-wide counters.
struct RunProgress {
  double epoch_loss_sum = 0.0;            ///< Per-sample losses of the epoch's applied steps so far, summed.
  double epoch_correct = 0.0;             ///< Samples of those steps classified correctly.
  double epoch_samples = 0.0;             ///< Samples of those steps.
  double epoch_penalty_sum = 0.0;         ///< L2 penalties of those steps, summed (one per step).
  std::int64_t epoch_applied_steps = 0;   ///< Steps of the epoch applied so far.
  std::int64_t epoch_skipped_steps = 0;   ///< Steps of the epoch skipped so far (train.nonfinite = skip).
  std::int64_t skipped_steps = 0;         ///< Steps skipped since the start of the run (all sessions).
  std::int64_t consecutive_skipped_steps = 0;  ///< Steps skipped since the last applied one.
};

/// What a checkpoint holds besides its tensors.
struct CheckpointInfo {
  std::string optimizer_name;              ///< `adam`, `sgd`, ...; empty in a weights file (kind `weights`).
  std::int64_t optimizer_iterations = 0;   ///< Adam's t.
  std::int64_t epoch = 0;                  ///< Epochs completed.
  std::int64_t step_in_epoch = 0;          ///< Steps completed in the current epoch.
  std::int64_t global_step = 0;            ///< Optimizer steps completed in total.
  std::string scaler_method = "none";      ///< `divide`, `standardize` or `none`.
  std::vector<float> scaler_shift;         ///< 0 or input-size values.
  std::vector<float> scaler_scale;         ///< As many as scaler_shift.
  std::string config_ini;                  ///< The resolved config of the run.
  std::uint64_t sampler_seed = 0;          ///< The sampler's seed: with epoch and step_in_epoch, its position.
  std::string trajectory;                  ///< The config keys that shape the trajectory, `key = value` lines.
  RunProgress progress;                    ///< Partial epoch metrics and skip counters.
  std::string lineage;                     ///< Lineage::text() of the sessions that led here ("" before lineages).
  /// How the tensors were derived from the trained ones, e.g. "magnitude pruning (global) at 90% of the
  /// kernels" (`mpitrain diagnose --write-pruned`); "" for trained tensors. Attribute `derivation` of
  /// /mpitrain, written only when not empty (missing reads as "").
  std::string derivation;
};

/// One optimizer state buffer (e.g. Adam's `m`), laid out like the parameters.
struct OptimizerState {
  std::string name;           ///< `m`, `v`, `velocity`: no ',' or '/'.
  std::vector<float> values;  ///< The parameter count of floats.
};

/// A view of one optimizer state buffer in a live optimizer.
struct OptimizerStateView {
  std::string name;                 ///< As OptimizerState::name.
  std::span<const float> values;    ///< The parameter count of floats.
};

/// What write_checkpoint writes: the model's live buffers, viewed, not copied.
struct CheckpointView {
  const nn::ModelSpec& model;                      ///< The architecture; lays out the tensors below.
  std::span<const float> parameters;               ///< nn::registry_of(model).total() floats.
  std::span<const float> buffers;                  ///< nn::buffer_registry_of(model).total() floats.
  std::vector<OptimizerStateView> optimizer_state; ///< Empty in a weights file.
  const CheckpointInfo& info;                      ///< Everything else.
  bool weights_only = false;                       ///< kind `weights`: no optimizer group is written.
  /// 0: tensors stored contiguous and uncompressed; 1..9: every tensor dataset one chunk through HDF5's
  /// deflate (gzip) filter at this level (h5py and Keras read both alike).
  int gzip_level = 0;
};

/// Everything a checkpoint file holds, as read_checkpoint returns it.
struct Checkpoint {
  nn::ModelSpec model;                         ///< The architecture (derived from the attributes in format 1).
  std::vector<float> parameters;               ///< Layout of nn::registry_of(model).
  std::vector<float> buffers;                  ///< Layout of nn::buffer_registry_of(model).
  std::vector<OptimizerState> optimizer_state; ///< In the order of the file's state_names.
  CheckpointInfo info;                         ///< Everything else.
  int format_version = checkpoint_format_version;  ///< Of the file read.
  bool weights_only = false;                   ///< A weights file (no optimizer state).

  /// A view of this checkpoint, for writing it again (valid while this object lives unchanged).
  [[nodiscard]] CheckpointView view() const;
  /// The optimizer state called @p name. @throws CheckpointError naming it when there is none.
  [[nodiscard]] const OptimizerState& state(const std::string& name) const;
};

/// What a checkpoint is and where it comes from, read without its tensors (for pruning and run checks).
struct CheckpointIdentity {
  std::int64_t global_step = 0;
  std::string lineage;  ///< as in CheckpointInfo::lineage
};

/// Writes @p ckpt to @p path atomically (base::write_atomically, synced): into a temporary file unique to
/// this writer, which is then read back and verified (read_checkpoint's checks, and its step and lineage
/// against @p ckpt), fsync, rename over @p path, fsync of the directory. An existing file at @p path is
/// replaced only by a complete, verified new one.
/// @param before_rename if set, called once the temporary file is complete and verified, just before the
///        rename (fault injection: the trainer passes a kill there to test a crash mid-write).
/// @throws CheckpointIoError naming the file and the errno when the file system fails (full disk,
///         permissions); CheckpointError naming the file for an invalid model spec, spans whose sizes do
///         not match it, a bad state name, or a file that does not read back as written. The temporary is
///         removed in every case.
void write_checkpoint(const std::filesystem::path& path, const CheckpointView& ckpt,
                      const std::function<void()>& before_rename = {});
/// write_checkpoint of ckpt.view().
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt,
                      const std::function<void()>& before_rename = {});

/// One parameter tensor stored as int8 with one float32 scale per output channel (its last dimension):
/// its value at flat index i is values[i] · scales[i mod channels] (symmetric quantization).
struct Int8TensorView {
  std::string name;                   ///< The parameter's registry name, e.g. `dense/kernel:0`.
  std::span<const std::int8_t> values;///< The tensor's element count, in its registry layout.
  std::span<const float> scales;      ///< Its last dimension's size.
};

/// Writes a weights file of @p ckpt (optimizer state not written) whose tensors named in @p int8 are int8
/// datasets at their usual paths, each with a float32 dataset `<path>_scale` of its per-channel scales,
/// the others float32 as in write_checkpoint; every dataset compressed at ckpt.gzip_level. Its kind is
/// `weights_int8`, which read_checkpoint refuses: the file measures the bytes of a quantized model on
/// disk (`mpitrain diagnose`). Written atomically like write_checkpoint, without the read-back check.
/// @throws as write_checkpoint; CheckpointError naming the tensor for a name not in the model's registry
///         or sizes that do not match its shape.
void write_int8_weights(const std::filesystem::path& path, const CheckpointView& ckpt,
                        std::span<const Int8TensorView> int8);

/// Reads and validates a checkpoint or weights file: format version, the model spec, every dataset's
/// shape against the spec's registry (naming the tensor and both shapes), and the crc32 of the parameters,
/// the buffers and the optimizer state.
/// @throws CheckpointIoError naming the file and the errno when it cannot be opened or read (missing,
///         permission denied, locked by another process, a read error); CheckpointError naming the file
///         for a truncated, corrupt or foreign one.
Checkpoint read_checkpoint(const std::filesystem::path& path);

/// Reads only the global step and the lineage of a checkpoint (no tensors, no checksums).
/// @throws as read_checkpoint.
CheckpointIdentity read_checkpoint_identity(const std::filesystem::path& path);

}  // namespace mpitrain::checkpoint
