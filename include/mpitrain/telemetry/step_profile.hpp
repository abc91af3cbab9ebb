#pragma once
/// @file step_profile.hpp
/// Where a training step's time goes, measured by the trainer itself: per-phase seconds of the steps
/// after a warm-up, the communication hidden behind computation, and peak memory per rank. Feeds the
/// timeline when one is kept. The figures land in summary.json under "timing" and "memory"; launch/bench
/// reads them from there.

#include <chrono>
#include <cstdint>
#include <span>

#include <nlohmann/json.hpp>

#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"
#include "mpitrain/telemetry/timeline.hpp"

namespace mpitrain::telemetry {

/// Accumulates the phases of each step. Use, per step:
///
///     auto t = profile.start_step(step);
///     ...gather...;          t = profile.lap(StepPhase::data, t);
///     ...forward, loss...;   t = profile.lap(StepPhase::forward, t);
///     ...                    (backward, allreduce_wait, agreement, optimizer)
///     profile.end_step(reducer.last_buckets(), global_samples);
///
/// Recording allocates nothing. Steps whose index (counted from this process's first step) is below the
/// warm-up are recorded on the timeline but not in the totals.
class StepProfile {
 public:
  using Clock = std::chrono::steady_clock;

  /// @param warmup_steps steps excluded from the totals (>= 0). @param timeline if not null, receives
  /// every span; it must outlive the profile.
  explicit StepProfile(std::int64_t warmup_steps, Timeline* timeline = nullptr);

  /// Starts global step @p step; returns the time it started.
  Clock::time_point start_step(std::int64_t step);
  /// Ends the phase begun at @p since; returns now, the start of the next phase.
  Clock::time_point lap(StepPhase phase, Clock::time_point since);
  /// Ends the step begun by start_step. @param buckets the reducer's allreduces of this step (for the
  /// communication span and the timeline). @param samples the global batch's samples in this step.
  void end_step(std::span<const dist::BucketTiming> buckets, std::int64_t samples);
  /// Records a span outside the step phases (checkpoint, evaluation) on the timeline only.
  void record(StepPhase phase, Clock::time_point start, Clock::time_point end);

  /// Steps in the totals so far.
  [[nodiscard]] std::int64_t timed_steps() const { return timed_steps_; }

  /// The "timing" object of summary.json; collective (every rank calls it); times are means over ranks,
  /// counts are this rank's, and "step_s_max_rank" is the slowest rank's mean step:
  /// {"warmup_steps", "steps" (timed), "samples" (global, timed steps), "seconds" (timed steps' time),
  ///  "samples_per_second", "step_s", "data_s", "forward_s", "backward_s", "allreduce_wait_s",
  ///  "agreement_s", "optimizer_s", "other_s" (mean seconds per timed step; other = step minus the
  ///  phases), "comm_span_s" (mean per step of the time from the first allreduce's start to the last one's
  ///  observed completion), "hidden_comm_share" (1 - allreduce_wait / comm_span over the timed steps,
  ///  clamped to [0, 1]: 0 for the fused reducer, whose whole allreduce is waited for; null with one
  ///  rank, where nothing is communicated),
  ///  "step_s_max_rank" (the slowest rank's mean step)}.
  /// @throws dist::MpiError.
  [[nodiscard]] nlohmann::json summary(const dist::Communicator& comm) const;

 private:
  static constexpr int phase_count = base::step_phase_count;
  std::int64_t warmup_steps_;
  Timeline* timeline_;
  std::int64_t steps_seen_ = 0;
  std::int64_t timed_steps_ = 0;
  std::int64_t current_step_ = -1;
  bool counting_ = false;
  Clock::time_point step_start_;
  double seconds_[phase_count] = {};   // per StepPhase, timed steps
  double step_seconds_ = 0.0;
  double comm_span_seconds_ = 0.0;
  double samples_ = 0.0;
};

/// The "memory" object of summary.json; collective: {"peak_rss_bytes_per_rank": [...] (getrusage
/// ru_maxrss of each rank, bytes), "peak_rss_bytes_max", "train_data_bytes_per_rank": [...] (each rank's
/// training set in memory, bytes: features or 8-bit pixels plus labels; @p train_data_bytes is this
/// rank's), "train_data_bytes" (the largest of them), "train_storage" ("uint8" or "float32")}.
/// @throws dist::MpiError.
nlohmann::json memory_summary(const dist::Communicator& comm, std::int64_t train_data_bytes, bool train_as_bytes);

}  // namespace mpitrain::telemetry
