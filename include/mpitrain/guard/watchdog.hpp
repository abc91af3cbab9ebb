#pragma once
/// @file watchdog.hpp
/// A per-rank watchdog thread: when one phase of a step (or a collective) has not finished after the
/// limit, it logs the rank, the phase and the step, and ends the process with exit_watchdog. mpirun then
/// takes the whole job down, so a lost rank or a stuck collective never hangs the job. The thread makes
/// no MPI call (the library is initialised MPI_THREAD_FUNNELED).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "mpitrain/base/step_phase.hpp"

namespace mpitrain::guard {

/// Exit code of a process ended by the watchdog.
inline constexpr int exit_watchdog = 70;

/// Watches the time spent in the current phase.
class Watchdog {
 public:
  /// Starts the thread. @param limit_seconds the longest a phase may take (s, > 0). @param rank for the message.
  Watchdog(double limit_seconds, int rank);
  /// Stops and joins the thread.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Marks the start of @p phase of step @p step (lock-free; called on the hot path); StepPhase::idle
  /// stops watching.
  void enter(base::StepPhase phase, std::int64_t step = -1) noexcept;
  /// Stops watching until the next enter() (outside steps and collectives).
  void idle() noexcept { enter(base::StepPhase::idle); }

 private:
  void run();

  double limit_seconds_;
  int rank_;
  std::atomic<int> phase_{static_cast<int>(base::StepPhase::idle)};
  std::atomic<std::int64_t> step_{-1};
  std::atomic<std::int64_t> since_ns_;  // steady_clock time the phase began
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mpitrain::guard
