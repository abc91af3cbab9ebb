#include "mpitrain/energy/energy_prediction.hpp"

#include <stdexcept>
#include <string>

namespace mpitrain::energy {

std::int64_t warmup_steps(std::int64_t predict_after_steps) {
  return predict_after_steps > 0 ? predict_after_steps / 5 : 0;
}

RunPrediction predict_run(const RunProgress& window_start, const RunProgress& now, std::int64_t total_steps) {
  if (now.step <= window_start.step) {
    throw std::invalid_argument("predict_run: the window must span at least one step (from step " +
                                std::to_string(window_start.step) + " to " + std::to_string(now.step) + ")");
  }
  if (total_steps < now.step) {
    throw std::invalid_argument("predict_run: total steps " + std::to_string(total_steps) + " is before step " +
                                std::to_string(now.step));
  }
  const double steps = static_cast<double>(now.step - window_start.step);
  const double remaining = static_cast<double>(total_steps - now.step);
  return {now.step, now.seconds + remaining * (now.seconds - window_start.seconds) / steps,
          now.joules + remaining * (now.joules - window_start.joules) / steps};
}

}  // namespace mpitrain::energy
