#include "mpitrain/guard/fault_injection.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/algorithm/string.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace mpitrain::guard {

namespace {

FaultKind parse_kind(const std::string& name) {
  if (name == "throw") return FaultKind::throw_error;
  if (name == "abort") return FaultKind::abort;
  if (name == "nan") return FaultKind::nan;
  if (name == "hang") return FaultKind::hang;
  if (name == "sigterm") return FaultKind::sigterm;
  if (name == "kill") return FaultKind::kill;
  if (name == "desync") return FaultKind::desync;
  if (name == "kill_in_checkpoint") return FaultKind::kill_in_checkpoint;
  throw std::invalid_argument("MPITRAIN_FAULT: unknown kind '" + name + "'");
}

template <class T>
T parse_number(const std::string& text, const std::string& item) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
    throw std::invalid_argument("MPITRAIN_FAULT: bad item '" + item + "' (expected KIND@RANK:STEP)");
  }
  return value;
}

}  // namespace

FaultPlan FaultPlan::from_environment() {
  const char* env = std::getenv("MPITRAIN_FAULT");
  return FaultPlan(env == nullptr ? std::vector<Fault>{} : parse_faults(env));
}

FaultKind FaultPlan::lookup(int rank, std::int64_t step, bool checkpoint) const {
  for (const auto& f : faults_) {
    if (f.rank == rank && f.step == step && (f.kind == FaultKind::kill_in_checkpoint) == checkpoint) return f.kind;
  }
  return FaultKind::none;
}

std::vector<Fault> parse_faults(const std::string& text) {
  std::vector<Fault> faults;
  std::vector<std::string> items;
  boost::algorithm::split(items, text, boost::algorithm::is_any_of(","));
  for (const std::string& item : items) {
    if (item.empty()) continue;
    const auto at = item.find('@');
    const auto colon = item.find(':', at == std::string::npos ? 0 : at);
    if (at == std::string::npos || colon == std::string::npos) {
      throw std::invalid_argument("MPITRAIN_FAULT: bad item '" + item + "' (expected KIND@RANK:STEP)");
    }
    faults.push_back({parse_kind(item.substr(0, at)), parse_number<int>(item.substr(at + 1, colon - at - 1), item),
                      parse_number<std::int64_t>(item.substr(colon + 1), item)});
  }
  return faults;
}

FaultKind FaultPlan::at_step(int rank, std::int64_t step) const {
  switch (lookup(rank, step, false)) {
    case FaultKind::throw_error:
      throw std::runtime_error("injected fault (MPITRAIN_FAULT) at step " + std::to_string(step));
    case FaultKind::abort: std::abort();
    case FaultKind::hang:
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    case FaultKind::sigterm: raise(SIGTERM); return FaultKind::none;
    case FaultKind::kill: kill(getpid(), SIGKILL); return FaultKind::none;
    case FaultKind::nan: return FaultKind::nan;
    case FaultKind::desync: return FaultKind::desync;
    default: return FaultKind::none;
  }
}

void FaultPlan::in_checkpoint(int rank, std::int64_t step) const {
  if (lookup(rank, step, true) == FaultKind::kill_in_checkpoint) kill(getpid(), SIGKILL);
}

}  // namespace mpitrain::guard
