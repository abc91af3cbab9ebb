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
///   parameter_crc32 (zlib crc32 of the parameter bytes in registry order), and the RunProgress fields
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
/// mismatch, the layer and both shapes).
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
};

/// Checks that write_checkpoint can store @p architecture, so that a run is refused before it trains rather
/// than at its first checkpoint. @throws CheckpointError when it cannot (format 1: MLPs only).
void check_storable(const nn::ModelSpec& architecture);

/// Writes @p ckpt to @p path atomically: into `<path>.tmp`, fsync, rename over @p path, fsync of the
/// directory. An existing file at @p path is replaced only by a complete new one.
/// @param before_rename if set, called once the temporary file is complete and synced, just before the
///        rename (fault injection: the trainer passes a kill there to test a crash mid-write).
/// @throws CheckpointError naming the file when HDF5 or the file system fails (the temporary is removed), or
///         when the architecture is not an MLP (format 1).
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& ckpt,
                      const std::function<void()>& before_rename = {});

/// Reads and validates a checkpoint: format version, every dataset's shape against the architecture
/// (naming the layer and both shapes), and the crc32 of the parameters.
/// @throws CheckpointError naming the file for a missing, truncated, corrupt or foreign file.
Checkpoint read_checkpoint(const std::filesystem::path& path);

}  // namespace mpitrain::checkpoint
