#pragma once
/// @file resource_usage.hpp
/// What this process used (CPU time, peak memory) and what its machine has, for the energy estimate and
/// the emissions report. Linux only.

#include <string>

namespace mpitrain::base {

/// User plus system CPU time (s) of this process, all its threads, since it started (getrusage
/// RUSAGE_SELF).
double process_cpu_seconds();

/// Peak resident set size (bytes) of this process since it started (getrusage ru_maxrss, which Linux
/// gives in KiB).
double peak_rss_bytes();

/// Facts about this machine.
struct HostInfo {
  std::string cpu_model;       ///< `model name` of the first processor in /proc/cpuinfo; empty if absent.
  int cpus_online = 1;         ///< Logical CPUs online (sysconf _SC_NPROCESSORS_ONLN), >= 1.
  double ram_total_bytes = 0;  ///< Physical memory (bytes): _SC_PHYS_PAGES · _SC_PAGESIZE.
  std::string os;              ///< `<sysname>-<release>-<machine>` from uname, e.g. `Linux-6.1.0-x86_64`.
};

/// Reads HostInfo; fields that cannot be read keep their defaults.
HostInfo host_info();

}  // namespace mpitrain::base
