#pragma once
/// @file checkpoint_store.hpp
/// The checkpoints of a run directory: `checkpoint-<global step, 8 digits>.h5`, newest = highest step.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "mpitrain/checkpoint/lineage.hpp"

namespace mpitrain::checkpoint {

/// `<run_dir>/checkpoint-<global_step:08>.h5`.
std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, std::int64_t global_step);

/// The checkpoint files of @p run_dir (complete ones: temporaries are not listed), oldest first. Empty if
/// the directory does not exist.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir);

/// The newest checkpoint of @p run_dir that read_checkpoint accepts; newer ones whose contents are
/// invalid (format, shapes, checksums: CheckpointError) are skipped with a warning naming them and why.
/// Nothing if there is none.
/// @throws CheckpointIoError when a checkpoint cannot be read at all (permission denied, locked by another
///         process, a read error): that says nothing about the file, so it is not skipped; the message names
///         the file and the errno.
std::optional<std::filesystem::path> newest_valid_checkpoint(const std::filesystem::path& run_dir);

/// What prune_checkpoints may remove.
struct PrunePolicy {
  Lineage lineage;  ///< the current run's lineage: only its checkpoints count for `keep`
  int keep = 0;     ///< checkpoint.keep: keep the newest N checkpoints of the lineage (0: remove none)
  /// checkpoint.prune_newer: the step this session resumed from; checkpoints of the same run (same run id)
  /// but not of the lineage, newer than this step (an abandoned branch), are removed too. Unset: never.
  std::optional<std::int64_t> prune_newer_than;
};

/// Removes checkpoints of @p run_dir as @p policy allows, logging each removal and its reason: all but
/// the newest `keep` of the current lineage, and with prune_newer_than the abandoned branch's newer
/// ones. Checkpoints of other runs or other branches, and files whose identity cannot be read, are never
/// removed. Call only after the newest checkpoint is complete, so that a crash never leaves fewer than one
/// readable checkpoint. A failed removal is a warning. @return the files removed.
std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& run_dir, const PrunePolicy& policy);

}  // namespace mpitrain::checkpoint
