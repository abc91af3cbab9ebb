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

/// Writes @p value to @p path atomically (temporary file, then rename), pretty-printed.
/// @throws std::runtime_error naming the file on failure.
void write_json_file(const std::filesystem::path& path, const nlohmann::json& value);

}  // namespace mpitrain::telemetry
