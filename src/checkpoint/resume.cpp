// Resume: choosing the checkpoint, checking that it continues the same trajectory, and the trajectory text.
#include "mpitrain/checkpoint/resume.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <sstream>

#include "mpitrain/checkpoint/checkpoint_store.hpp"

namespace mpitrain::checkpoint {

std::string trajectory_config(const config::Config& c, std::int64_t global_batch, int world_size) {
  std::map<std::string, std::string> keys;
  std::istringstream ini(config::to_ini(c));
  std::string line, section;
  // Everything of [data], [model], [optim]; the seeds and numerics of [train]; gradient compression. Not the
  // path of model.spec: the trainer compares the spec itself with the checkpoint's, and the file may move.
  const auto shapes = [](const std::string& key) {
    if (key == "model.spec") return false;
    return key.starts_with("data.") || key.starts_with("model.") || key.starts_with("optim.") ||
           key == "train.seed" || key == "train.clip_grad_norm" || key == "train.nonfinite" ||
           key == "dist.compression";
  };
  while (std::getline(ini, line)) {
    if (line.starts_with("[")) {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const std::string key = section + "." + line.substr(0, eq);
    if (shapes(key) && key != "data.test_images" && key != "data.test_labels" && key != "data.test_csv") {
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
  return std::filesystem::path(c.resume);
}

void check_trajectory(const Checkpoint& ckpt, const std::filesystem::path& path, const std::string& ours) {
  if (ckpt.trajectory == ours) return;
  const auto theirs = parse_lines(ckpt.trajectory);
  const auto mine = parse_lines(ours);
  std::string diffs;
  for (const auto& [k, v] : mine) {
    const auto it = theirs.find(k);
    const std::string there = it == theirs.end() ? "(unset)" : it->second;
    if (there != v) diffs += "\n  " + k + " = " + there + " in the checkpoint, " + v + " now";
  }
  for (const auto& [k, v] : theirs) {
    if (!mine.contains(k)) diffs += "\n  " + k + " = " + v + " in the checkpoint, unset now";
  }
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

}  // namespace mpitrain::checkpoint
