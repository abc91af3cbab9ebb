#pragma once
// The timing rule of the launch/bench_src benchmarks: a call is repeated for at least min_seconds, seven
// times over, and the median of the seven per-call times is kept, which rejects the noise of a shared
// machine. With BENCH_CLOCK=cpu in the environment the rounds are timed by the process's CPU time
// (CLOCK_PROCESS_CPUTIME_ID) instead of the wall clock: for A/B comparisons of one-threaded runs on a machine
// where other processes take turns on the cores (the time the process waits does not count; what it loses to
// shared caches still does).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace bench {

/// Now in seconds: the process's CPU time when BENCH_CLOCK=cpu, else the steady wall clock.
inline double now_seconds() {
  static const bool cpu = [] {
    const char* clock = std::getenv("BENCH_CLOCK");
    return clock != nullptr && std::strcmp(clock, "cpu") == 0;
  }();
  if (cpu) {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Seconds per call of @p run in each of @p rounds rounds of at least @p min_seconds (s) each, in the order
/// measured.
template <class F>
std::vector<double> round_seconds(F&& run, double min_seconds, int rounds = 7) {
  std::vector<double> per_call;
  for (int round = 0; round < rounds; ++round) {
    long reps = 0;
    const double start = now_seconds();
    double elapsed = 0.0;
    do {
      run();
      ++reps;
      elapsed = now_seconds() - start;
    } while (elapsed < min_seconds);
    per_call.push_back(elapsed / static_cast<double>(reps));
  }
  return per_call;
}

/// The median of @p values (the upper one of the two middle values for an even count); @p values is
/// reordered. Precondition: not empty.
inline double median(std::vector<double>& values) {
  const auto middle = values.begin() + static_cast<long>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

/// Median seconds per call of @p run over 7 rounds of at least @p min_seconds (s) each.
template <class F>
double median_seconds(F&& run, double min_seconds) {
  std::vector<double> rounds = round_seconds(run, min_seconds);
  return median(rounds);
}

}  // namespace bench
