#include "mpitrain/energy/energy_monitor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "mpitrain/energy/emissions.hpp"
#include "mpitrain/energy/energy_estimate.hpp"

namespace mpitrain::energy {

namespace {

constexpr const char* green_algorithms_source =
    "Green Algorithms (Lannelongue, Grealey and Inouye, Advanced Science 2021, eq. 1): "
    "E = t (n_c P_c u_c + n_m 0.3725 W/GB) PUE";

enum Flag : int { cpu_flag = 1, ram_flag = 2, psys_flag = 4 };

std::string method_of(double measured_nodes, double nodes) {
  if (measured_nodes >= nodes) return "measured";
  return measured_nodes > 0 ? "mixed" : "estimated";
}

// An energy for logs, in a unit that keeps a few significant digits: J, Wh or kWh.
std::string energy_text(double joules) {
  if (joules < 3600.0) return fmt::format("{:.3g} J", joules);
  if (joules < joules_per_kwh) return fmt::format("{:.3g} Wh", joules / 3600.0);
  return fmt::format("{:.4g} kWh", to_kwh(joules));
}

// Emissions for logs: g or kg CO2e.
std::string co2_text(double kg) {
  return kg < 1.0 ? fmt::format("{:.3g} g CO2e", kg * 1000.0) : fmt::format("{:.4g} kg CO2e", kg);
}

// Strings of every rank, gathered on rank 0 (empty elsewhere); NUL-separated on the wire.
std::vector<std::string> gather_strings(const dist::Communicator& comm, std::string text) {
  text.push_back('\0');
  const auto all = comm.gatherv(std::span<const char>(text.data(), text.size()), 0);
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < all.size();) {
    out.emplace_back(&all[pos]);
    pos += out.back().size() + 1;
  }
  return out;
}

// What one rank adds to the job's totals; EnergyMonitor::totals() sums it over the ranks in one allreduce.
struct RankSums {
  double measured_cpu_j = 0, measured_ram_j = 0;  // its node's RAPL counters (the node's reader rank only)
  // The part without a counter, for the estimate: CPU time (s), cores (this rank's share of its node's),
  // peak memory (GB).
  double unmeasured_cpu_seconds = 0, unmeasured_cores = 0, unmeasured_memory_gb = 0;
  double cpu_seconds = 0, memory_gb = 0;  // all of its CPU time (s) and peak memory (GB)
  // 1 on a node's reader rank (else 0): nodes, those with CPU and with RAM counters, those read through psys.
  double nodes = 0, nodes_cpu_measured = 0, nodes_ram_measured = 0, nodes_psys = 0;
  double cpus = 0, ram_gb = 0;  // its node's logical CPUs and memory (GB), on the node's reader rank
};
constexpr std::array<double RankSums::*, 13> rank_sum_fields = {
    &RankSums::measured_cpu_j, &RankSums::measured_ram_j, &RankSums::unmeasured_cpu_seconds,
    &RankSums::unmeasured_cores, &RankSums::unmeasured_memory_gb, &RankSums::cpu_seconds, &RankSums::memory_gb,
    &RankSums::nodes, &RankSums::nodes_cpu_measured, &RankSums::nodes_ram_measured, &RankSums::nodes_psys,
    &RankSums::cpus, &RankSums::ram_gb};
static_assert(sizeof(RankSums) == rank_sum_fields.size() * sizeof(double), "every field of RankSums is summed");

RankSums sum_over_ranks(const dist::Communicator& comm, const RankSums& mine) {
  std::array<double, rank_sum_fields.size()> wire{};
  for (std::size_t i = 0; i < wire.size(); ++i) wire[i] = mine.*rank_sum_fields[i];
  comm.allreduce(std::span<double>(wire), dist::ReduceOp::sum);
  RankSums all;
  for (std::size_t i = 0; i < wire.size(); ++i) all.*rank_sum_fields[i] = wire[i];
  return all;
}

}  // namespace

// Cumulative figures of the whole job since start(), the same on every rank.
struct EnergyMonitor::Totals {
  double seconds = 0;
  double measured_cpu = 0, measured_ram = 0;  // J
  EnergyBreakdown estimated;                  // J
  GreenAlgorithmsInput estimate_input;        // for the estimated part
  double cpu_seconds = 0, memory_gb = 0;      // all ranks
  double nodes = 0, nodes_cpu = 0, nodes_ram = 0, nodes_psys = 0;
  double cpus = 0, ram_gb = 0;                // logical CPUs and memory of all nodes
  [[nodiscard]] double cpu() const { return measured_cpu + estimated.cpu_joules; }
  [[nodiscard]] double ram() const { return measured_ram + estimated.ram_joules; }
  [[nodiscard]] double it() const { return cpu() + ram(); }
  [[nodiscard]] std::string cpu_method() const { return method_of(nodes_cpu, nodes); }
  [[nodiscard]] std::string ram_method() const { return method_of(nodes_ram, nodes); }
  [[nodiscard]] std::string method() const {
    const auto c = cpu_method(), r = ram_method();
    return c == r ? c : "mixed";
  }
};

EnergyMonitor::EnergyMonitor(const config::EnergyConfig& config, const dist::Communicator& comm,
                             int threads_per_rank)
    : config_(config), comm_(&comm), threads_per_rank_(std::max(threads_per_rank, 1)) {
  if (!config_.enabled) return;
  const RaplDomain domain = parse_rapl_domain(config_.rapl_domain);
  layout_ = group_by_node(comm, node_identity());
  host_ = base::host_info();
  RaplDiscovery discovery;
  if (layout_.reader) {
    discovery = discover_rapl_zones(config_.powercap_root, domain);
    if (!discovery.zones.empty()) counter_ = std::make_unique<RaplCounter>(discovery.zones);
  }
  const int mine[1] = {layout_.reader ? (discovery.cpu_measured ? cpu_flag : 0) |
                                            (discovery.ram_measured ? ram_flag : 0) | (discovery.psys ? psys_flag : 0)
                                      : 0};
  const auto flags = comm.allgatherv(std::span<const int>(mine, 1));
  const int node_flags = flags.at(static_cast<std::size_t>(layout_.reader_rank));
  node_cpu_measured_ = (node_flags & cpu_flag) != 0;
  node_ram_measured_ = (node_flags & ram_flag) != 0;
  node_psys_ = (node_flags & psys_flag) != 0;
  const int node_cores = std::min(host_.cpus_online, layout_.ranks_on_node * threads_per_rank_);
  cores_share_ = static_cast<double>(node_cores) / layout_.ranks_on_node;
  log_discovery(discovery);
}

EnergyMonitor::~EnergyMonitor() noexcept { stop_sampler(); }

void EnergyMonitor::log_discovery(const RaplDiscovery& d) {
  std::string unavailable, flagged;
  if (layout_.reader) {
    if (!d.cpu_measured) unavailable = layout_.node_name + ": " + d.unavailable;
    for (const auto& f : d.flagged) {
      if (d.cpu_measured) flagged += (flagged.empty() ? "" : "; ") + f;
    }
    for (const auto& n : d.notes) spdlog::info("energy: {}", n);
  }
  const auto unavailable_all = gather_strings(*comm_, unavailable);
  const auto flagged_all = gather_strings(*comm_, flagged);
  if (comm_->rank() != 0) return;
  std::vector<std::string> why, flags;
  std::copy_if(unavailable_all.begin(), unavailable_all.end(), std::back_inserter(why),
               [](const std::string& s) { return !s.empty(); });
  std::copy_if(flagged_all.begin(), flagged_all.end(), std::back_inserter(flags),
               [](const std::string& s) { return !s.empty(); });
  if (!why.empty()) {
    spdlog::warn("energy: RAPL counters unavailable on {} of {} node(s): {}{}; their energy is estimated with {}",
                 why.size(), layout_.nodes, why.front(), why.size() > 1 ? " (and alike on the others)" : "",
                 green_algorithms_source);
  }
  for (const auto& f : flags) spdlog::warn("energy: {}", f);
  spdlog::info("energy: {} node(s), {} rank(s); {}; PUE {}, {} gCO2e/kWh", layout_.nodes, comm_->size(),
               why.empty() ? fmt::format("measuring RAPL {} zones, one reader per node",
                                         d.psys ? "psys" : "package and dram")
                           : fmt::format("estimating with P_core {} W per core and 0.3725 W/GB",
                                         config_.cpu_watts_per_core),
               config_.pue, config_.carbon_intensity_g_per_kwh);
}

void EnergyMonitor::start() {
  if (!config_.enabled || started_) return;
  started_ = true;
  start_time_ = Clock::now();
  start_cpu_seconds_ = base::process_cpu_seconds();
  if (!counter_) return;
  counter_->sample();  // baselines
  const double period = safe_sample_seconds(counter_->zones(), config_.sample_seconds);
  sampler_ = std::thread([this, period] {
    std::unique_lock lock(sampler_mutex_);
    while (!sampler_wake_.wait_for(lock, std::chrono::duration<double>(period), [this] { return sampler_stop_; })) {
      lock.unlock();
      counter_->sample();
      lock.lock();
    }
  });
}

void EnergyMonitor::stop_sampler() noexcept {
  if (!sampler_.joinable()) return;
  {
    std::lock_guard lock(sampler_mutex_);
    sampler_stop_ = true;
  }
  sampler_wake_.notify_all();
  sampler_.join();
}

EnergyMonitor::Totals EnergyMonitor::totals() {
  const double seconds = started_ ? std::chrono::duration<double>(Clock::now() - start_time_).count() : 0.0;
  const double cpu_seconds = started_ ? base::process_cpu_seconds() - start_cpu_seconds_ : 0.0;
  const double memory_gb = base::peak_rss_bytes() / bytes_per_gb;
  double measured_cpu = 0, measured_ram = 0;
  if (counter_ && started_) {
    counter_->sample();
    measured_cpu = counter_->joules(ZoneKind::package) + counter_->joules(ZoneKind::psys);
    measured_ram = counter_->joules(ZoneKind::dram);
    for (const auto& p : counter_->take_problems()) spdlog::warn("energy: {}", p);
  }
  const bool reader = layout_.reader;
  RankSums mine;
  mine.measured_cpu_j = measured_cpu;
  mine.measured_ram_j = measured_ram;
  mine.unmeasured_cpu_seconds = node_cpu_measured_ ? 0.0 : cpu_seconds;
  mine.unmeasured_cores = node_cpu_measured_ ? 0.0 : cores_share_;
  mine.unmeasured_memory_gb = node_ram_measured_ ? 0.0 : memory_gb;
  mine.cpu_seconds = cpu_seconds;
  mine.memory_gb = memory_gb;
  mine.nodes = reader ? 1.0 : 0.0;
  mine.nodes_cpu_measured = reader && node_cpu_measured_ ? 1.0 : 0.0;
  mine.nodes_ram_measured = reader && node_ram_measured_ ? 1.0 : 0.0;
  mine.nodes_psys = reader && node_psys_ ? 1.0 : 0.0;
  mine.cpus = reader ? static_cast<double>(host_.cpus_online) : 0.0;
  mine.ram_gb = reader ? host_.ram_total_bytes / bytes_per_gb : 0.0;
  const RankSums all = sum_over_ranks(*comm_, mine);
  Totals t;
  t.seconds = comm_->allreduce(seconds, dist::ReduceOp::max);
  t.measured_cpu = all.measured_cpu_j;
  t.measured_ram = all.measured_ram_j;
  t.estimate_input = {t.seconds, all.unmeasured_cores,
                      core_usage(all.unmeasured_cpu_seconds, t.seconds, all.unmeasured_cores),
                      config_.cpu_watts_per_core, all.unmeasured_memory_gb};
  t.estimated = green_algorithms_energy(t.estimate_input);
  t.cpu_seconds = all.cpu_seconds;
  t.memory_gb = all.memory_gb;
  t.nodes = all.nodes;
  t.nodes_cpu = all.nodes_cpu_measured;
  t.nodes_ram = all.nodes_ram_measured;
  t.nodes_psys = all.nodes_psys;
  t.cpus = all.cpus;
  t.ram_gb = all.ram_gb;
  return t;
}

nlohmann::json EnergyMonitor::epoch_end(std::int64_t samples) {
  if (!config_.enabled) return nlohmann::json::object();
  const Totals t = totals();
  const double joules = std::max(t.it() - reported_joules_, 0.0);
  reported_joules_ = t.it();
  return {{"energy_joules", joules},
          {"joules_per_sample", samples > 0 ? joules / static_cast<double>(samples) : 0.0},
          {"energy_method", t.method()}};
}

RunProgress EnergyMonitor::local_progress(std::int64_t step) {
  RunProgress p;
  p.step = step;
  p.seconds = std::chrono::duration<double>(Clock::now() - start_time_).count();
  const double world = comm_->size();
  double node_joules = 0;
  if (counter_) {
    counter_->sample();
    node_joules = counter_->joules(ZoneKind::package) + counter_->joules(ZoneKind::psys) +
                  counter_->joules(ZoneKind::dram);
  }
  const GreenAlgorithmsInput mine{p.seconds, node_cpu_measured_ ? 0.0 : cores_share_,
                                  core_usage(base::process_cpu_seconds() - start_cpu_seconds_, p.seconds, cores_share_),
                                  config_.cpu_watts_per_core,
                                  node_ram_measured_ ? 0.0 : base::peak_rss_bytes() / bytes_per_gb};
  // Every node is assumed to draw what rank 0's node draws per rank.
  p.joules = node_joules * world / layout_.ranks_on_node + green_algorithms_energy(mine).it_joules() * world;
  return p;
}

void EnergyMonitor::after_step(std::int64_t global_step, std::int64_t total_steps) {
  if (!config_.enabled || !started_ || comm_->rank() != 0 || config_.predict_after_steps <= 0 || prediction_done_) {
    return;
  }
  if (++steps_seen_ == 1) first_step_ = global_step - 1;
  const std::int64_t warmup = warmup_steps(config_.predict_after_steps);
  if (warmup == 0 && !window_start_) window_start_ = RunProgress{first_step_, 0.0, 0.0};
  if (steps_seen_ == warmup) window_start_ = local_progress(global_step);
  if (steps_seen_ < config_.predict_after_steps) return;
  prediction_done_ = true;
  if (total_steps <= global_step || !window_start_) return;
  prediction_ = predict_run(*window_start_, local_progress(global_step), total_steps);
  const double facility = facility_joules(prediction_->joules, config_.pue);
  spdlog::info("energy prediction after {} steps: the whole run ({} steps) takes about {:.1f} s, {} IT, {} "
               "facility, {}",
               steps_seen_, total_steps, prediction_->seconds, energy_text(prediction_->joules),
               energy_text(facility), co2_text(co2e_kg(facility, config_.carbon_intensity_g_per_kwh)));
}

nlohmann::json EnergyMonitor::finish(std::int64_t samples, const std::filesystem::path& run_dir,
                                     const std::string& run_name) {
  if (!config_.enabled) return {{"enabled", false}};
  if (result_) return *result_;
  stop_sampler();
  const Totals t = totals();
  const double facility = facility_joules(t.it(), config_.pue);
  const double co2 = co2e_kg(facility, config_.carbon_intensity_g_per_kwh);
  const double per_sample = samples > 0 ? t.it() / static_cast<double>(samples) : 0.0;
  const auto watts = [&](double joules) { return t.seconds > 0 ? joules / t.seconds : 0.0; };
  nlohmann::json e = {
      {"method", t.method()},
      {"cpu_method", t.cpu_method()},
      {"ram_method", t.ram_method()},
      {"rapl_domain", t.nodes_psys > 0 ? "psys" : (t.nodes_cpu > 0 || t.nodes_ram > 0 ? "package" : "none")},
      {"nodes", static_cast<int>(t.nodes)},
      {"ranks", comm_->size()},
      {"duration_seconds", t.seconds},
      {"cpu_energy_kwh", to_kwh(t.cpu())},
      {"ram_energy_kwh", to_kwh(t.ram())},
      {"it_energy_kwh", to_kwh(t.it())},
      {"facility_energy_kwh", to_kwh(facility)},
      {"cpu_power_watts", watts(t.cpu())},
      {"ram_power_watts", watts(t.ram())},
      {"pue", config_.pue},
      {"carbon_intensity_g_per_kwh", config_.carbon_intensity_g_per_kwh},
      {"co2e_kg", co2},
      {"samples", samples},
      {"joules_per_sample", per_sample},
      {"measured", {{"cpu_energy_kwh", to_kwh(t.measured_cpu)}, {"ram_energy_kwh", to_kwh(t.measured_ram)},
                    {"nodes_cpu", static_cast<int>(t.nodes_cpu)}, {"nodes_ram", static_cast<int>(t.nodes_ram)}}},
      {"estimated", {{"cpu_energy_kwh", to_kwh(t.estimated.cpu_joules)},
                     {"ram_energy_kwh", to_kwh(t.estimated.ram_joules)},
                     {"cores", t.estimate_input.cores}, {"core_usage", t.estimate_input.core_usage},
                     {"watts_per_core", t.estimate_input.watts_per_core},
                     {"memory_gb", t.estimate_input.memory_gb}, {"formula", green_algorithms_source}}},
      {"cpu_seconds", t.cpu_seconds},
      {"peak_memory_gb", t.memory_gb},
  };
  // The prediction lives on rank 0; every rank returns the same object.
  std::string prediction_text;
  if (comm_->rank() == 0 && prediction_) {
    const double predicted_facility = facility_joules(prediction_->joules, config_.pue);
    const double predicted_co2 = co2e_kg(predicted_facility, config_.carbon_intensity_g_per_kwh);
    prediction_text = nlohmann::json{
        {"at_step", prediction_->at_step},
        {"predicted_seconds", prediction_->seconds}, {"actual_seconds", t.seconds},
        {"predicted_it_energy_kwh", to_kwh(prediction_->joules)}, {"actual_it_energy_kwh", to_kwh(t.it())},
        {"predicted_co2e_kg", predicted_co2}, {"actual_co2e_kg", co2},
        {"energy_error", t.it() > 0 ? prediction_->joules / t.it() - 1.0 : 0.0}}.dump();
  }
  comm_->broadcast(prediction_text, 0);
  e["prediction"] = prediction_text.empty() ? nlohmann::json() : nlohmann::json::parse(prediction_text);

  if (comm_->rank() == 0) {
    EmissionsRow row;
    row.timestamp = local_timestamp();
    row.project_name = run_name;
    row.run_id = random_uuid();
    row.duration = t.seconds;
    row.emissions = co2;
    row.emissions_rate = t.seconds > 0 ? co2 / t.seconds : 0.0;
    row.cpu_power = watts(t.cpu());
    row.ram_power = watts(t.ram());
    row.cpu_energy = to_kwh(t.cpu() * config_.pue);
    row.ram_energy = to_kwh(t.ram() * config_.pue);
    row.energy_consumed = to_kwh(facility);
    row.country_iso_code = config_.country_iso_code;
    row.os = host_.os;
    row.cpu_count = static_cast<int>(t.cpus);
    row.cpu_model = host_.cpu_model;
    row.ram_total_size = t.ram_gb;
    row.tracking_mode = t.nodes_cpu > 0 || t.nodes_ram > 0 ? "machine" : "process";
    row.pue = config_.pue;
    row.method = t.method();
    row.nodes = static_cast<int>(t.nodes);
    row.ranks = comm_->size();
    row.samples = samples;
    row.joules_per_sample = per_sample;
    try {
      append_emissions_row(run_dir / "emissions.csv", row);
      e["emissions_csv"] = (run_dir / "emissions.csv").string();
    } catch (const std::exception& error) {
      spdlog::error("energy: emissions.csv not written: {}", error.what());
    }
    spdlog::info("footprint: {} IT (cpu {} {}, ram {} {}), {} facility at PUE {}; {} at {} g/kWh; {:.3g} J per "
                 "sample; {} node(s), {} rank(s), {:.1f} s",
                 energy_text(t.it()), energy_text(t.cpu()), t.cpu_method(), energy_text(t.ram()), t.ram_method(),
                 energy_text(facility), config_.pue, co2_text(co2), config_.carbon_intensity_g_per_kwh, per_sample,
                 static_cast<int>(t.nodes), comm_->size(), t.seconds);
    if (prediction_) {
      spdlog::info("footprint predicted at step {}: {:.1f} s and {} IT; actual {:.1f} s and {} IT", prediction_->at_step,
                   prediction_->seconds, energy_text(prediction_->joules), t.seconds, energy_text(t.it()));
    }
  }
  const std::string csv = e.value("emissions_csv", std::string());
  std::string shared = csv;
  comm_->broadcast(shared, 0);
  if (!shared.empty()) e["emissions_csv"] = shared;
  result_ = e;
  return e;
}

}  // namespace mpitrain::energy
