// RAPL zone discovery and counting on the fake powercap trees of tests/fixtures/powercap/. Expected
// joules are the hand-chosen counter advances (µJ / 10^6), compared exactly.
#include <gtest/gtest.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "mpitrain/energy/powercap.hpp"
#include "energy/powercap_fixture.hpp"

using namespace mpitrain::energy;
using mpitrain::test::add_energy_uj;
using mpitrain::test::copy_powercap_fixture;
using mpitrain::test::set_energy_uj;

namespace {

std::vector<std::string> labels(const RaplDiscovery& d) {
  std::vector<std::string> out;
  for (const auto& z : d.zones) out.push_back(z.label);
  return out;
}

bool any_contains(const std::vector<std::string>& texts, const std::string& part) {
  return std::any_of(texts.begin(), texts.end(), [&](const std::string& t) { return t.find(part) != std::string::npos; });
}

struct UnprivilegedRun {
  std::string output;  // what the function returned in the child
  std::string error;   // why the child could not run it (empty: it ran)
};

// Runs @p fn in a forked child without root's privileges (when this process is root: supplementary groups
// cleared, then setgid and setuid to the user nobody) and returns the text it returned, through a pipe.
UnprivilegedRun run_unprivileged(const std::function<std::string()>& fn) {
  const passwd* nobody = ::getpwnam("nobody");
  if (::geteuid() == 0 && nobody == nullptr) return {"", "no user 'nobody' to drop root privileges to"};
  const uid_t uid = nobody != nullptr ? nobody->pw_uid : 0;
  const gid_t gid = nobody != nullptr ? nobody->pw_gid : 0;
  int fds[2];
  if (::pipe(fds) != 0) return {"", std::string("pipe: ") + std::strerror(errno)};
  const pid_t pid = ::fork();
  if (pid < 0) return {"", std::string("fork: ") + std::strerror(errno)};
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) ::_exit(3);
    const std::string out = fn();
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) ::_exit(4);
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  UnprivilegedRun run;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) run.output.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    run.error = WIFEXITED(status) && WEXITSTATUS(status) == 3 ? "the child could not drop root privileges"
                                                              : "the child failed (status " + std::to_string(status) + ")";
  }
  return run;
}

}  // namespace

TEST(Powercap, OnePackageNeverAddsCoreOrUncore) {
  const auto root = copy_powercap_fixture("one_package", "one");
  const auto d = discover_rapl_zones(root, RaplDomain::package);
  EXPECT_EQ(labels(d), std::vector<std::string>{"package-0"});
  EXPECT_TRUE(d.cpu_measured);
  EXPECT_FALSE(d.ram_measured);  // no dram zone: RAM is estimated
  EXPECT_TRUE(any_contains(d.notes, "no dram zone"));
  EXPECT_EQ(d.zones[0].max_energy_range_uj, 262143328850u);
  RaplCounter counter(d.zones);
  counter.sample();
  add_energy_uj(root, "intel-rapl:0", 2'500'000);    // +2.5 J
  add_energy_uj(root, "intel-rapl:0:0", 2'000'000);  // core: part of the package, must not count
  add_energy_uj(root, "intel-rapl:0:1", 300'000);    // uncore: likewise
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::package), 2.5);
  EXPECT_EQ(counter.joules(ZoneKind::dram), 0.0);
  EXPECT_EQ(counter.samples(), 2);
}

TEST(Powercap, TwoPackagesWithDram) {
  const auto root = copy_powercap_fixture("two_packages_dram", "two");
  const auto d = discover_rapl_zones(root, RaplDomain::package);
  EXPECT_EQ(labels(d), (std::vector<std::string>{"package-0", "package-0/dram", "package-1", "package-1/dram"}));
  EXPECT_TRUE(d.cpu_measured);
  EXPECT_TRUE(d.ram_measured);
  RaplCounter counter(d.zones);
  counter.sample();
  add_energy_uj(root, "intel-rapl:0", 10'000'000);
  add_energy_uj(root, "intel-rapl:1", 20'000'000);
  add_energy_uj(root, "intel-rapl:0:0", 1'500'000);
  add_energy_uj(root, "intel-rapl:1:0", 2'250'000);
  add_energy_uj(root, "intel-rapl:0:1", 9'000'000);  // core
  counter.sample();
  add_energy_uj(root, "intel-rapl:1", 1'000'000);
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::package), 31.0);
  EXPECT_EQ(counter.joules(ZoneKind::dram), 3.75);
}

TEST(Powercap, CounterWrapsMidRun) {
  const auto root = copy_powercap_fixture("wraparound", "wrap");
  const auto d = discover_rapl_zones(root, RaplDomain::package);
  ASSERT_EQ(d.zones.size(), 1u);
  ASSERT_EQ(d.zones[0].max_energy_range_uj, 1'000'000'000u);
  RaplCounter counter(d.zones);
  counter.sample();                                   // 999 000 000 µJ
  set_energy_uj(root, "intel-rapl:0", 2'000'000);     // wrapped: 1 J to the top, then 2 J
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::package), 3.0);
  set_energy_uj(root, "intel-rapl:0", 3'000'000);
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::package), 4.0);
  // A reading beyond the range is skipped (flagged), never turned into a negative or huge delta.
  set_energy_uj(root, "intel-rapl:0", 1'500'000'000);
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::package), 4.0);
  EXPECT_TRUE(any_contains(counter.take_problems(), "exceeds max_energy_range_uj"));
  set_energy_uj(root, "intel-rapl:0", 4'000'000);
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::package), 5.0);
}

TEST(Powercap, EnergyDelta) {
  EXPECT_EQ(energy_delta_uj(100, 250, 1000), 150u);
  EXPECT_EQ(energy_delta_uj(900, 100, 1000), 200u);  // 1000 - 900 + 100
  EXPECT_EQ(energy_delta_uj(500, 500, 1000), 0u);
  EXPECT_EQ(energy_delta_uj(1200, 100, 1000), 0u);   // inconsistent reading
}

TEST(Powercap, SamplingPeriodPreventsDoubleWrap) {
  RaplZone small;
  small.max_energy_range_uj = 1'000'000'000;  // 1 kJ lasts 1 s at 1000 W: sample at least every 0.5 s
  EXPECT_DOUBLE_EQ(safe_sample_seconds({small}, 2.0), 0.5);
  RaplZone large;
  large.max_energy_range_uj = 262143328850;   // 262 kJ: 131 s, the requested 1 s stands
  EXPECT_DOUBLE_EQ(safe_sample_seconds({large}, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(safe_sample_seconds({large, small}, 1.0), 0.5);
  RaplZone tiny;
  tiny.max_energy_range_uj = 1000;            // 1 mJ: would need 0.5 µs; the period stops at 1 ms
  EXPECT_DOUBLE_EQ(safe_sample_seconds({tiny}, 1.0), rapl_min_sample_seconds);
}

TEST(Powercap, UnreadableRangeIsFlaggedAndSkipped) {
  const auto root = copy_powercap_fixture("unreadable_range", "range");
  const auto d = discover_rapl_zones(root, RaplDomain::package);
  EXPECT_EQ(labels(d), std::vector<std::string>{"package-0"});
  EXPECT_TRUE(d.cpu_measured);
  EXPECT_FALSE(d.ram_measured);
  ASSERT_EQ(d.flagged.size(), 1u);
  EXPECT_NE(d.flagged[0].find("intel-rapl:0:0/max_energy_range_uj"), std::string::npos) << d.flagged[0];
  EXPECT_NE(d.flagged[0].find("package-0/dram skipped"), std::string::npos) << d.flagged[0];
  RaplCounter counter(d.zones);
  counter.sample();
  add_energy_uj(root, "intel-rapl:0", 6'000'000);
  set_energy_uj(root, "intel-rapl:0:0", 1);  // the dram counter "went down": never a negative delta
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::package), 6.0);
  EXPECT_EQ(counter.joules(ZoneKind::dram), 0.0);

  // Without the package's range, the CPU is not measured at all (and the reason names the file).
  std::filesystem::remove(root / "intel-rapl:0" / "max_energy_range_uj");
  const auto none = discover_rapl_zones(root, RaplDomain::package);
  EXPECT_FALSE(none.cpu_measured);
  EXPECT_TRUE(none.zones.empty());
  EXPECT_NE(none.unavailable.find("intel-rapl:0/max_energy_range_uj"), std::string::npos) << none.unavailable;
}

TEST(Powercap, MirroredZonesCountOnce) {
  const auto root = copy_powercap_fixture("mirrored", "mirror");
  const auto d = discover_rapl_zones(root, RaplDomain::package);
  EXPECT_EQ(labels(d), (std::vector<std::string>{"package-0", "package-0/dram"}));
  ASSERT_EQ(d.zones.size(), 2u);
  EXPECT_EQ(d.zones[0].dir.filename(), "intel-rapl:0");  // the MSR copy is kept
  EXPECT_TRUE(any_contains(d.notes, "intel-rapl-mmio:0"));
  RaplCounter counter(d.zones);
  counter.sample();
  add_energy_uj(root, "intel-rapl:0", 7'000'000);  // one counter, seen through both interfaces
  add_energy_uj(root, "intel-rapl-mmio:0", 7'000'000);
  add_energy_uj(root, "intel-rapl:0:0", 500'000);
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::package), 7.0);
  EXPECT_EQ(counter.joules(ZoneKind::dram), 0.5);
}

TEST(Powercap, PsysOnlyWhenAsked) {
  const auto root = copy_powercap_fixture("psys", "psys");
  const auto package = discover_rapl_zones(root, RaplDomain::package);
  EXPECT_EQ(labels(package), (std::vector<std::string>{"package-0", "package-0/dram"}));
  EXPECT_FALSE(package.psys);
  const auto psys = discover_rapl_zones(root, RaplDomain::psys);
  EXPECT_EQ(labels(psys), std::vector<std::string>{"psys"});
  EXPECT_TRUE(psys.psys);
  EXPECT_TRUE(psys.cpu_measured);
  EXPECT_TRUE(psys.ram_measured);  // contained in psys
  RaplCounter counter(psys.zones);
  counter.sample();
  add_energy_uj(root, "intel-rapl:1", 9'000'000);
  add_energy_uj(root, "intel-rapl:0", 5'000'000);
  add_energy_uj(root, "intel-rapl:0:0", 1'000'000);
  counter.sample();
  EXPECT_EQ(counter.joules(ZoneKind::psys), 9.0);
  EXPECT_EQ(counter.joules(ZoneKind::package), 0.0);

  // psys asked for but absent: the package is read, with a warning.
  const auto fallback = discover_rapl_zones(copy_powercap_fixture("one_package", "psys_absent"), RaplDomain::psys);
  EXPECT_EQ(labels(fallback), std::vector<std::string>{"package-0"});
  EXPECT_TRUE(any_contains(fallback.flagged, "no psys zone"));
  EXPECT_THROW(parse_rapl_domain("core"), std::invalid_argument);
}

// root runs the tests in CI and here, and chmod 000 does not stop root: EACCES comes through the
// FileReader seam, exactly as open(2) reports it on Linux >= 5.10 for a non-root user.
TEST(Powercap, PermissionDeniedSaysWhyAndHow) {
  const auto root = copy_powercap_fixture("permission_denied", "perm");
  const FileReader denied = [](const std::filesystem::path& p) {
    if (p.filename() == "energy_uj") return FileRead{"", EACCES};
    return read_small_file(p);
  };
  const auto d = discover_rapl_zones(root, RaplDomain::package, denied);
  EXPECT_FALSE(d.cpu_measured);
  EXPECT_FALSE(d.ram_measured);
  EXPECT_TRUE(d.zones.empty());
  EXPECT_NE(d.unavailable.find("intel-rapl:0/energy_uj: permission denied"), std::string::npos) << d.unavailable;
  EXPECT_NE(d.unavailable.find("Linux 5.10"), std::string::npos);
  EXPECT_NE(d.unavailable.find("chmod o+r"), std::string::npos);
}

// The same through the real file system: a child process reads a tree whose energy_uj is mode 000, as the
// user nobody when the tests run as root (chmod does not deny root, and setuid from root drops every
// capability), else as the user running the tests.
TEST(Powercap, PermissionDeniedForReal) {
  const auto root = copy_powercap_fixture("permission_denied", "perm_real");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    std::filesystem::permissions(entry.path(), entry.is_directory() ? std::filesystem::perms(0755)
                                                                    : std::filesystem::perms(0644));
  }
  std::filesystem::permissions(root, std::filesystem::perms(0755));
  ASSERT_EQ(::chmod((root / "intel-rapl:0" / "energy_uj").c_str(), 0), 0);
  const UnprivilegedRun run = run_unprivileged([&] {
    const auto d = discover_rapl_zones(root, RaplDomain::package);
    return std::string(d.cpu_measured ? "measured" : "unmeasured") + "\n" + d.unavailable;
  });
  ASSERT_TRUE(run.error.empty()) << run.error;
  EXPECT_TRUE(run.output.starts_with("unmeasured\n")) << run.output;
  EXPECT_NE(run.output.find("intel-rapl:0/energy_uj: permission denied"), std::string::npos) << run.output;
}

TEST(Powercap, AbsentRootSaysWhyAndHow) {
  const auto d = discover_rapl_zones("/nonexistent/mpitrain/powercap", RaplDomain::package);
  EXPECT_FALSE(d.cpu_measured);
  EXPECT_NE(d.unavailable.find("/nonexistent/mpitrain/powercap does not exist"), std::string::npos);
  EXPECT_NE(d.unavailable.find("modprobe intel_rapl_msr"), std::string::npos);
}

TEST(Powercap, ParseUint64) {
  std::uint64_t v = 0;
  EXPECT_TRUE(parse_uint64(" 262143328850\n", v));
  EXPECT_EQ(v, 262143328850u);
  EXPECT_FALSE(parse_uint64("", v));
  EXPECT_FALSE(parse_uint64("-5", v));
  EXPECT_FALSE(parse_uint64("12x", v));
}
