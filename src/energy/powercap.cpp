#include "mpitrain/energy/powercap.hpp"

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <unistd.h>

#include <algorithm>
#include <boost/algorithm/string/classification.hpp>
#include <boost/algorithm/string/trim.hpp>
#include <charconv>
#include <map>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace fs = std::filesystem;

namespace mpitrain::energy {

namespace {

constexpr const char* enable_hint =
    "virtual machines, containers without /sys and non-x86 CPUs have none; on bare-metal Intel or AMD Linux "
    "load the driver with `sudo modprobe intel_rapl_msr`";

std::string errno_text(int error) { return std::generic_category().message(error); }

bool permission_error(int error) { return error == EACCES || error == EPERM; }

std::string permission_message(const fs::path& file, const fs::path& root) {
  return fmt::format(
      "{}: permission denied: energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694, the "
      "Platypus attack); run as root, or let users read it until the next boot with "
      "`sudo chmod o+r {}/*/energy_uj` (a udev rule or tmpfiles.d entry makes it permanent)",
      file.string(), root.string());
}

// A zone directory found under the root, before selection.
struct Entry {
  fs::path dir;
  std::string file;          // e.g. intel-rapl:0:2
  std::string control_type;  // e.g. intel-rapl
  std::string parent_file;   // e.g. intel-rapl:0 (subzones only)
  int depth = 0;             // 1: top-level zone, 2: subzone
  std::string name;          // content of `name`
};

// Parses `<type>:<i>` or `<type>:<i>:<j>`; false for anything else (the control-type directory itself).
bool parse_zone_file(const std::string& file, Entry& entry) {
  const auto colon = file.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  entry.file = file;
  entry.control_type = file.substr(0, colon);
  std::size_t pos = colon;
  int depth = 0;
  while (pos != std::string::npos) {
    const auto next = file.find(':', pos + 1);
    const std::string index = file.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    if (index.empty() || !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    if (depth == 1) entry.parent_file = file.substr(0, pos);
    ++depth;
    pos = next;
  }
  entry.depth = depth;
  return depth == 1 || depth == 2;
}

std::string trimmed(const std::string& text) {
  return boost::algorithm::trim_copy_if(text, boost::algorithm::is_any_of(" \t\r\n"));
}

// The intel-rapl (MSR) copy of a mirrored counter is preferred, then the lowest file name.
bool preferred(const Entry& a, const Entry& b) {
  const bool a_msr = a.control_type == "intel-rapl", b_msr = b.control_type == "intel-rapl";
  if (a_msr != b_msr) return a_msr;
  return a.file < b.file;
}

// Reads a counter file that must hold a positive (range) or non-negative (energy) integer into @p value;
// returns the error naming the file, empty when fine.
std::string check_value(const FileReader& read, const fs::path& file, const fs::path& root, bool positive,
                        std::uint64_t& value) {
  const FileRead r = read(file);
  if (r.error != 0) {
    return permission_error(r.error) ? permission_message(file, root)
                                     : fmt::format("{}: {}", file.string(), errno_text(r.error));
  }
  if (!parse_uint64(r.text, value) || (positive && value == 0)) {
    return fmt::format("{}: not a {} integer: '{}'", file.string(), positive ? "positive" : "non-negative",
                       trimmed(r.text));
  }
  return {};
}

}  // namespace

RaplDomain parse_rapl_domain(const std::string& text) {
  if (text == "package") return RaplDomain::package;
  if (text == "psys") return RaplDomain::psys;
  throw std::invalid_argument("energy.rapl_domain must be package or psys, not '" + text + "'");
}

FileRead read_small_file(const fs::path& path) {
  FileRead result;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    result.error = errno;
    return result;
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      result.error = errno;
      result.text.clear();
      break;
    }
    if (n == 0) break;
    result.text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return result;
}

bool parse_uint64(const std::string& text, std::uint64_t& value) {
  const std::string t = trimmed(text);
  if (t.empty()) return false;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  return ec == std::errc() && end == t.data() + t.size();
}

RaplDiscovery discover_rapl_zones(const fs::path& root, RaplDomain domain, const FileReader& read) {
  RaplDiscovery result;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    result.unavailable = fmt::format("{} does not exist: no RAPL energy counters ({})", root.string(), enable_hint);
    return result;
  }
  std::vector<Entry> entries;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    Entry e;
    if (!parse_zone_file(it->path().filename().string(), e) || !fs::is_directory(it->path(), ec)) continue;
    e.dir = it->path();
    const FileRead name = read(e.dir / "name");
    if (name.error != 0) {
      result.notes.push_back(fmt::format("{}: {}; zone ignored", (e.dir / "name").string(), errno_text(name.error)));
      continue;
    }
    e.name = trimmed(name.text);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), preferred);
  std::map<std::string, std::string> name_of_file;
  for (const auto& e : entries) name_of_file[e.file] = e.name;

  // Classify; keep the first (preferred) entry of each label: the others mirror the same counter.
  std::map<std::string, const Entry*> kept;
  std::vector<RaplZone> packages, drams, psys;
  for (const auto& e : entries) {
    RaplZone zone;
    zone.dir = e.dir;
    if (e.depth == 1 && e.name.rfind("package-", 0) == 0) {
      zone.kind = ZoneKind::package;
      zone.label = e.name;
    } else if (e.depth == 1 && e.name == "psys") {
      zone.kind = ZoneKind::psys;
      zone.label = e.name;
    } else if (e.depth == 2 && e.name == "dram") {
      const auto parent = name_of_file.find(e.parent_file);
      if (parent == name_of_file.end()) {
        result.notes.push_back(fmt::format("{}: dram zone without its parent {}; ignored", e.dir.string(), e.parent_file));
        continue;
      }
      zone.kind = ZoneKind::dram;
      zone.label = parent->second + "/dram";
    } else {
      continue;  // core and uncore are parts of their package; other names are not counted
    }
    const auto [it, inserted] = kept.emplace(zone.label, &e);
    if (!inserted) {
      result.notes.push_back(fmt::format("{} ({}) mirrors {}: the same counter, dropped", e.dir.string(), zone.label,
                                         it->second->dir.string()));
      continue;
    }
    (zone.kind == ZoneKind::package ? packages : zone.kind == ZoneKind::dram ? drams : psys).push_back(zone);
  }

  std::vector<RaplZone>* cpu = &packages;
  if (domain == RaplDomain::psys) {
    if (!psys.empty()) {
      cpu = &psys;
      result.psys = true;
    } else {
      result.flagged.push_back(fmt::format("energy.rapl_domain = psys but {} has no psys zone; reading the package "
                                           "and dram zones instead", root.string()));
    }
  }
  if (cpu->empty()) {
    result.unavailable = fmt::format("no RAPL package zone under {}{} ({})", root.string(),
                                     psys.empty() ? "" : "; a psys zone is present: set energy.rapl_domain = psys to use it",
                                     enable_hint);
    if (!drams.empty()) result.notes.push_back("dram zones without a package zone are not read");
    return result;
  }
  // A component counts only if all its zones read; otherwise it is dropped whole (see the header).
  const auto usable = [&](std::vector<RaplZone>& zones, std::string& first_error) {
    for (auto& z : zones) {
      std::uint64_t energy = 0;
      std::string error = check_value(read, z.dir / "max_energy_range_uj", root, true, z.max_energy_range_uj);
      if (error.empty()) error = check_value(read, z.dir / "energy_uj", root, false, energy);
      if (!error.empty()) {
        result.flagged.push_back(error + "; zone " + z.label + " skipped");
        if (first_error.empty()) first_error = error;
      }
    }
    return first_error.empty();
  };
  std::string cpu_error, dram_error;
  if (usable(*cpu, cpu_error)) {
    result.cpu_measured = true;
    result.zones = *cpu;
  } else {
    result.unavailable = cpu_error;
  }
  if (result.psys) {
    result.ram_measured = result.cpu_measured;
  } else if (drams.empty()) {
    result.notes.push_back(fmt::format("no dram zone under {}: RAM energy is estimated", root.string()));
  } else if (usable(drams, dram_error)) {
    result.ram_measured = true;
    result.zones.insert(result.zones.end(), drams.begin(), drams.end());
  }
  std::sort(result.zones.begin(), result.zones.end(),
            [](const RaplZone& a, const RaplZone& b) { return a.label < b.label; });
  return result;
}

std::uint64_t energy_delta_uj(std::uint64_t previous, std::uint64_t current, std::uint64_t max_range_uj) {
  if (previous > max_range_uj || current > max_range_uj) return 0;
  return current >= previous ? current - previous : max_range_uj - previous + current;
}

double safe_sample_seconds(const std::vector<RaplZone>& zones, double requested_seconds) {
  double seconds = requested_seconds;
  for (const auto& z : zones) {
    const double wrap_seconds = static_cast<double>(z.max_energy_range_uj) * 1e-6 / rapl_assumed_peak_watts;
    seconds = std::min(seconds, wrap_seconds / 2.0);
  }
  return std::max(seconds, rapl_min_sample_seconds);
}

RaplCounter::RaplCounter(std::vector<RaplZone> zones, FileReader read)
    : zones_(std::move(zones)),
      read_(std::move(read)),
      last_uj_(zones_.size(), 0),
      has_last_(zones_.size(), false),
      total_uj_(zones_.size(), 0) {}

void RaplCounter::sample() {
  std::lock_guard lock(mutex_);
  ++samples_;
  constexpr std::size_t max_problems = 32;
  const auto problem = [&](std::string text) {
    if (problems_.size() < max_problems) problems_.push_back(std::move(text));
  };
  for (std::size_t i = 0; i < zones_.size(); ++i) {
    const auto file = zones_[i].dir / "energy_uj";
    const FileRead r = read_(file);
    std::uint64_t value = 0;
    if (r.error != 0) {
      problem(fmt::format("{}: {}", file.string(), errno_text(r.error)));
      continue;
    }
    if (!parse_uint64(r.text, value)) {
      problem(fmt::format("{}: not an integer: '{}'", file.string(), trimmed(r.text)));
      continue;
    }
    if (value > zones_[i].max_energy_range_uj) {
      problem(fmt::format("{}: {} exceeds max_energy_range_uj {}; reading skipped", file.string(), value,
                          zones_[i].max_energy_range_uj));
      continue;
    }
    if (has_last_[i]) total_uj_[i] += energy_delta_uj(last_uj_[i], value, zones_[i].max_energy_range_uj);
    last_uj_[i] = value;
    has_last_[i] = true;
  }
}

double RaplCounter::joules(ZoneKind kind) const {
  std::lock_guard lock(mutex_);
  std::uint64_t uj = 0;
  for (std::size_t i = 0; i < zones_.size(); ++i) {
    if (zones_[i].kind == kind) uj += total_uj_[i];
  }
  return static_cast<double>(uj) / 1e6;  // exact for whole numbers of joules
}

std::int64_t RaplCounter::samples() const {
  std::lock_guard lock(mutex_);
  return samples_;
}

std::vector<std::string> RaplCounter::take_problems() {
  std::lock_guard lock(mutex_);
  return std::exchange(problems_, {});
}

}  // namespace mpitrain::energy
