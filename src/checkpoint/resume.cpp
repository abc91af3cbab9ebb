// Resume: choosing the checkpoint, checking that it continues the same trajectory, and the trajectory text.
#include "mpitrain/checkpoint/resume.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <vector>
#include <sstream>

#include "mpitrain/base/files.hpp"
#include "mpitrain/checkpoint/checkpoint_store.hpp"
#include "mpitrain/checkpoint/lineage.hpp"

namespace mpitrain::checkpoint {

std::string trajectory_config(const config::Config& c, std::int64_t global_batch, int world_size) {
  std::map<std::string, std::string> keys;
  std::istringstream ini(config::to_ini(c));
  std::string line, section;
  // Everything of [data], [model], [optim]; the seeds and numerics of [train] (precision included); gradient compression. Not the
  // path of model.spec: the trainer compares the spec itself with the checkpoint's, and the file may move.
  const auto shapes = [](const std::string& key) {
    if (key == "model.spec") return false;
    return key.starts_with("data.") || key.starts_with("model.") || key.starts_with("optim.") ||
           key == "train.seed" || key == "train.clip_grad_norm" || key == "train.nonfinite" ||
           key == "train.precision" || key == "dist.compression";
  };
  while (std::getline(ini, line)) {
    if (line.starts_with("[")) {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const std::string key = section + "." + line.substr(0, eq);
    if (shapes(key) && key != "data.test_images" && key != "data.test_labels" && key != "data.test_csv" &&
        key != "data.validation_text") {  // held-out sets do not shape the training
      keys[key] = line.substr(eq + 3);
    }
  }
  keys["train.effective_global_batch"] = std::to_string(global_batch);
  if (c.data.shuffle == "local") keys["world_size"] = std::to_string(world_size);
  std::string out;
  for (const auto& [k, v] : keys) out += k + " = " + v + "\n";
  return out;
}

namespace {
std::map<std::string, std::string> parse_lines(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find(" = ");
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return out;
}

std::string file_names(const std::vector<std::filesystem::path>& paths) {
  std::string out;
  for (const auto& p : paths) out += (out.empty() ? "" : ", ") + p.filename().string();
  return out;
}

// A resume from @p file into @p run_dir: refused when the directory holds another run's checkpoints, or
// newer ones of this run (unless prune_newer).
void check_run_directory(const std::filesystem::path& file, const std::filesystem::path& run_dir, bool prune_newer) {
  const CheckpointIdentity resumed = read_checkpoint_identity(file);
  const Lineage lineage = Lineage::parse(resumed.lineage);
  std::vector<std::filesystem::path> foreign, newer;
  for (const auto& path : list_checkpoints(run_dir)) {
    if (base::same_file(path, file)) continue;
    std::optional<CheckpointIdentity> id;
    try {
      id = read_checkpoint_identity(path);
    } catch (const CheckpointIoError&) {
      throw;
    } catch (const CheckpointError& e) {
      spdlog::warn("run directory {}: ignoring {}, not a valid checkpoint: {}", run_dir.string(),
                   path.filename().string(), e.what());
      continue;
    }
    if (Lineage::parse(id->lineage).run_id() != lineage.run_id()) {
      foreign.push_back(path);
    } else if (id->global_step > resumed.global_step) {
      newer.push_back(path);
    }
  }
  if (!foreign.empty()) {
    throw std::runtime_error("run directory " + run_dir.string() + " holds checkpoints of another run (" +
                             file_names(foreign) + "); resuming " + file.string() +
                             " there would mix two runs, and nothing of the other run is overwritten: choose "
                             "another --checkpoint.dir");
  }
  if (newer.empty()) return;
  if (!prune_newer) {
    throw std::runtime_error(
        "run directory " + run_dir.string() + " holds checkpoints of this run newer than " + file.string() +
        " (step " + std::to_string(resumed.global_step) + "): " + file_names(newer) +
        "; resuming from an older checkpoint starts a new branch, which would replace or be mixed with them: "
        "choose another --checkpoint.dir (the checkpoint can stay where it is), or pass "
        "--checkpoint.prune_newer=true to remove them once this run has written its first checkpoint");
  }
  spdlog::info("checkpoint.prune_newer: {} of the abandoned branch will be removed once this run has written "
               "its first checkpoint",
               file_names(newer));
}

}  // namespace

std::optional<std::filesystem::path> resolve_resume(const config::CheckpointConfig& c,
                                                    const std::filesystem::path& run_dir) {
  if (c.resume.empty()) {
    const auto existing = list_checkpoints(run_dir);
    if (!existing.empty()) {
      throw std::runtime_error("run directory " + run_dir.string() + " already holds checkpoints (newest " +
                               existing.back().filename().string() +
                               "); nothing is overwritten: resume with --checkpoint.resume=auto, or choose "
                               "another --checkpoint.dir");
    }
    return std::nullopt;
  }
  if (c.resume == "auto") {
    auto found = newest_valid_checkpoint(run_dir);
    if (!found) spdlog::info("checkpoint.resume = auto: no valid checkpoint in {}, starting afresh", run_dir.string());
    return found;
  }
  const std::filesystem::path file(c.resume);
  check_run_directory(file, run_dir, c.prune_newer);
  return file;
}

void check_trajectory(const Checkpoint& ckpt, const std::filesystem::path& path, const std::string& ours) {
  if (ckpt.info.trajectory == ours) return;
  const auto theirs = parse_lines(ckpt.info.trajectory);
  const auto mine = parse_lines(ours);
  // A key added to the config after the checkpoint was written is absent from its trajectory: the run that
  // wrote it behaved as the key's default, so the default matches it.
  const auto defaults = parse_lines(trajectory_config(config::Config{}, 0, 1));
  std::string diffs;
  for (const auto& [k, v] : mine) {
    const auto it = theirs.find(k);
    const auto default_value = defaults.find(k);
    if (it == theirs.end() && default_value != defaults.end() && default_value->second == v) continue;
    const std::string there = it == theirs.end() ? "(unset)" : it->second;
    if (there != v) diffs += "\n  " + k + " = " + there + " in the checkpoint, " + v + " now";
  }
  for (const auto& [k, v] : theirs) {
    if (!mine.contains(k)) diffs += "\n  " + k + " = " + v + " in the checkpoint, unset now";
  }
  if (diffs.empty()) return;  // the texts differ only by newer keys at their defaults
  std::string hint;
  if (theirs.contains("world_size") && mine.contains("world_size") &&
      theirs.at("world_size") != mine.at("world_size")) {
    // data.shuffle = local: each rank's shard, and so the trajectory, belongs to that world size.
    hint = "\n  (with data.shuffle = local a run resumes only at the world size that wrote it, " +
           theirs.at("world_size") + ")";
  } else if (theirs.contains("train.effective_global_batch") && mine.contains("train.effective_global_batch") &&
             theirs.at("train.effective_global_batch") != mine.at("train.effective_global_batch")) {
    hint = "\n  (to resume at another world size, set --train.global_batch_size=" +
           theirs.at("train.effective_global_batch") + ")";
  }
  throw std::runtime_error("checkpoint " + path.string() +
                           " was written by a run with another trajectory; differing keys:" + diffs + hint);
}

void check_resumable(const Checkpoint& ckpt, const std::filesystem::path& path, const ResumeTarget& target) {
  const std::string file = "checkpoint " + path.string();
  if (ckpt.weights_only) {
    throw CheckpointError(file + " is a weights file (final weights, no optimizer state): training cannot resume "
                                 "from it; resume from a checkpoint-*.h5 of the run directory");
  }
  if (ckpt.model != target.model) {  // the same layers, shapes and tensor layout
    throw CheckpointError(file + " holds another model than the config: " + nn::to_json_text(ckpt.model) +
                          " in the file, " + nn::to_json_text(target.model) + " in the config");
  }
  if (ckpt.info.optimizer_name != target.optimizer_name) {
    throw CheckpointError(file + " holds " + ckpt.info.optimizer_name + " state, the config asks for " +
                          target.optimizer_name);
  }
  for (const auto& name : target.optimizer_state_names) {
    if (std::ranges::none_of(ckpt.optimizer_state, [&](const OptimizerState& s) { return s.name == name; })) {
      throw CheckpointError(file + " has no optimizer state '" + name + "', which " + target.optimizer_name + " needs");
    }
  }
  for (const auto& state : ckpt.optimizer_state) {
    if (std::ranges::find(target.optimizer_state_names, state.name) == target.optimizer_state_names.end()) {
      throw CheckpointError(file + " has an optimizer state '" + state.name + "' that " + target.optimizer_name +
                            " does not have");
    }
  }
  check_trajectory(ckpt, path, target.trajectory);
}

}  // namespace mpitrain::checkpoint
