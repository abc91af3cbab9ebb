#pragma once
/// @file schedule.hpp
/// Learning-rate schedules: the rate of a step as a function of the global step index alone (and of
/// constant options), so that a resumed run continues with exactly the rates of an uninterrupted one.

#include <cstdint>

#include "mpitrain/config/config.hpp"

namespace mpitrain::optim {

/// The learning rate of global step s (0-based: the first step of a run is s = 0).
///
/// - `constant`: lr0.
/// - `step` (PyTorch's StepLR stepped once per optimizer step): lr0 · γ^floor(s / step_every).
/// - `warmup_cosine` (linear warm-up, then cosine decay to a final rate, as nanoGPT's get_lr, after Loshchilov
///   and Hutter, "SGDR", ICLR 2017): for s < W, lr0 · (s + 1) / (W + 1) (never 0, below lr0 throughout);
///   for W <= s <= D, lr_f + ½·(1 + cos(π·(s − W)/(D − W)))·(lr0 − lr_f), i.e. lr0 at s = W, the mean of lr0
///   and lr_f halfway, lr_f at s = D; for s > D, lr_f.
class LearningRateSchedule {
 public:
  /// Reads optim.schedule, optim.learning_rate (lr0), optim.step_every, optim.step_gamma (γ),
  /// optim.warmup_steps (W), optim.decay_steps (D) and optim.final_learning_rate (lr_f); config::validate
  /// checks their ranges. @throws std::invalid_argument naming the key for an unknown schedule, step_every < 1
  /// with `step`, or D <= W with `warmup_cosine`.
  explicit LearningRateSchedule(const config::OptimConfig& options);
  /// The rate of global step @p step (>= 0; a negative step is treated as 0). Computed in double.
  [[nodiscard]] double at(std::int64_t step) const;

 private:
  enum class Kind { constant, step, warmup_cosine };
  Kind kind_;
  double base_;                 // lr0
  std::int64_t step_every_;
  double gamma_;
  std::int64_t warmup_;         // W
  std::int64_t decay_end_;      // D
  double final_;                // lr_f
};

}  // namespace mpitrain::optim
