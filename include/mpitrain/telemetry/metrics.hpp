#pragma once
/// @file metrics.hpp
/// Machine-readable metrics: one JSON object per line (JSON Lines), written by rank 0.

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace mpitrain::telemetry {

/// Appends JSON objects, one per line, flushing each line so a crash loses at most the line being written.
class MetricsWriter {
 public:
  /// Opens @p path for appending. @throws std::runtime_error naming the file when it cannot be opened.
  explicit MetricsWriter(const std::filesystem::path& path);
  /// Writes @p record as one line.
  void write(const nlohmann::json& record);

 private:
  std::ofstream out_;
};

/// Writes @p value to @p path pretty-printed, atomically and synced (base::write_text_atomically): a failure
/// leaves @p path as it was and no temporary file behind.
/// @throws base::FileError naming the file and the errno on failure.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace mpitrain::telemetry
