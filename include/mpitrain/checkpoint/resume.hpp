#pragma once
/// @file resume.hpp
/// Which checkpoint to resume from, and whether it continues the run's trajectory.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "mpitrain/config/config.hpp"
#include "mpitrain/checkpoint/checkpoint.hpp"

namespace mpitrain::checkpoint {

/// The config keys that shape the trajectory (model, optimizer, seeds, effective global batch, data,
/// clipping, gradient compression; the world size only with data.shuffle = local), as sorted
/// `key = value` lines. Two runs with equal text follow the same trajectory.
std::string trajectory_config(const config::Config& config, std::int64_t global_batch, int world_size);

/// The checkpoint to resume from: none for a fresh start (throws if the run directory already holds
/// checkpoints, so nothing is overwritten), the newest valid one for `auto`, or the given path.
std::optional<std::filesystem::path> resolve_resume(const config::CheckpointConfig& c,
                                                    const std::filesystem::path& run_dir);

/// Throws std::runtime_error naming every differing key when @p ckpt's trajectory differs from @p ours.
void check_trajectory(const Checkpoint& ckpt, const std::filesystem::path& path, const std::string& ours);

}  // namespace mpitrain::checkpoint
