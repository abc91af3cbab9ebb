#pragma once
/// @file checkpoint.hpp
/// HDF5 checkpoints. The weights use the layout of Keras 2 `Model.save_weights` to an .h5 file, so that
/// `model.load_weights('checkpoint.h5')` on the same Dense architecture loads them:
///   root attributes `layer_names` (fixed-length byte strings: dense, dense_1, ...), `backend`,
///   `keras_version`; group `/<layer>` with attribute `weight_names` = [`<layer>/kernel:0`,
///   `<layer>/bias:0`]; datasets `/<layer>/<layer>/kernel:0` (float32, inputs × outputs) and
///   `/<layer>/<layer>/bias:0` (float32, outputs).
/// mpitrain's own state lives in groups Keras ignores:
///   `/mpitrain` attributes format_version, inputs, hidden (comma-separated widths, e.g. "256,128"; ""
///   for none), activation, classes, epoch, step_in_epoch, global_step, config (INI text),
///   parameter_crc32 (zlib crc32 of the parameter bytes in registry order), lineage (see lineage.hpp;
///   missing in files written before lineages existed, read as ""), and the RunProgress fields
///   (below; attributes of the same names, float64 and int64, optional: a file without them reads as zeros);
///   `/mpitrain/optimizer` attributes name, iterations, state_names (e.g. "m,v"), and one dataset per
///   state buffer and parameter:
///   `/mpitrain/optimizer/<state>/<parameter name>` with the parameter's shape;
///   `/mpitrain/scaler` attribute method, datasets shift and scale (features).
/// Files are written in the HDF5 1.8 format (checksummed metadata), which h5py and Keras read.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpitrain/nn/model_spec.hpp"

namespace mpitrain::checkpoint {

/// A wrong, truncated or corrupt checkpoint: what() names the file and what is wrong (for a shape
/// mismatch, the layer and both shapes). Thrown as such only for the file's contents (format, shapes,
/// checksums); a failure to read or write the file at all is the subclass CheckpointIoError.
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

/// Current value of the format_version attribute.
inline constexpr int checkpoint_format_version = 1;

/// Training progress besides the position: what a resumed run needs to report the same epoch metrics and
/// skip counts as an uninterrupted run. The sums are over every rank; all are zero at an epoch boundary
/// except the two run-wide counters. Stored as attributes of `/mpitrain` with these names (format 1,
/// added without a version change: a file written before them reads as all zeros).
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

/// Everything a checkpoint holds. Flat buffers use the layout of nn::registry_of(architecture).
struct Checkpoint {
  /// The model. Format 1 stores it as the MLP attributes above, so write_checkpoint accepts only a spec
  /// of nn::mlp_spec's form (until format 2 stores any spec as JSON).
  nn::ModelSpec architecture;
  std::vector<float> parameters;                 ///< registry total floats.
  std::string optimizer_name;                    ///< `adam` or `sgd`.
  std::int64_t optimizer_iterations = 0;         ///< Adam's t.
  std::vector<std::string> optimizer_state_names;        ///< e.g. {"m", "v"}.
  std::vector<std::vector<float>> optimizer_state;       ///< One flat buffer per name, registry total floats each.
  std::int64_t epoch = 0;                        ///< Epochs completed.
  std::int64_t step_in_epoch = 0;                ///< Steps completed in the current epoch.
  std::int64_t global_step = 0;                  ///< Optimizer steps completed in total.
  std::string scaler_method = "none";            ///< `divide`, `standardize` or `none`.
  std::vector<float> scaler_shift;               ///< features.
  std::vector<float> scaler_scale;               ///< features.
  std::string config_ini;                        ///< The resolved config of the run.
  std::uint64_t sampler_seed = 0;                ///< The sampler's seed: with epoch and step_in_epoch, its position.
  std::string trajectory;                        ///< The config keys that shape the trajectory, `key = value` lines.
  RunProgress progress;                          ///< Partial epoch metrics and skip counters.
  std::string lineage;                           ///< Lineage::text() of the sessions that led here ("" before lineages).
};

/// Checks that write_checkpoint can store @p architecture, so that a run is refused before it trains rather
/// than at its first checkpoint. @throws CheckpointError when it cannot (format 1: MLPs only).
void check_storable(const nn::ModelSpec& architecture);

/// What a checkpoint is and where it comes from, read without its tensors (for pruning and run checks).
struct CheckpointIdentity {
  std::int64_t global_step = 0;
  std::string lineage;  ///< as in Checkpoint::lineage
};

/// Writes @p ckpt to @p path atomically (base::write_atomically, synced): into a temporary file unique to
/// this writer, which is then read back and verified (read_checkpoint's checks, and its step and lineage
/// against @p ckpt), fsync, rename over @p path, fsync of the directory. An existing file at @p path is
/// replaced only by a complete, verified new one.
/// @param before_rename if set, called once the temporary file is complete and verified, just before the
///        rename (fault injection: the trainer passes a kill there to test a crash mid-write).
/// @throws CheckpointIoError naming the file and the errno when the file system fails (full disk,
///         permissions); CheckpointError when @p ckpt is inconsistent or does not read back as written.
///         The temporary is removed in every case. Format 1 stores MLPs only: another architecture is a
///         CheckpointError (check_storable refuses it before training).
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt,
                      const std::function<void()>& before_rename = {});

/// Reads and validates a checkpoint: format version, every dataset's shape against the architecture
/// (naming the layer and both shapes), and the crc32 of the parameters.
/// @throws CheckpointIoError naming the file and the errno when it cannot be opened or read (missing,
///         permission denied, locked by another process, a read error); CheckpointError naming the file
///         for a truncated, corrupt or foreign one.
Checkpoint read_checkpoint(const std::filesystem::path& path);

/// Reads only the global step and the lineage of a checkpoint (no tensors, no checksums).
/// @throws as read_checkpoint.
CheckpointIdentity read_checkpoint_identity(const std::filesystem::path& path);

}  // namespace mpitrain::checkpoint
