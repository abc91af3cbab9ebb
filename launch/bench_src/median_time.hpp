#pragma once
// The timing rule of the launch/bench_src benchmarks: a call is repeated for at least min_seconds, seven
// times over, and the median of the seven per-call times is kept, which rejects the noise of a shared
// machine.
#include <algorithm>
#include <chrono>
#include <vector>

namespace bench {

/// Seconds per call of @p run in each of @p rounds rounds of at least @p min_seconds (s) each, in the order
/// measured.
template <class F>
std::vector<double> round_seconds(F&& run, double min_seconds, int rounds = 7) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> per_call;
  for (int round = 0; round < rounds; ++round) {
    long reps = 0;
    const auto start = Clock::now();
    double elapsed = 0.0;
    do {
      run();
      ++reps;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
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
