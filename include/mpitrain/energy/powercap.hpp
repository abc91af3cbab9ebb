#pragma once
/// @file powercap.hpp
/// Energy counters of the Linux powercap framework (Intel RAPL, also used for AMD Zen): zone discovery
/// under a root directory, counter reads, and wraparound. Pure functions over a directory, so tests run
/// them on fake trees.
///
/// Layout (Documentation/power/powercap/powercap.rst in the Linux sources): the root (default
/// `/sys/class/powercap`) lists every zone flat, named `<control type>:<i>` (top level) or
/// `<control type>:<i>:<j>` (subzone of `<control type>:<i>`). Each zone directory holds `name`
/// (`package-0`, `dram`, `core`, `uncore`, `psys`), `energy_uj` (a counter in microjoules that wraps to 0
/// after `max_energy_range_uj`) and `max_energy_range_uj`.
///
/// What is counted:
/// - domain `package`: the top-level `package-N` zones (CPU energy) and their `dram` subzones (RAM energy).
///   `core` and `uncore` subzones are never added: they are parts of their package's counter.
/// - domain `psys`: the platform zone `psys` alone (it already contains package and DRAM energy); used only
///   when asked for, falling back to `package` when absent.
/// - Duplicates are dropped: two entries resolving to the same directory, and mirrors of one counter
///   exposed by two control types (e.g. `intel-rapl-mmio:0` beside `intel-rapl:0`, both `package-0`). Zones
///   are identified by their names (`package-0`, `package-0/dram`); the `intel-rapl` (MSR) copy is kept.
/// - A component (CPU, RAM) is measured only if every one of its zones can be read, including
///   `max_energy_range_uj` (needed for wraparound); otherwise all its zones are dropped, flagged, and the
///   component is estimated instead: a partly read machine would under-count while claiming "measured".

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace mpitrain::energy {

/// Which powercap zones to read (config key `energy.rapl_domain`).
enum class RaplDomain { package, psys };

/// Parses `package` or `psys`. @throws std::invalid_argument naming `energy.rapl_domain` otherwise.
RaplDomain parse_rapl_domain(const std::string& text);

/// What a zone's counter measures.
enum class ZoneKind { package, dram, psys };

/// The content of a small file, or the errno of the failed open/read.
struct FileRead {
  std::string text;  ///< The bytes read (empty on error).
  int error = 0;     ///< 0 on success, else an errno value (ENOENT, EACCES, EISDIR, ...).
};

/// Reads a whole file (sysfs files are small). A seam for tests: a FileReader can fail on purpose, for
/// example with EACCES, which `chmod 000` cannot produce when the tests run as root.
using FileReader = std::function<FileRead(const std::filesystem::path&)>;

/// The default FileReader: POSIX open and read, errno on failure.
FileRead read_small_file(const std::filesystem::path& path);

/// One counter to read.
struct RaplZone {
  std::filesystem::path dir;            ///< The zone's directory, e.g. `<root>/intel-rapl:0:2`.
  std::string label;                    ///< `package-0`, `package-0/dram`, `psys`.
  ZoneKind kind = ZoneKind::package;
  std::uint64_t max_energy_range_uj = 0;  ///< Counter range (µJ); the counter wraps to 0 after it.
};

/// The result of discover_rapl_zones.
struct RaplDiscovery {
  std::vector<RaplZone> zones;      ///< Zones to read, sorted by label.
  bool cpu_measured = false;        ///< Package (or psys) energy is measured.
  bool ram_measured = false;        ///< DRAM energy is measured (psys: contained in the psys counter).
  bool psys = false;                ///< The zones are the psys zone (domain psys).
  std::vector<std::string> flagged; ///< Zones skipped because a file could not be read: path and reason.
  std::vector<std::string> notes;   ///< Duplicates dropped and other information: path and reason.
  std::string unavailable;          ///< When !cpu_measured: why, and how to enable the counters.
};

/// Finds the zones to read under @p root for @p domain and checks that each can be read.
/// Never throws for a missing or unreadable tree: the reason is in RaplDiscovery::unavailable (a missing
/// root: no RAPL, e.g. a virtual machine; EACCES: `energy_uj` is root-only since Linux 5.10).
RaplDiscovery discover_rapl_zones(const std::filesystem::path& root, RaplDomain domain,
                                  const FileReader& read = read_small_file);

/// The energy (µJ) between two readings of a counter with range @p max_range_uj, assuming at most one
/// wraparound in between: `current - previous`, or `max_range_uj - previous + current` when the counter
/// went down (it passed its maximum and restarted at 0). Returns 0 when a reading exceeds the range
/// (inconsistent, never a negative or huge delta).
std::uint64_t energy_delta_uj(std::uint64_t previous, std::uint64_t current, std::uint64_t max_range_uj);

/// The highest power (W) one zone is assumed to draw when choosing the sampling period: a package of
/// today's CPUs draws at most about 500 W; twice that leaves a margin.
inline constexpr double rapl_assumed_peak_watts = 1000.0;

/// The shortest sampling period (s): a zone with a smaller range than this allows cannot be followed.
inline constexpr double rapl_min_sample_seconds = 0.001;

/// The sampling period (s): @p requested_seconds, shortened so that no zone can wrap twice between
/// samples: at most half the time the smallest range lasts at rapl_assumed_peak_watts,
/// (range_uj · 1e-6 J) / 1000 W / 2; never below rapl_min_sample_seconds.
double safe_sample_seconds(const std::vector<RaplZone>& zones, double requested_seconds);

/// Accumulates the energy of a set of zones over repeated samples. Thread-safe: a sampling thread and the
/// training thread may call sample() concurrently.
class RaplCounter {
 public:
  /// @param zones from discover_rapl_zones. @param read the FileReader (tests inject faults).
  explicit RaplCounter(std::vector<RaplZone> zones, FileReader read = read_small_file);

  /// Reads every zone once and adds the energy since the previous sample (the first sample of a zone is
  /// its baseline). A failed or out-of-range reading is recorded as a problem and skipped: the next good
  /// reading covers the gap (at most one wraparound).
  void sample();
  /// Energy (J) of zones of @p kind since their baselines.
  [[nodiscard]] double joules(ZoneKind kind) const;
  /// Number of sample() calls so far.
  [[nodiscard]] std::int64_t samples() const;
  /// Problems since the last call (path and reason), then cleared.
  [[nodiscard]] std::vector<std::string> take_problems();
  [[nodiscard]] const std::vector<RaplZone>& zones() const { return zones_; }

 private:
  std::vector<RaplZone> zones_;
  FileReader read_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> last_uj_;      // per zone: last good reading
  std::vector<bool> has_last_;              // per zone: baseline taken
  std::vector<std::uint64_t> total_uj_;     // per zone: accumulated energy
  std::int64_t samples_ = 0;
  std::vector<std::string> problems_;
};

/// Parses a non-negative decimal integer with optional surrounding whitespace (a sysfs value).
/// @return false if @p text is anything else.
bool parse_uint64(const std::string& text, std::uint64_t& value);

}  // namespace mpitrain::energy
