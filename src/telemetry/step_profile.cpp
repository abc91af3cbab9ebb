#include "mpitrain/telemetry/step_profile.hpp"

#include <algorithm>
#include <array>

#include "mpitrain/base/resource_usage.hpp"

namespace mpitrain::telemetry {

namespace {
double seconds(StepProfile::Clock::duration d) { return std::chrono::duration<double>(d).count(); }
int index(StepPhase p) { return static_cast<int>(p); }
}  // namespace

StepProfile::StepProfile(std::int64_t warmup_steps, Timeline* timeline)
    : warmup_steps_(std::max<std::int64_t>(warmup_steps, 0)), timeline_(timeline) {}

StepProfile::Clock::time_point StepProfile::start_step(std::int64_t step) {
  current_step_ = step;
  counting_ = steps_seen_ >= warmup_steps_;
  step_start_ = Clock::now();
  return step_start_;
}

StepProfile::Clock::time_point StepProfile::lap(StepPhase phase, Clock::time_point since) {
  const auto now = Clock::now();
  if (counting_) seconds_[index(phase)] += seconds(now - since);
  if (timeline_ != nullptr) timeline_->add(phase, current_step_, since, now);
  return now;
}

void StepProfile::end_step(std::span<const dist::BucketTiming> buckets, std::int64_t samples) {
  const auto now = Clock::now();
  ++steps_seen_;
  if (timeline_ != nullptr) {
    timeline_->add(StepPhase::step, current_step_, step_start_, now);
    for (std::size_t b = 0; b < buckets.size(); ++b) {
      timeline_->add(StepPhase::allreduce, current_step_, buckets[b].start, buckets[b].end,
                     static_cast<std::int32_t>(b), buckets[b].range.count);
    }
  }
  if (!counting_) return;
  ++timed_steps_;
  step_seconds_ += seconds(now - step_start_);
  samples_ += static_cast<double>(samples);
  if (!buckets.empty()) {
    auto first = buckets.front().start, last = buckets.front().end;
    for (const auto& b : buckets) {
      first = std::min(first, b.start);
      last = std::max(last, b.end);
    }
    comm_span_seconds_ += seconds(last - first);
  }
}

void StepProfile::record(StepPhase phase, Clock::time_point start, Clock::time_point end) {
  if (timeline_ != nullptr) timeline_->add(phase, -1, start, end);
}

nlohmann::json StepProfile::summary(const dist::Communicator& comm) const {
  // Sums over ranks (one allreduce) of the step time, each phase's time and the comm span, at named
  // positions; the slowest rank's step time apart.
  constexpr std::size_t step_at = 0, comm_span_at = phase_count + 1;
  const auto phase_at = [](StepPhase p) { return static_cast<std::size_t>(index(p)) + 1; };
  std::array<double, phase_count + 2> sums{};
  sums[step_at] = step_seconds_;
  for (int p = 0; p < phase_count; ++p) sums[phase_at(static_cast<StepPhase>(p))] = seconds_[p];
  sums[comm_span_at] = comm_span_seconds_;
  comm.allreduce(std::span<double>(sums), dist::ReduceOp::sum);
  const double slowest = comm.allreduce(step_seconds_, dist::ReduceOp::max);
  const double ranks = comm.size();
  const double steps = static_cast<double>(std::max<std::int64_t>(timed_steps_, 1));
  auto per_step = [&](std::size_t at) { return sums[at] / ranks / steps; };
  auto phase = [&](StepPhase p) { return per_step(phase_at(p)); };

  const double step = per_step(step_at);
  double phases = 0.0;
  for (StepPhase p : {StepPhase::data, StepPhase::forward, StepPhase::backward, StepPhase::allreduce_wait,
                      StepPhase::agreement, StepPhase::optimizer}) {
    phases += phase(p);
  }
  const double span = per_step(comm_span_at);
  const double wait = phase(StepPhase::allreduce_wait);
  const double hidden = span > 0.0 ? std::clamp(1.0 - wait / span, 0.0, 1.0) : 0.0;
  const double total = sums[step_at] / ranks;
  return {{"warmup_steps", warmup_steps_},
          {"steps", timed_steps_},
          {"samples", samples_},
          {"seconds", total},
          {"samples_per_second", total > 0.0 ? samples_ / total : 0.0},
          {"step_s", step},
          {"data_s", phase(StepPhase::data)},
          {"forward_s", phase(StepPhase::forward)},
          {"backward_s", phase(StepPhase::backward)},
          {"allreduce_wait_s", wait},
          {"agreement_s", phase(StepPhase::agreement)},
          {"optimizer_s", phase(StepPhase::optimizer)},
          {"other_s", std::max(0.0, step - phases)},
          {"comm_span_s", span},
          {"hidden_comm_share", comm.size() > 1 ? nlohmann::json(hidden) : nlohmann::json(nullptr)},
          {"step_s_max_rank", slowest / steps}};
}

nlohmann::json memory_summary(const dist::Communicator& comm, std::int64_t train_data_bytes, bool train_as_bytes) {
  const double mine = base::peak_rss_bytes();
  const std::vector<double> all = comm.allgatherv(std::span<const double>(&mine, 1));
  std::vector<std::int64_t> per_rank;
  for (double v : all) per_rank.push_back(static_cast<std::int64_t>(v));
  const std::vector<std::int64_t> data_bytes = comm.allgatherv(std::span<const std::int64_t>(&train_data_bytes, 1));
  return {{"peak_rss_bytes_per_rank", per_rank},
          {"peak_rss_bytes_max", *std::max_element(per_rank.begin(), per_rank.end())},
          {"train_data_bytes_per_rank", data_bytes},
          {"train_data_bytes", *std::max_element(data_bytes.begin(), data_bytes.end())},
          {"train_storage", train_as_bytes ? "uint8" : "float32"}};
}

}  // namespace mpitrain::telemetry
