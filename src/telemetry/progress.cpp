#include "mpitrain/telemetry/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace mpitrain::telemetry {

bool progress_enabled(const std::string& setting) {
  if (setting == "true") return true;
  if (setting == "false") return false;
  return isatty(STDERR_FILENO) == 1;
}

ProgressBar::ProgressBar(bool active, std::int64_t total_steps)
    : active_(active), total_steps_(total_steps), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(std::int64_t epoch, std::int64_t step, double samples_per_second, double loss) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200) && step != total_steps_) return;
  last_draw_ = now;
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(total_steps_ - step) : 0;
  constexpr int width = 30;
  const int filled = total_steps_ > 0 ? static_cast<int>(width * step / total_steps_) : width;
  char bar[width + 1];
  for (int i = 0; i < width; ++i) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
  bar[width] = '\0';
  const int eta_s = static_cast<int>(eta);
  std::fprintf(stderr, "\r\033[Kepoch %lld step %lld/%lld [%s] %.0f samples/s loss %.4f ETA %02d:%02d",
               static_cast<long long>(epoch), static_cast<long long>(step),
               static_cast<long long>(total_steps_), bar, samples_per_second, loss, eta_s / 60, eta_s % 60);
  std::fflush(stderr);
}

void ProgressBar::clear() {
  if (!active_ || !drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace mpitrain::telemetry
