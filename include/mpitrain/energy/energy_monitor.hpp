#pragma once
/// @file energy_monitor.hpp
/// The energy and carbon footprint of a run, measured where the hardware allows and estimated (and
/// labelled so) where not.
///
/// - Measured: the first rank of each node (node_layout.hpp) reads the node's RAPL counters
///   (powercap.hpp) with a sampling thread, often enough that no counter wraps twice between samples;
///   rank 0 sums the nodes. RAPL covers the CPU packages and DRAM only.
/// - Estimated, per component and node where counters are missing or unreadable: Green Algorithms
///   (energy_estimate.hpp) with u_c from the ranks' CPU time over wall time, P_c =
///   `energy.cpu_watts_per_core`, and memory from the ranks' peak RSS.
/// - Facility energy = IT energy · `energy.pue`; CO2e = facility energy · `energy.carbon_intensity_g_per_kwh`.
///
/// Call order on every rank: constructor, start(), then per step after_step(), per epoch epoch_end(),
/// and once finish(). The sampling thread never calls MPI (MPI_THREAD_FUNNELED is enough).

#include <condition_variable>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "mpitrain/config/config.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/energy/energy_prediction.hpp"
#include "mpitrain/energy/node_layout.hpp"
#include "mpitrain/energy/powercap.hpp"
#include "mpitrain/base/resource_usage.hpp"

namespace mpitrain::energy {

/// Energy and carbon accounting of one run. Not copyable or movable (it owns a thread).
class EnergyMonitor {
 public:
  /// Collective over @p comm: groups ranks by node, discovers the counters on each node's reader, and
  /// has rank 0 log once how energy will be obtained, with one warning saying why and how to enable the
  /// counters when they are absent or unreadable. Does nothing when `energy.enabled` is false.
  /// @param threads_per_rank compute threads per rank (`train.threads`): a node's cores n_c are
  ///        min(logical CPUs, ranks on the node · threads_per_rank).
  /// @throws dist::MpiError; std::invalid_argument for a bad `energy.rapl_domain`.
  EnergyMonitor(const config::EnergyConfig& config, const dist::Communicator& comm, int threads_per_rank = 1);
  /// Stops the sampling thread. Never throws.
  ~EnergyMonitor() noexcept;
  EnergyMonitor(const EnergyMonitor&) = delete;
  EnergyMonitor& operator=(const EnergyMonitor&) = delete;

  /// Starts the clock, takes the counters' baselines and starts the sampling thread. Not collective.
  void start();

  /// Collective. The IT energy since the previous epoch_end (or start): `{"energy_joules": J,
  /// "joules_per_sample": J / @p samples (0 if no samples), "energy_method": "measured" | "estimated" |
  /// "mixed"}`, the same on every rank; an empty object when disabled.
  /// @param samples training samples (global) in this epoch.
  nlohmann::json epoch_end(std::int64_t samples);

  /// After each optimizer step; cheap and not collective. On rank 0, after `energy.predict_after_steps`
  /// steps since start() (the first fifth of them being warm-up, excluded from the rate), logs the
  /// predicted total time, energy and CO2e of the run once (energy_prediction.hpp). The prediction
  /// extrapolates rank 0's node to every node, assuming all draw alike per rank.
  /// @param global_step steps done in the whole run (counting from 1); @param total_steps the run's total.
  void after_step(std::int64_t global_step, std::int64_t total_steps);

  /// Collective; once (later calls return the first result). Stops sampling and returns the `energy`
  /// object for summary.json on every rank (method per component, nodes, ranks, duration_seconds,
  /// cpu/ram/IT/facility energy in kWh, power in W, PUE, carbon intensity, co2e_kg, joules_per_sample,
  /// the estimate's inputs, and the prediction against the actual figures). Rank 0 appends the run's row
  /// to `<run_dir>/emissions.csv` (an error there is logged, not thrown) and logs the footprint.
  /// @param samples training samples (global) of the whole run. @param run_name the CSV's project_name.
  nlohmann::json finish(std::int64_t samples, const std::filesystem::path& run_dir, const std::string& run_name);

 private:
  struct Totals;
  Totals totals();                       // collective: cumulative figures since start()
  [[nodiscard]] RunProgress local_progress(std::int64_t step);  // rank 0's extrapolated view, no MPI
  void log_discovery(const RaplDiscovery& discovery);  // collective
  void stop_sampler() noexcept;

  using Clock = std::chrono::steady_clock;
  config::EnergyConfig config_;
  const dist::Communicator* comm_;
  int threads_per_rank_;
  NodeLayout layout_;
  base::HostInfo host_;
  std::unique_ptr<RaplCounter> counter_;  // on readers with readable zones
  bool node_cpu_measured_ = false;        // of this rank's machine (told by its reader)
  bool node_ram_measured_ = false;
  bool node_psys_ = false;
  double cores_share_ = 1;                // this rank's share of its node's cores n_c

  Clock::time_point start_time_;
  double start_cpu_seconds_ = 0;
  bool started_ = false;
  double reported_joules_ = 0;            // IT energy up to the previous epoch_end

  std::thread sampler_;
  std::mutex sampler_mutex_;
  std::condition_variable sampler_wake_;
  bool sampler_stop_ = false;

  std::int64_t steps_seen_ = 0;           // after_step calls (rank 0)
  std::int64_t first_step_ = 0;           // global step before the first after_step
  std::optional<RunProgress> window_start_;
  std::optional<RunPrediction> prediction_;
  bool prediction_done_ = false;

  std::optional<nlohmann::json> result_;
};

}  // namespace mpitrain::energy
