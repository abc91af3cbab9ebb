// EnergyMonitor under mpirun -np 3: one counter reader per node, nodes summed, the estimate when no
// counter exists, and the reports. Counters are fake powercap trees advanced by known amounts.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "common/mpi_gtest.hpp"
#include "mpitrain/energy/energy_estimate.hpp"
#include "mpitrain/energy/energy_monitor.hpp"
#include "mpitrain/base/resource_usage.hpp"
#include "energy/powercap_fixture.hpp"

using namespace mpitrain;
using namespace mpitrain::energy;

namespace {
using mpitrain::test::world;

// A run directory shared by all ranks (rank 0's pid in the name).
std::filesystem::path shared_dir(const std::string& tag) {
  std::int64_t pid = ::getpid();
  world->broadcast(std::span<std::int64_t>(&pid, 1), 0);
  const auto dir = std::filesystem::temp_directory_path() / ("mpitrain_energy_" + tag + "_" + std::to_string(pid));
  if (world->rank() == 0) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    test::remove_at_exit.paths.push_back(dir);
  }
  world->barrier();
  return dir;
}

// Copies a fixture on rank 0 and returns its path on every rank.
std::filesystem::path shared_fixture(const std::string& name, const std::string& tag) {
  std::string path;
  if (world->rank() == 0) path = test::copy_powercap_fixture(name, tag).string();
  world->broadcast(path, 0);
  return path;
}

// The two_packages_dram tree advanced by k · (10 J, 20 J, 1.5 J, 2.25 J): k · 33.75 J, 7.5 J of them DRAM.
void advance_two_packages(const std::filesystem::path& root, std::uint64_t k) {
  test::add_energy_uj(root, "intel-rapl:0", k * 10'000'000);
  test::add_energy_uj(root, "intel-rapl:1", k * 20'000'000);
  test::add_energy_uj(root, "intel-rapl:0:0", k * 1'500'000);
  test::add_energy_uj(root, "intel-rapl:1:0", k * 2'250'000);
  test::add_energy_uj(root, "intel-rapl:0:1", k * 5'000'000);  // core: never counted
}

config::EnergyConfig energy_config(const std::filesystem::path& root) {
  config::EnergyConfig c;
  c.powercap_root = root.string();
  c.sample_seconds = 0.02;
  c.pue = 1.5;
  c.predict_after_steps = 0;
  return c;
}

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}
}  // namespace

TEST(EnergyMonitor, ThreeRanksOnOneNodeReadTheCountersOnce) {
  const auto root = shared_fixture("two_packages_dram", "once");
  const auto run_dir = shared_dir("once");
  EnergyMonitor monitor(energy_config(root), *world);
  monitor.start();
  world->barrier();
  if (world->rank() == 0) advance_two_packages(root, 1);
  world->barrier();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the sampling thread run too
  const auto epoch = monitor.epoch_end(100);
  EXPECT_EQ(epoch["energy_joules"].get<double>(), 33.75);  // not 3 × 33.75: one reader
  EXPECT_EQ(epoch["joules_per_sample"].get<double>(), 0.3375);
  EXPECT_EQ(epoch["energy_method"], "measured");
  world->barrier();
  if (world->rank() == 0) advance_two_packages(root, 2);
  world->barrier();
  EXPECT_EQ(monitor.epoch_end(50)["energy_joules"].get<double>(), 67.5);

  const auto e = monitor.finish(150, run_dir, "once");
  EXPECT_EQ(e["method"], "measured");
  EXPECT_EQ(e["nodes"], 1);
  EXPECT_EQ(e["ranks"], 3);
  EXPECT_DOUBLE_EQ(e["cpu_energy_kwh"].get<double>(), 90.0 / 3.6e6);
  EXPECT_DOUBLE_EQ(e["ram_energy_kwh"].get<double>(), 11.25 / 3.6e6);
  EXPECT_DOUBLE_EQ(e["facility_energy_kwh"].get<double>(), 101.25 * 1.5 / 3.6e6);
  EXPECT_DOUBLE_EQ(e["co2e_kg"].get<double>(), 101.25 * 1.5 / 3.6e6 * 475.0 / 1000.0);
  EXPECT_DOUBLE_EQ(e["joules_per_sample"].get<double>(), 101.25 / 150);
  if (world->rank() == 0) {
    const auto lines = lines_of(run_dir / "emissions.csv");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].substr(0, 25), "timestamp,project_name,ru");
    EXPECT_NE(lines[1].find(",machine,N,1.5,measured,1,3,150,0.675"), std::string::npos) << lines[1];
  }
}

TEST(EnergyMonitor, TwoSimulatedNodesAreSummed) {
  // MPITRAIN_NODE_ID splits the machine: rank 0 is node "a" (its own tree), ranks 1 and 2 node "b".
  const auto tree_a = shared_fixture("two_packages_dram", "node_a");
  const auto tree_b = shared_fixture("two_packages_dram", "node_b");
  ::setenv(node_id_env, world->rank() == 0 ? "a" : "b", 1);
  const auto run_dir = shared_dir("nodes");
  {
    EnergyMonitor monitor(energy_config(world->rank() == 0 ? tree_a : tree_b), *world);
    monitor.start();
    world->barrier();
    if (world->rank() == 0) {
      advance_two_packages(tree_a, 1);  // 33.75 J
      advance_two_packages(tree_b, 2);  // 67.5 J, read by rank 1 only (rank 2 reading too would add 67.5)
    }
    world->barrier();
    const auto epoch = monitor.epoch_end(10);
    EXPECT_EQ(epoch["energy_joules"].get<double>(), 101.25);
    const auto e = monitor.finish(10, run_dir, "nodes");
    EXPECT_EQ(e["nodes"], 2);
    EXPECT_EQ(e["measured"]["nodes_cpu"], 2);
    EXPECT_DOUBLE_EQ(e["ram_energy_kwh"].get<double>(), 11.25 / 3.6e6);
  }
  ::unsetenv(node_id_env);
}

TEST(EnergyMonitor, EstimatesWithOneWarningWhenNoCounters) {
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", ring));
  spdlog::set_level(spdlog::level::info);
  const auto run_dir = shared_dir("estimate");
  auto config = energy_config("/nonexistent/mpitrain/powercap");
  config.pue = 1.0;
  config.predict_after_steps = 10;
  EnergyMonitor monitor(config, *world);
  const double cpu_before = base::process_cpu_seconds();
  monitor.start();
  for (std::int64_t step = 1; step <= 20; ++step) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(10);
    volatile double sink = 0;
    while (std::chrono::steady_clock::now() < until) sink = sink + 1.0;  // busy: CPU time to estimate
    monitor.after_step(step, 40);
  }
  const double my_cpu = base::process_cpu_seconds() - cpu_before;
  const auto e = monitor.finish(1000, run_dir, "estimate");
  spdlog::set_default_logger(previous);

  EXPECT_EQ(e["method"], "estimated");
  EXPECT_EQ(e["cpu_method"], "estimated");
  EXPECT_EQ(e["nodes"], 1);
  // The CPU time is every rank's own getrusage, summed (this test's ranks measured it themselves).
  const double all_cpu = world->allreduce(my_cpu, dist::ReduceOp::sum);
  EXPECT_NEAR(e["cpu_seconds"].get<double>(), all_cpu, 0.05 + 0.1 * all_cpu);
  // n_c = min(logical CPUs, 3 ranks · 1 thread); E_cpu = 12 W · min(CPU time, n_c · t).
  const double cores = std::min(base::host_info().cpus_online, 3);
  EXPECT_DOUBLE_EQ(e["estimated"]["cores"].get<double>(), cores);
  const double t = e["duration_seconds"].get<double>();
  const double cpu_joules = 12.0 * std::min(e["cpu_seconds"].get<double>(), cores * t);
  EXPECT_NEAR(e["cpu_energy_kwh"].get<double>() * 3.6e6, cpu_joules, 1e-9 * cpu_joules);
  const double ram_joules = 0.3725 * e["estimated"]["memory_gb"].get<double>() * t;
  EXPECT_NEAR(e["ram_energy_kwh"].get<double>() * 3.6e6, ram_joules, 1e-9 * ram_joules);
  EXPECT_GT(e["estimated"]["memory_gb"].get<double>(), 0.0);
  ASSERT_TRUE(e["prediction"].is_object()) << e.dump();
  EXPECT_EQ(e["prediction"]["at_step"], 10);
  EXPECT_GT(e["prediction"]["predicted_seconds"].get<double>(), 0.0);

  int warnings = 0;
  for (const auto& line : ring->last_formatted()) {
    if (line.find("RAPL counters unavailable") != std::string::npos) {
      ++warnings;
      EXPECT_NE(line.find("does not exist"), std::string::npos) << line;
      EXPECT_NE(line.find("Green Algorithms"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(world->allreduce(warnings, dist::ReduceOp::sum), 1);  // once in the whole job
  if (world->rank() == 0) {
    EXPECT_EQ(lines_of(run_dir / "emissions.csv").size(), 2u);
  }
}
