#include "mpitrain/telemetry/timeline.hpp"

#include <set>
#include <stdexcept>

#include "mpitrain/base/files.hpp"

namespace mpitrain::telemetry {

namespace {
constexpr int loop_tid = 1;
constexpr int bucket_tid = 100;

const char* category(StepPhase phase) {
  switch (phase) {
    case StepPhase::allreduce:
    case StepPhase::allreduce_wait:
    case StepPhase::agreement: return "communication";
    case StepPhase::checkpoint: return "io";
    default: return "compute";
  }
}

double microseconds(std::int64_t ns) { return static_cast<double>(ns) / 1000.0; }
}  // namespace

Timeline::Timeline(int rank, std::size_t capacity) : rank_(rank), capacity_(capacity) { spans_.reserve(capacity); }

void Timeline::add(StepPhase phase, std::int64_t step, Clock::time_point start, Clock::time_point end,
                   std::int32_t bucket, std::int64_t elements) noexcept {
  if (spans_.size() == capacity_) {
    ++dropped_;
    return;
  }
  const auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch());
  const auto duration = std::chrono::duration_cast<std::chrono::nanoseconds>(end - start);
  spans_.push_back({since_epoch.count(), duration.count(), step, elements, bucket, phase});
}

nlohmann::json Timeline::to_json() const {
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", rank_}, {"args", {{"name", "rank " + std::to_string(rank_)}}}});
  events.push_back({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", rank_}, {"args", {{"sort_index", rank_}}}});
  events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", rank_}, {"tid", loop_tid},
                    {"args", {{"name", "training loop"}}}});
  std::set<std::int32_t> buckets;
  for (const auto& s : spans_) {
    nlohmann::json e = {{"ph", "X"}, {"pid", rank_}, {"cat", category(s.phase)},
                        {"ts", microseconds(s.start_ns)}, {"dur", microseconds(s.duration_ns)}};
    nlohmann::json args = nlohmann::json::object();
    if (s.step >= 0) args["step"] = s.step;
    if (s.phase == StepPhase::allreduce) {
      e["name"] = "allreduce bucket " + std::to_string(s.bucket);
      e["tid"] = bucket_tid + s.bucket;
      args["bucket"] = s.bucket;
      args["elements"] = s.elements;
      args["bytes"] = s.elements * static_cast<std::int64_t>(sizeof(float));
      buckets.insert(s.bucket);
    } else {
      e["name"] = s.phase == StepPhase::step ? "step " + std::to_string(s.step) : std::string(to_string(s.phase));
      e["tid"] = loop_tid;
    }
    e["args"] = std::move(args);
    events.push_back(std::move(e));
  }
  for (const std::int32_t b : buckets) {
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", rank_}, {"tid", bucket_tid + b},
                      {"args", {{"name", "allreduce bucket " + std::to_string(b)}}}});
  }
  return {{"traceEvents", std::move(events)},
          {"displayTimeUnit", "ms"},
          {"otherData", {{"rank", rank_}, {"clock", "steady_clock"}, {"dropped_spans", dropped_}}}};
}

void Timeline::write(const std::filesystem::path& path) const {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);  // on any node
  base::write_text_atomically(path, to_json().dump() + '\n', base::Durability::renamed);
}

}  // namespace mpitrain::telemetry
