#pragma once
/// @file step_phase.hpp
/// The phases of a training step: one enum for everything that follows them (the watchdog's message, the
/// step profile's per-phase seconds, the timeline's spans), so that a phase is named once.

#include <cstdint>

namespace mpitrain::base {

/// What a rank is doing. The order is the order of a step; idle is outside any step or collective.
enum class StepPhase : std::uint8_t {
  step,            ///< A whole optimizer step (encloses the phases below; timeline only).
  data,            ///< Gathering and scaling this rank's slice of the batch.
  forward,         ///< Forward pass and loss.
  backward,        ///< Backward pass (starts the bucketed allreduces).
  allreduce_wait,  ///< Blocked until every gradient allreduce completed.
  agreement,       ///< The small per-step collective that agrees on stops and non-finite steps.
  optimizer,       ///< Gradient post-processing (average, L2, clipping) and the optimizer update.
  checkpoint,      ///< Writing a checkpoint.
  evaluation,      ///< Evaluating a validation or test set.
  allreduce,       ///< One bucket's allreduce, from its start to its observed completion (timeline only).
  idle,            ///< Nothing watched (between runs, after the end).
};

/// Number of StepPhase values (array sizes).
inline constexpr int step_phase_count = 11;

/// Short identifier of @p phase, e.g. "allreduce_wait" (timeline span names, summary.json keys).
const char* to_string(StepPhase phase);

/// Words for a log message, e.g. "gradient allreduce" for allreduce_wait (the watchdog's message).
const char* describe(StepPhase phase);

}  // namespace mpitrain::base
