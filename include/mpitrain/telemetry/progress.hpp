#pragma once
/// @file progress.hpp
/// A one-line progress bar on a terminal (rank 0): step, samples/s, loss and ETA.

#include <chrono>
#include <cstdint>
#include <string>

namespace mpitrain::telemetry {

/// Whether to draw a bar: `true`, `false`, or `auto` (stderr is a terminal). @throws nothing.
bool progress_enabled(const std::string& setting);

/// Redraws one line on stderr at most every 0.2 s. Inactive objects do nothing.
class ProgressBar {
 public:
  /// @param active draw or not. @param total_steps steps of the whole run (for the ETA).
  ProgressBar(bool active, std::int64_t total_steps);
  /// Updates the bar after step @p step (1-based, of the whole run) of epoch @p epoch (1-based).
  /// @param samples_per_second recent throughput. @param loss recent mean training loss.
  void update(std::int64_t epoch, std::int64_t step, double samples_per_second, double loss);
  /// Erases the bar (before a log line is printed).
  void clear();
  [[nodiscard]] bool active() const { return active_; }

 private:
  bool active_;
  std::int64_t total_steps_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace mpitrain::telemetry
