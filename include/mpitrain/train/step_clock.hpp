#pragma once
/// @file step_clock.hpp
/// One call per phase change feeds everything that follows the step's phases: the watchdog (which phase a
/// stuck rank is in), the step profile (per-phase seconds) and, through the profile, the timeline.

#include <cstdint>
#include <span>

#include "mpitrain/base/step_phase.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"
#include "mpitrain/guard/watchdog.hpp"
#include "mpitrain/telemetry/step_profile.hpp"

namespace mpitrain::train {

/// The phases of the current step. Use: start_step(s); enter(forward); ...; end_step(buckets, samples).
/// Allocates nothing.
class StepClock {
 public:
  /// @param profile receives each phase's time. @param watchdog if not null, told each phase (it must
  /// outlive the clock).
  explicit StepClock(telemetry::StepProfile& profile, guard::Watchdog* watchdog = nullptr)
      : profile_(profile), watchdog_(watchdog) {}

  /// Starts global step @p global_step in the data phase.
  void start_step(std::int64_t global_step);
  /// Ends the current phase and begins @p next (a phase of the step: data ... optimizer).
  void enter(base::StepPhase next);
  /// Ends the current phase and the step. @param buckets the reducer's allreduces of this step.
  /// @param samples the global batch's samples in this step.
  void end_step(std::span<const dist::BucketTiming> buckets, std::int64_t samples);
  /// Marks a phase outside the steps (checkpoint, evaluation, a collective between steps) for the
  /// watchdog only; the caller times it for the profile itself.
  void mark(base::StepPhase phase, std::int64_t global_step);

 private:
  telemetry::StepProfile& profile_;
  guard::Watchdog* watchdog_;
  base::StepPhase current_ = base::StepPhase::idle;
  std::int64_t step_ = -1;
  telemetry::StepProfile::Clock::time_point since_{};
};

}  // namespace mpitrain::train
