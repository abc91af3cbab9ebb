#pragma once
// The timing rule of the launch/bench_src benchmarks: a call is repeated for at least min_seconds, seven
// times over, and the median of the seven per-call times is kept, which rejects the noise of a shared
// machine.
#include <algorithm>
#include <chrono>
#include <vector>

namespace bench {

/// Median seconds per call of @p run over 7 rounds of at least @p min_seconds (s) each.
template <class F>
double median_seconds(F&& run, double min_seconds) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> rounds;
  for (int round = 0; round < 7; ++round) {
    long reps = 0;
    const auto start = Clock::now();
    double elapsed = 0.0;
    do {
      run();
      ++reps;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < min_seconds);
    rounds.push_back(elapsed / static_cast<double>(reps));
  }
  std::nth_element(rounds.begin(), rounds.begin() + 3, rounds.end());
  return rounds[3];
}

}  // namespace bench
