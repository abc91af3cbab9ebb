#include "mpitrain/checkpoint/lineage.hpp"

#include <boost/algorithm/string/split.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <charconv>
#include <stdexcept>

namespace mpitrain::checkpoint {

namespace {

void check_id(const std::string& id) {
  if (id.find_first_of(",@") != std::string::npos) {
    throw std::invalid_argument("lineage: session id '" + id + "' contains ',' or '@'");
  }
}

}  // namespace

Lineage Lineage::fresh(std::string session_id) {
  check_id(session_id);
  return Lineage({{std::move(session_id), 0}});
}

Lineage Lineage::parse(const std::string& text) {
  if (text.empty()) return Lineage({{"", 0}});  // written before lineages existed
  std::vector<std::string> entries;
  boost::algorithm::split(entries, text, [](char c) { return c == ','; });
  std::vector<Session> sessions;
  for (const auto& entry : entries) {
    const auto at = entry.rfind('@');
    if (at == std::string::npos) throw std::invalid_argument("lineage '" + text + "': entry '" + entry + "' has no '@'");
    Session s{entry.substr(0, at), 0};
    const char* first = entry.data() + at + 1;
    const char* last = entry.data() + entry.size();
    const auto [end, ec] = std::from_chars(first, last, s.from_step);
    if (ec != std::errc() || end != last || first == last || s.from_step < 0) {
      throw std::invalid_argument("lineage '" + text + "': step of entry '" + entry + "' is not a non-negative integer");
    }
    if (!sessions.empty() && s.from_step < sessions.back().from_step) {
      throw std::invalid_argument("lineage '" + text + "': steps decrease at entry '" + entry + "'");
    }
    check_id(s.id);
    sessions.push_back(std::move(s));
  }
  return Lineage(std::move(sessions));
}

Lineage Lineage::resumed(std::string session_id, std::int64_t step) const {
  check_id(session_id);
  if (step < current().from_step) {
    throw std::invalid_argument("lineage: resuming at step " + std::to_string(step) + ", before the step " +
                                std::to_string(current().from_step) + " the last session started from");
  }
  std::vector<Session> sessions = sessions_;
  sessions.push_back({std::move(session_id), step});
  return Lineage(std::move(sessions));
}

std::string Lineage::text() const {
  if (sessions_.size() == 1 && sessions_.front().id.empty()) return "";
  std::string out;
  for (const auto& s : sessions_) out += (out.empty() ? "" : ",") + s.id + "@" + std::to_string(s.from_step);
  return out;
}

bool Lineage::contains(const Lineage& written_by, std::int64_t step) const {
  const std::string& writer = written_by.current().id;
  for (std::size_t i = 0; i < sessions_.size(); ++i) {
    if (sessions_[i].id != writer) continue;
    const bool after_start = step >= sessions_[i].from_step;
    const bool before_branch = i + 1 == sessions_.size() || step <= sessions_[i + 1].from_step;
    return after_start && before_branch;
  }
  return false;
}

std::string new_session_id() {
  static thread_local boost::uuids::random_generator generate;
  return boost::uuids::to_string(generate());
}

}  // namespace mpitrain::checkpoint
