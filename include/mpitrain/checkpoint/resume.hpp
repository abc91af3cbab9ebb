#pragma once
/// @file resume.hpp
/// Which checkpoint to resume from, and whether it continues the run's trajectory.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mpitrain/config/config.hpp"
#include "mpitrain/checkpoint/checkpoint.hpp"

namespace mpitrain::checkpoint {

/// The config keys that shape the trajectory (model, optimizer, seeds, effective global batch, data,
/// clipping, gradient compression; the world size only with data.shuffle = local), as sorted
/// `key = value` lines. Two runs with equal text follow the same trajectory.
std::string trajectory_config(const config::Config& config, std::int64_t global_batch, int world_size);

/// The checkpoint to resume from, and whether this session may use @p run_dir:
/// - `checkpoint.resume` empty: none (a fresh start); refused if @p run_dir already holds checkpoints.
/// - `auto`: the newest valid checkpoint of @p run_dir (newest_valid_checkpoint: an I/O error stops).
/// - a file: that file, under the rules of a fresh run: refused if @p run_dir holds checkpoints of another
///   run (another run id, see lineage.hpp), or checkpoints of this run newer than the file (resuming would
///   start a branch beside them) unless `checkpoint.prune_newer` allows removing those.
/// Files in @p run_dir whose contents are invalid are not checkpoints of any run: ignored with a warning.
/// @throws std::runtime_error naming the directory, the files and the way out when refused;
///         CheckpointError / CheckpointIoError when the file or a checkpoint of @p run_dir cannot be read.
std::optional<std::filesystem::path> resolve_resume(const config::CheckpointConfig& c,
                                                    const std::filesystem::path& run_dir);

/// Throws std::runtime_error naming every differing key when @p ckpt's trajectory differs from @p ours. A
/// key absent from the checkpoint's trajectory (added to the config after it was written) matches when its
/// value in @p ours is the key's default, the behaviour of the build that wrote the checkpoint.
void check_trajectory(const Checkpoint& ckpt, const std::filesystem::path& path, const std::string& ours);

/// What a run that resumes from a checkpoint needs from it.
struct ResumeTarget {
  const nn::ModelSpec& model;                    ///< The config's model.
  std::string optimizer_name;                    ///< optim::Optimizer::name().
  std::vector<std::string> optimizer_state_names;  ///< optim::Optimizer::state()'s names, in any order.
  std::string trajectory;                        ///< trajectory_config of the run.
};

/// Checks that the run described by @p target can continue from @p ckpt: a training checkpoint (not a
/// weights file), the same model spec (layers, shapes and so the tensor layout), the same optimizer, the
/// same optimizer states by name, and the same trajectory (check_trajectory).
/// @throws CheckpointError naming @p path and the difference (a missing or an extra optimizer state by
///         name); std::runtime_error from check_trajectory.
void check_resumable(const Checkpoint& ckpt, const std::filesystem::path& path, const ResumeTarget& target);

}  // namespace mpitrain::checkpoint
