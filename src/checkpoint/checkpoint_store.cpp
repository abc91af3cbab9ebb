#include "mpitrain/checkpoint/checkpoint_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <regex>

#include "mpitrain/checkpoint/checkpoint.hpp"

namespace mpitrain::checkpoint {

std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, std::int64_t global_step) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-%08lld.h5", static_cast<long long>(global_step));
  return run_dir / name;
}

std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir) {
  static const std::regex pattern(R"(checkpoint-(\d+)\.h5)");
  std::vector<std::pair<long long, std::filesystem::path>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, m, pattern)) {
      found.emplace_back(std::stoll(m[1].str()), entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> out;
  for (auto& [step, path] : found) out.push_back(std::move(path));
  return out;
}

std::optional<std::filesystem::path> newest_valid_checkpoint(const std::filesystem::path& run_dir) {
  const auto all = list_checkpoints(run_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      read_checkpoint(*it);
      return *it;
    } catch (const CheckpointIoError& e) {
      throw CheckpointIoError(std::string(e.what()) +
                                  "; checkpoint.resume = auto stops here: a file that cannot be read is not an "
                                  "invalid checkpoint, and skipping it could resume from an older one",
                              e.error_number());
    } catch (const CheckpointError& e) {
      spdlog::warn("skipping invalid checkpoint: {}", e.what());
    }
  }
  return std::nullopt;
}

std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& run_dir, const PrunePolicy& policy) {
  std::vector<std::filesystem::path> removed;
  if (policy.keep <= 0 && !policy.prune_newer_than) return removed;
  struct Candidate {
    std::filesystem::path path;
    const char* reason;
  };
  std::vector<Candidate> candidates;
  std::vector<std::filesystem::path> lineage;  // oldest first, as listed
  for (const auto& path : list_checkpoints(run_dir)) {
    std::optional<CheckpointIdentity> id;
    std::optional<Lineage> writer;
    try {
      id = read_checkpoint_identity(path);
      writer = Lineage::parse(id->lineage);
    } catch (const CheckpointIoError& e) {
      spdlog::warn("pruning leaves {} alone: {}", path.string(), e.what());
      continue;
    } catch (const CheckpointError& e) {
      spdlog::debug("pruning leaves {} alone: {}", path.string(), e.what());
      continue;
    }
    if (policy.lineage.contains(*writer, id->global_step)) {
      lineage.push_back(path);
    } else if (policy.prune_newer_than && writer->run_id() == policy.lineage.run_id() &&
               id->global_step > *policy.prune_newer_than) {
      candidates.push_back({path, "newer than the resume point, of an abandoned branch (checkpoint.prune_newer)"});
    }
  }
  if (policy.keep > 0 && lineage.size() > static_cast<std::size_t>(policy.keep)) {
    for (std::size_t i = 0; i + static_cast<std::size_t>(policy.keep) < lineage.size(); ++i) {
      candidates.push_back({lineage[i], "older than the newest checkpoint.keep of this run"});
    }
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    std::filesystem::remove(c.path, ec);
    if (ec) {
      spdlog::warn("cannot remove checkpoint {}: {}", c.path.string(), ec.message());
    } else {
      spdlog::info("removed checkpoint {}: {}", c.path.string(), c.reason);
      removed.push_back(c.path);
    }
  }
  return removed;
}

}  // namespace mpitrain::checkpoint
