#pragma once
/// @file timeline.hpp
/// A per-rank timeline of training (`log.timeline = true`), like Horovod's: every step and its phases,
/// every bucket's allreduce, checkpoints and evaluations, written at the end of the run as a Chrome trace
/// (`timeline-rank<N>.json` in the run directory) that chrome://tracing and https://ui.perfetto.dev open.
///
/// Format: the JSON Object Format of the Trace Event Format (Google, "Trace Event Format", 2016,
/// docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU): {"traceEvents": [...],
/// "displayTimeUnit": "ms", "otherData": {...}}. Each span is a complete event ("ph": "X") with "ts" and
/// "dur" in microseconds; "pid" is the rank; "tid" 1 is the training loop (a "step N" event with its
/// phases nested inside it), "tid" 100 + k is bucket k's allreduce, which runs beside backward. Metadata
/// events ("ph": "M") name the process `rank N` and each row. Timestamps are steady-clock microseconds,
/// a clock shared by the ranks of one node, so the files of one node line up when opened together.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpitrain/base/step_phase.hpp"

namespace mpitrain::telemetry {

/// What a timed span of training was (one enum for the watchdog, the profile and the timeline).
using base::StepPhase;

/// Spans of one rank, kept in memory reserved up front and written as a Chrome trace.
class Timeline {
 public:
  using Clock = std::chrono::steady_clock;

  /// @param rank the trace's pid. @param capacity spans kept (reserved now, 40 bytes each); spans beyond
  /// it are counted in dropped() and not kept, so that recording never allocates.
  Timeline(int rank, std::size_t capacity);

  /// Records the span [start, end) of @p phase in global step @p step (-1: outside steps). For
  /// StepPhase::allreduce, @p bucket is the bucket's index and @p elements its float count.
  void add(StepPhase phase, std::int64_t step, Clock::time_point start, Clock::time_point end,
           std::int32_t bucket = -1, std::int64_t elements = 0) noexcept;

  /// Spans kept.
  [[nodiscard]] std::size_t size() const { return spans_.size(); }
  /// Spans not kept for lack of capacity.
  [[nodiscard]] std::size_t dropped() const { return dropped_; }

  /// The trace as a JSON object (see the file comment).
  [[nodiscard]] nlohmann::json to_json() const;
  /// Writes to_json() to @p path atomically (base::write_text_atomically: a temporary file, then a rename).
  /// @throws base::FileError naming the file and the errno when it cannot be written.
  void write(const std::filesystem::path& path) const;

 private:
  struct Span {
    std::int64_t start_ns;  // steady_clock since its epoch
    std::int64_t duration_ns;
    std::int64_t step;
    std::int64_t elements;
    std::int32_t bucket;
    StepPhase phase;
  };
  int rank_;
  std::size_t capacity_;
  std::size_t dropped_ = 0;
  std::vector<Span> spans_;  // capacity_ reserved
};

}  // namespace mpitrain::telemetry
