#pragma once
// Internal to the train stage: which checkpoint to resume from, and whether it continues our trajectory.

#include <filesystem>
#include <optional>
#include <string>

#include "mpitrain/config/config.hpp"
#include "mpitrain/train/checkpoint.hpp"
#include "mpitrain/train/trainer.hpp"

namespace mpitrain::train {

// The checkpoint to resume from: none for a fresh start (throws if the run directory already holds
// checkpoints, so nothing is overwritten), the newest valid one for `auto`, or the given path.
std::optional<std::filesystem::path> resolve_resume(const config::CheckpointConfig& c,
                                                    const std::filesystem::path& run_dir);

// Throws std::runtime_error naming every differing key when @p ckpt's trajectory differs from @p ours.
void check_trajectory(const Checkpoint& ckpt, const std::filesystem::path& path, const std::string& ours);

}  // namespace mpitrain::train
