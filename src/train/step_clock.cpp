#include "mpitrain/train/step_clock.hpp"

namespace mpitrain::train {

void StepClock::start_step(std::int64_t global_step) {
  step_ = global_step;
  mark(base::StepPhase::data, global_step);
  since_ = profile_.start_step(global_step);
  current_ = base::StepPhase::data;
}

void StepClock::enter(base::StepPhase next) {
  since_ = profile_.lap(current_, since_);
  current_ = next;
  if (watchdog_ != nullptr) watchdog_->enter(next, step_);
}

void StepClock::end_step(std::span<const dist::BucketTiming> buckets, std::int64_t samples) {
  profile_.lap(current_, since_);
  profile_.end_step(buckets, samples);
}

void StepClock::mark(base::StepPhase phase, std::int64_t global_step) {
  if (watchdog_ != nullptr) watchdog_->enter(phase, global_step);
}

}  // namespace mpitrain::train
