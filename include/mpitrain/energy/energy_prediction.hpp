#pragma once
/// @file energy_prediction.hpp
/// Predicting a whole run's time and energy from its first steps (after `energy.predict_after_steps`
/// steps), by linear extrapolation of the steady-state rate measured after a warm-up (first-step
/// allocations, page faults and cold caches make the first steps slower): as Carbontracker (Anthony,
/// Kanding and Selvan, 2020) predicts a whole training from its first epoch, but per step.

#include <cstdint>

namespace mpitrain::energy {

/// Where the run stood at some step: time and IT energy since the monitor started.
struct RunProgress {
  std::int64_t step = 0;  ///< Global steps done.
  double seconds = 0;     ///< s since start.
  double joules = 0;      ///< IT energy (J) since start.
};

/// A prediction of the whole run.
struct RunPrediction {
  std::int64_t at_step = 0;  ///< The step at which it was made.
  double seconds = 0;        ///< Predicted total time (s) since start.
  double joules = 0;         ///< Predicted total IT energy (J) since start.
};

/// The warm-up steps excluded from the rate: a fifth of @p predict_after_steps (rounded down).
std::int64_t warmup_steps(std::int64_t predict_after_steps);

/// Extrapolates from @p now to @p total_steps at the rate between @p window_start and @p now:
/// seconds = now.seconds + (total_steps − now.step) · Δseconds / Δsteps, and likewise for joules.
/// @throws std::invalid_argument if now.step <= window_start.step or total_steps < now.step.
RunPrediction predict_run(const RunProgress& window_start, const RunProgress& now, std::int64_t total_steps);

}  // namespace mpitrain::energy
