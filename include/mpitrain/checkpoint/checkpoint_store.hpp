#pragma once
/// @file checkpoint_store.hpp
/// The checkpoints of a run directory: `checkpoint-<global step, 8 digits>.h5`, newest = highest step.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace mpitrain::checkpoint {

/// `<run_dir>/checkpoint-<global_step:08>.h5`.
std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, std::int64_t global_step);

/// The checkpoint files of @p run_dir (complete ones: no `.tmp`), oldest first. Empty if the directory
/// does not exist.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir);

/// The newest checkpoint of @p run_dir that read_checkpoint accepts; invalid newer ones are skipped with a
/// warning naming them and why. Nothing if there is none.
std::optional<std::filesystem::path> newest_valid_checkpoint(const std::filesystem::path& run_dir);

/// Removes all but the newest @p keep checkpoints (keep = 0: removes nothing). Call only after the
/// newest one is complete, so that a crash never leaves fewer than one readable checkpoint.
void prune_checkpoints(const std::filesystem::path& run_dir, int keep);

}  // namespace mpitrain::checkpoint
