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
    } catch (const CheckpointError& e) {
      spdlog::warn("skipping invalid checkpoint: {}", e.what());
    }
  }
  return std::nullopt;
}

void prune_checkpoints(const std::filesystem::path& run_dir, int keep) {
  const auto all = list_checkpoints(run_dir);
  std::error_code ec;
  if (keep > 0 && all.size() > static_cast<std::size_t>(keep)) {
    for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < all.size(); ++i) {
      std::filesystem::remove(all[i], ec);
      if (ec) spdlog::warn("cannot remove old checkpoint {}: {}", all[i].string(), ec.message());
    }
  }
}

}  // namespace mpitrain::checkpoint
