// The Chrome trace of log.timeline and the per-phase timing of summary.json: the JSON written is parsed
// back and its events checked against the time points recorded, computed here by hand.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <thread>

#include "mpitrain/telemetry/step_profile.hpp"
#include "mpitrain/telemetry/timeline.hpp"

using namespace mpitrain;
using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;

namespace {
const nlohmann::json* find_event(const nlohmann::json& events, const std::string& name) {
  for (const auto& e : events) {
    if (e.value("name", "") == name && e.value("ph", "") == "X") return &e;
  }
  return nullptr;
}
}  // namespace

TEST(Timeline, WritesAChromeTraceThatParsesBack) {
  const auto t0 = Clock::time_point(microseconds(5'000'000));  // 5 s after the clock's epoch
  telemetry::Timeline timeline(3, 16);
  timeline.add(telemetry::StepPhase::step, 7, t0, t0 + microseconds(1500));
  timeline.add(telemetry::StepPhase::forward, 7, t0 + microseconds(10), t0 + microseconds(510));
  timeline.add(telemetry::StepPhase::allreduce, 7, t0 + microseconds(600), t0 + microseconds(1250), 2, 1290);
  timeline.add(telemetry::StepPhase::checkpoint, -1, t0 + microseconds(2000), t0 + microseconds(2000) + std::chrono::nanoseconds(1500));

  const auto path = std::filesystem::temp_directory_path() / ("timeline-test-" + std::to_string(::getpid()) + ".json");
  timeline.write(path);
  std::ifstream in(path);
  const nlohmann::json trace = nlohmann::json::parse(in);
  std::filesystem::remove(path);

  ASSERT_TRUE(trace["traceEvents"].is_array());
  EXPECT_EQ(trace["displayTimeUnit"], "ms");
  const auto& events = trace["traceEvents"];
  const auto* step = find_event(events, "step 7");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ((*step)["pid"], 3);
  EXPECT_EQ((*step)["tid"], 1);
  EXPECT_DOUBLE_EQ((*step)["ts"].get<double>(), 5'000'000.0);  // microseconds
  EXPECT_DOUBLE_EQ((*step)["dur"].get<double>(), 1500.0);
  const auto* forward = find_event(events, "forward");
  ASSERT_NE(forward, nullptr);
  EXPECT_DOUBLE_EQ((*forward)["ts"].get<double>(), 5'000'010.0);
  EXPECT_DOUBLE_EQ((*forward)["dur"].get<double>(), 500.0);
  EXPECT_EQ((*forward)["args"]["step"], 7);
  EXPECT_EQ((*forward)["cat"], "compute");
  const auto* bucket = find_event(events, "allreduce bucket 2");
  ASSERT_NE(bucket, nullptr);
  EXPECT_EQ((*bucket)["tid"], 102);
  EXPECT_EQ((*bucket)["cat"], "communication");
  EXPECT_DOUBLE_EQ((*bucket)["dur"].get<double>(), 650.0);
  EXPECT_EQ((*bucket)["args"]["bytes"], 1290 * 4);
  const auto* checkpoint = find_event(events, "checkpoint");
  ASSERT_NE(checkpoint, nullptr);
  EXPECT_DOUBLE_EQ((*checkpoint)["dur"].get<double>(), 1.5);  // nanosecond resolution kept
  EXPECT_FALSE((*checkpoint)["args"].contains("step"));
  // Metadata: the process is named after the rank, and every row used has a name.
  int names = 0;
  for (const auto& e : events) {
    if (e["ph"] != "M") continue;
    if (e["name"] == "process_name") {
      EXPECT_EQ(e["args"]["name"], "rank 3");
    }
    if (e["name"] == "thread_name") ++names;
  }
  EXPECT_EQ(names, 2);  // the training loop and bucket 2
}

TEST(Timeline, DropsSpansBeyondItsCapacity) {
  telemetry::Timeline timeline(0, 2);
  const auto t = Clock::now();
  for (int i = 0; i < 5; ++i) timeline.add(telemetry::StepPhase::data, i, t, t);
  EXPECT_EQ(timeline.size(), 2u);
  EXPECT_EQ(timeline.dropped(), 3u);
  EXPECT_EQ(timeline.to_json()["otherData"]["dropped_spans"], 3);
  // A directory that cannot be made (its parent is a file): a clear error naming the file.
  const auto file = std::filesystem::temp_directory_path() / ("timeline-file-" + std::to_string(::getpid()));
  std::ofstream(file) << "x";
  try {
    timeline.write(file / "timeline.json");
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("timeline.json"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file);
}

TEST(StepProfile, PhaseMeansExcludeTheWarmUpAndHiddenShareFollowsTheBuckets) {
  // The phases sleep for known times; the bucket timings are made up so that the communication span is
  // 20 ms per step (from the first start to the last end) while the wait lasts about 5 ms. With one rank
  // nothing is communicated, so the hidden share is null (tests/scripts/reducers.sh checks it at 2 ranks).
  telemetry::StepProfile profile(1, nullptr);
  for (int s = 0; s < 3; ++s) {
    auto t = profile.start_step(s);
    std::this_thread::sleep_for(std::chrono::milliseconds(s == 0 ? 30 : 4));  // the warm-up step is slow
    t = profile.lap(telemetry::StepPhase::forward, t);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    profile.lap(telemetry::StepPhase::allreduce_wait, t);
    const auto now = Clock::now();
    const std::vector<dist::BucketTiming> buckets = {
        {{0, 10}, now - std::chrono::milliseconds(20), now - std::chrono::milliseconds(8)},
        {{10, 10}, now - std::chrono::milliseconds(12), now}};
    profile.end_step(buckets, 128);
  }
  EXPECT_EQ(profile.timed_steps(), 2);
  const dist::Communicator self(MPI_COMM_SELF);  // MPI is initialised by main (test_step_path.cpp)
  const nlohmann::json timing = profile.summary(self);
  EXPECT_EQ(timing["steps"], 2);
  EXPECT_EQ(timing["warmup_steps"], 1);
  EXPECT_DOUBLE_EQ(timing["samples"].get<double>(), 256.0);
  EXPECT_GE(timing["forward_s"].get<double>(), 0.004);
  EXPECT_LT(timing["forward_s"].get<double>(), 0.015);  // the 30 ms warm-up step is not in the mean
  EXPECT_GE(timing["allreduce_wait_s"].get<double>(), 0.005);
  EXPECT_NEAR(timing["comm_span_s"].get<double>(), 0.020, 1e-6);
  EXPECT_TRUE(timing["hidden_comm_share"].is_null());
  EXPECT_GE(timing["step_s"].get<double>(), timing["forward_s"].get<double>() + timing["allreduce_wait_s"].get<double>());
  EXPECT_NEAR(timing["samples_per_second"].get<double>(), 256.0 / timing["seconds"].get<double>(), 1e-9);
}
