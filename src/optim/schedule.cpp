#include "mpitrain/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace mpitrain::optim {

LearningRateSchedule::LearningRateSchedule(const config::OptimConfig& o)
    : kind_(Kind::constant), base_(o.learning_rate), step_every_(o.step_every), gamma_(o.step_gamma),
      warmup_(o.warmup_steps), decay_end_(o.decay_steps), final_(o.final_learning_rate) {
  if (o.schedule == "constant") {
    kind_ = Kind::constant;
  } else if (o.schedule == "step") {
    kind_ = Kind::step;
    if (step_every_ < 1) {
      throw std::invalid_argument("optim.step_every = " + std::to_string(step_every_) +
                                  ": must be >= 1 with optim.schedule = step");
    }
  } else if (o.schedule == "warmup_cosine") {
    kind_ = Kind::warmup_cosine;
    if (warmup_ < 0 || decay_end_ <= warmup_) {
      throw std::invalid_argument("optim.decay_steps = " + std::to_string(decay_end_) +
                                  ", optim.warmup_steps = " + std::to_string(warmup_) +
                                  ": need 0 <= warmup_steps < decay_steps with optim.schedule = warmup_cosine");
    }
  } else {
    throw std::invalid_argument("optim.schedule = '" + o.schedule + "': must be constant, step or warmup_cosine");
  }
}

double LearningRateSchedule::at(std::int64_t step) const {
  const std::int64_t s = std::max<std::int64_t>(step, 0);
  switch (kind_) {
    case Kind::constant:
      return base_;
    case Kind::step:
      return base_ * std::pow(gamma_, static_cast<double>(s / step_every_));
    case Kind::warmup_cosine: {
      if (s < warmup_) return base_ * static_cast<double>(s + 1) / static_cast<double>(warmup_ + 1);
      if (s >= decay_end_) return final_;
      const double progress = static_cast<double>(s - warmup_) / static_cast<double>(decay_end_ - warmup_);
      return final_ + 0.5 * (1.0 + std::cos(std::numbers::pi * progress)) * (base_ - final_);
    }
  }
  return base_;
}

}  // namespace mpitrain::optim
