#include "mpitrain/guard/watchdog.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

namespace mpitrain::guard {

namespace {
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Watchdog::Watchdog(double limit_seconds, int rank)
    : limit_seconds_(limit_seconds), rank_(rank), since_ns_(now_ns()), thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Watchdog::enter(base::StepPhase phase, std::int64_t step) noexcept {
  since_ns_.store(now_ns(), std::memory_order_relaxed);
  step_.store(step, std::memory_order_relaxed);
  phase_.store(static_cast<int>(phase), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
}

void Watchdog::run() {
  const double period_s = std::min(1.0, limit_seconds_ / 4);
  const auto period = std::chrono::duration<double>(period_s);
  const auto period_ns = static_cast<std::int64_t>(period_s * 1e9);
  std::int64_t last_wake = now_ns();
  std::uint64_t seen = generation_.load(std::memory_order_acquire);
  std::int64_t running_ns = 0;  // time the current phase has run, stops of the process left out
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stop_; })) {
    const std::int64_t now = now_ns();
    // A wake-up more than 2 periods late: the process was stopped (SIGSTOP) in between (see the header).
    const std::int64_t ran = now - last_wake > 2 * period_ns ? period_ns : now - last_wake;
    last_wake = now;
    if (const std::uint64_t generation = generation_.load(std::memory_order_acquire); generation != seen) {
      seen = generation;  // a phase began since the last wake-up: it has run since since_ns_, within `ran`
      running_ns = std::clamp<std::int64_t>(now - since_ns_.load(std::memory_order_relaxed), 0, ran);
    } else {
      running_ns += ran;
    }
    const auto phase = static_cast<base::StepPhase>(phase_.load(std::memory_order_relaxed));
    if (phase == base::StepPhase::idle) continue;
    const double stuck = static_cast<double>(running_ns) * 1e-9;
    if (stuck <= limit_seconds_) continue;
    spdlog::error("watchdog: rank {} stuck in {} at step {} for {:.1f} s (train.watchdog_seconds = {}); "
                  "aborting the job",
                  rank_, base::describe(phase), step_.load(), stuck, limit_seconds_);
    spdlog::default_logger()->flush();
    std::_Exit(base::exit_watchdog);  // no MPI from this thread: mpirun ends the other ranks
  }
}

}  // namespace mpitrain::guard
