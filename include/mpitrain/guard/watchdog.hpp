#pragma once
/// @file watchdog.hpp
/// A per-rank watchdog thread: when one phase of a step (or a collective) has not finished after the
/// limit, it logs the rank, the phase and the step, and ends the process with base::exit_watchdog. mpirun
/// then takes the whole job down, so a lost rank or a stuck collective never hangs the job. The thread
/// makes no MPI call (the library is initialised MPI_THREAD_FUNNELED).
///
/// Only time during which the process runs counts. A job stopped as a whole (SIGSTOP/SIGCONT, as
/// `scontrol suspend`, gang scheduling or Ctrl-Z do) is not hung: CLOCK_MONOTONIC (steady_clock) goes on
/// while the process is stopped, so the thread, which wakes every `period` = min(1 s, limit / 4), takes a
/// wake-up that comes more than 2 periods after the previous one as a stop and counts that interval as one
/// period (the process ran at most that long before it stopped). Consequences: a job resumed after any
/// suspension gets the rest of its limit; a watchdog thread starved of CPU for over 2 periods while its rank
/// runs detects a hang later than the limit, never earlier. (Process CPU time is no alternative: a rank
/// blocked in a collective or a sleep uses none, which is exactly what must be caught.)

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "mpitrain/base/exit_codes.hpp"
#include "mpitrain/base/step_phase.hpp"

namespace mpitrain::guard {

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
  std::atomic<std::int64_t> since_ns_;       // steady_clock time the phase began
  std::atomic<std::uint64_t> generation_{0};  // incremented by every enter()
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mpitrain::guard
