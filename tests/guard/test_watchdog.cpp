// The watchdog with a short limit, in death tests (it ends its process with exit code 70): a phase that
// runs too long is caught and named, idle time and re-entered phases are not, and a stop of the whole
// process (SIGSTOP ... SIGCONT) longer than the limit does not count as time in the phase.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "mpitrain/base/logging.hpp"
#include "mpitrain/guard/watchdog.hpp"

namespace mpitrain::guard {
namespace {

using namespace std::chrono_literals;

// Stops this whole process (every thread) for @p seconds: a helper process sends SIGCONT.
void stop_process_for(time_t seconds) {
  const pid_t self = getpid();
  if (fork() == 0) {  // only async-signal-safe calls in the child of a threaded process
    const timespec delay{seconds, 0};
    nanosleep(&delay, nullptr);
    kill(self, SIGCONT);
    _exit(0);
  }
  raise(SIGSTOP);
}

// In the death test's child: a watchdog with a 1 s limit for @p rank, logging to stderr (what the death
// tests match), is given to @p body; the child exits 0 if the watchdog has not ended it by then.
template <class Body>
void watched(int rank, Body body) {
  base::setup_logging(0, "info");
  Watchdog watchdog(1.0, rank);
  body(watchdog);
  std::exit(0);
}

class WatchdogDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }  // the child re-executes
};

TEST_F(WatchdogDeathTest, PhaseLongerThanTheLimitEndsTheProcessNamingRankPhaseAndStep) {
  EXPECT_EXIT(watched(3,
                      [](Watchdog& watchdog) {
                        watchdog.enter(base::StepPhase::allreduce_wait, 17);
                        std::this_thread::sleep_for(5s);  // the watchdog must end the process long before
                      }),
              ::testing::ExitedWithCode(base::exit_watchdog), "watchdog: rank 3 stuck in gradient allreduce at step 17");
}

TEST_F(WatchdogDeathTest, IdleAndShortPhasesNeverFire) {
  EXPECT_EXIT(watched(0,
                      [](Watchdog& watchdog) {
                        for (int step = 0; step < 12; ++step) {  // 2.4 s in all, each phase well under 1 s
                          watchdog.enter(base::StepPhase::forward, step);
                          std::this_thread::sleep_for(200ms);
                        }
                        watchdog.idle();
                        std::this_thread::sleep_for(1500ms);  // idle is never timed
                      }),
              ::testing::ExitedWithCode(0), "");
}

// The process stops itself in a phase (raise(SIGSTOP) stops every thread) and a helper process continues
// it 3 s later, three times the 1 s limit; the phase then ends 0.1 s later. On CLOCK_MONOTONIC alone the
// phase would have lasted over 3 s and the watchdog would fire with 70 on waking.
TEST_F(WatchdogDeathTest, TimeWhileTheProcessIsStoppedDoesNotCount) {
  EXPECT_EXIT(watched(0,
                      [](Watchdog& watchdog) {
                        watchdog.enter(base::StepPhase::backward, 5);
                        std::this_thread::sleep_for(100ms);
                        stop_process_for(3);
                        std::this_thread::sleep_for(100ms);
                        watchdog.idle();
                      }),
              ::testing::ExitedWithCode(0), "");
}

// After a stop, a phase that really hangs is still caught.
TEST_F(WatchdogDeathTest, AHangAfterAStopIsStillCaught) {
  EXPECT_EXIT(watched(1,
                      [](Watchdog& watchdog) {
                        watchdog.enter(base::StepPhase::data, 9);
                        stop_process_for(2);
                        std::this_thread::sleep_for(5s);
                      }),
              ::testing::ExitedWithCode(base::exit_watchdog), "watchdog: rank 1 stuck in data gathering at step 9");
}

}  // namespace
}  // namespace mpitrain::guard
