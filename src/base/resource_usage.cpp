#include "mpitrain/base/resource_usage.hpp"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

namespace mpitrain::base {

namespace {
double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; }
}  // namespace

double process_cpu_seconds() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
}

double peak_rss_bytes() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<double>(usage.ru_maxrss) * 1024.0;
}

HostInfo host_info() {
  HostInfo info;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      const auto begin = line.find_first_not_of(" \t", colon + 1);
      info.cpu_model = begin == std::string::npos ? std::string() : line.substr(begin);
    }
    break;
  }
  if (const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN); cpus > 0) info.cpus_online = static_cast<int>(cpus);
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) info.ram_total_bytes = static_cast<double>(pages) * static_cast<double>(page_size);
  utsname names{};
  if (::uname(&names) == 0) {
    info.os = std::string(names.sysname) + "-" + names.release + "-" + names.machine;
  }
  return info;
}

}  // namespace mpitrain::base
