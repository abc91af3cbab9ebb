// mpitrain_project: projects data-parallel training beyond the machine in hand with the α–β model of
// mpitrain/dist/allreduce_model.hpp. Inputs:
//  - --summary: summary.json of 1-rank training runs. Compute time per sample c and the fixed time per step
//    come from them, with the step time timing.step_s (the trainer's profile, warm-up steps excluded) or
//    else train_seconds / steps: with runs at two or more global batches, the least-squares line
//    step = c·G + fixed; with one run, fixed = timing.optimizer_s (else 0) and c the rest per sample.
//    With --step-time best-interval the step time is that of the fastest log interval in metrics.jsonl.
//    Gradient bytes = parameters × 4.
//    Watts per rank = energy.joules_per_sample × samples_per_second when summary["energy"] has it, else
//    --watts-per-rank (default 12 W: Green Algorithms' default power per core).
//  - --bench: JSON of mpitrain_allreduce_bench (any world sizes >= 2), fitted into the network "measured".
// Prints, per network, a markdown table (or JSON with --format json) over --ranks.
#include <spdlog/fmt/fmt.h>

#include <boost/algorithm/string.hpp>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpitrain/dist/allreduce_model.hpp"

namespace po = boost::program_options;
namespace dist = mpitrain::dist;
using nlohmann::json;

namespace {

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": not JSON: " + e.what());
  }
}

double number(const json& j, const std::string& key, const std::string& file) {
  if (!j.contains(key) || !j[key].is_number()) throw std::runtime_error(file + ": key '" + key + "' missing or not a number");
  return j[key].get<double>();
}

std::vector<int> parse_ranks(const std::string& text) {
  std::vector<std::string> items;
  boost::algorithm::split(items, text, boost::algorithm::is_any_of(","));
  std::vector<int> out;
  for (const std::string& item : items) {
    std::size_t used = 0;
    int n = 0;
    try {
      n = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || n < 1) throw std::invalid_argument("--ranks: '" + item + "' is not a world size >= 1");
    out.push_back(n);
  }
  return out;
}

struct Measured {
  dist::StepCosts costs;
  std::int64_t global_batch = 0;
  std::string how;  // how c and fixed were found, for the output
};

// The fastest log interval's seconds per step, from metrics.jsonl beside @p summary_file: on a machine
// shared with other jobs, the interval least disturbed by them.
double best_interval_step(const std::string& summary_file, double global_batch) {
  const std::string path = (std::filesystem::path(summary_file).parent_path() / "metrics.jsonl").string();
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open (needed by --step-time best-interval)");
  double best = 0;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    const json row = json::parse(line, nullptr, false);
    if (row.is_discarded()) throw std::runtime_error(path + ": line " + std::to_string(line_number) + " is not JSON");
    if (row.value("kind", "") == "interval" && row.contains("samples_per_second")) {
      best = std::max(best, number(row, "samples_per_second", path));
    }
  }
  if (!(best > 0)) throw std::runtime_error(path + ": no interval with samples_per_second");
  return global_batch / best;
}

Measured costs_from_summaries(const std::vector<std::string>& files, double default_watts, bool best_interval) {
  if (files.empty()) throw std::invalid_argument("--summary: at least one 1-rank summary.json is needed");
  Measured m;
  std::vector<double> batch, step;
  double watts = -1;
  for (const std::string& f : files) {
    const json s = read_json(f);
    if (number(s, "world_size", f) != 1) throw std::runtime_error(f + ": world_size is not 1 (give 1-rank runs)");
    // Mean seconds per step: the trainer's own profile (summary["timing"], warm-up excluded) when present.
    const bool timed = s.contains("timing") && s["timing"].is_object() && s["timing"].contains("step_s");
    const double steps = number(s, "steps", f);
    const double seconds = number(s, "train_seconds", f);
    if (steps < 1 || seconds <= 0) throw std::runtime_error(f + ": no training steps timed");
    const double step_s = best_interval ? best_interval_step(f, number(s, "global_batch_size", f))
                          : timed       ? number(s["timing"], "step_s", f)
                                        : seconds / steps;
    const double optimizer_s = timed && s["timing"].contains("optimizer_s") ? number(s["timing"], "optimizer_s", f) : 0.0;
    batch.push_back(number(s, "global_batch_size", f));
    step.push_back(step_s);
    m.costs.gradient_bytes = number(s, "parameters", f) * 4.0;
    m.global_batch = static_cast<std::int64_t>(batch.back());
    if (s.contains("energy") && s["energy"].is_object() && s["energy"].contains("joules_per_sample") &&
        s["energy"]["joules_per_sample"].is_number()) {
      watts = s["energy"]["joules_per_sample"].get<double>() * number(s, "samples_per_second", f);
    }
    if (files.size() == 1) {
      m.costs.fixed_seconds_per_step = optimizer_s;
      m.costs.compute_seconds_per_sample = (step_s - optimizer_s) / batch.back();
      m.how = std::string(best_interval ? "one run's best interval" : timed ? "one run's profile"
                                                                        : "one run's train_seconds / steps") +
              (optimizer_s > 0 ? "; fixed = optimizer time per step" : "; all time per sample");
    }
  }
  if (files.size() > 1) {  // least-squares line step = c·G + fixed
    const auto n = static_cast<double>(files.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      sx += batch[i];
      sy += step[i];
      sxx += batch[i] * batch[i];
      sxy += batch[i] * step[i];
    }
    const double det = n * sxx - sx * sx;
    if (det <= 0) throw std::runtime_error("--summary: the runs need at least two different global batches");
    m.costs.compute_seconds_per_sample = (n * sxy - sx * sy) / det;
    m.costs.fixed_seconds_per_step = std::max(0.0, (sy - m.costs.compute_seconds_per_sample * sx) / n);
    m.how = "line through " + std::to_string(files.size()) + " runs";
  }
  m.costs.watts_per_rank = watts > 0 ? watts : default_watts;
  if (!(m.costs.compute_seconds_per_sample > 0)) throw std::runtime_error("--summary: compute time per sample <= 0");
  return m;
}

std::vector<dist::AllreduceSample> bench_samples(const std::vector<std::string>& files) {
  std::vector<dist::AllreduceSample> out;
  for (const std::string& f : files) {
    const json b = read_json(f);
    const int n = static_cast<int>(number(b, "world_size", f));
    if (!b.contains("samples") || !b["samples"].is_array()) throw std::runtime_error(f + ": no 'samples' array");
    for (const json& s : b["samples"]) out.push_back({n, number(s, "bytes", f), number(s, "seconds", f)});
  }
  return out;
}

struct Network {
  std::string name;
  dist::LinkModel link;
};

Network parse_network(const std::string& text, const std::vector<dist::AllreduceSample>& bench) {
  if (text == "ethernet25") return {"25 Gb/s Ethernet (assumed)", dist::ethernet_25g()};
  if (text == "infiniband200") return {"200 Gb/s InfiniBand (assumed)", dist::infiniband_200g()};
  if (text == "measured") {
    if (bench.empty()) throw std::invalid_argument("--network measured needs --bench files");
    return {"measured on this machine", dist::fit_ring_allreduce(bench)};
  }
  // custom:LATENCY_US:GBITS_PER_S
  double latency_us = 0, gbits = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "custom:%lf:%lf%c", &latency_us, &gbits, &tail) == 2 && latency_us >= 0 && gbits > 0) {
    return {text, dist::LinkModel{latency_us * 1e-6, gbits * 1e9 / 8.0}};
  }
  throw std::invalid_argument("--network: '" + text + "' is not ethernet25, infiniband200, measured or custom:US:GBPS");
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc(
      "usage: mpitrain_project --summary RUN/summary.json [--summary ...] [--bench BENCH.json ...] [options]\n\n"
      "Projects step time, scaling efficiency and energy per sample of data-parallel training with a ring\n"
      "allreduce, T = 2(N-1)a + 2(N-1)/N * bytes/b, from 1-rank runs and allreduce timings.\n\n"
      "options");
  std::vector<std::string> summaries, benches, networks;
  std::string ranks_text, scaling_text, format, step_time;
  std::int64_t batch = 0;
  int cores = 0;
  double default_watts = 12.0;
  desc.add_options()("help,h", "this help")(
      "summary", po::value(&summaries)->multitoken(), "summary.json of a 1-rank run (repeat for other batches)")(
      "bench", po::value(&benches)->multitoken(), "mpitrain_allreduce_bench JSON (repeat for other world sizes)")(
      "network", po::value(&networks)->multitoken(),
      "ethernet25, infiniband200, measured (from --bench) or custom:LATENCY_US:GBITS (default: the first two, "
      "and measured if --bench is given)")(
      "ranks", po::value(&ranks_text)->default_value("8,16,32,64,128,256,512,1024"), "world sizes")(
      "scaling", po::value(&scaling_text)->default_value("strong"), "strong (fixed global batch) or weak")(
      "batch", po::value(&batch)->default_value(0),
      "global batch (strong) or per-rank batch (weak); default: the summary's global batch")(
      "cores", po::value(&cores)->default_value(0), "cores to share (0: one per rank, a cluster)")(
      "watts-per-rank", po::value(&default_watts)->default_value(12.0), "power per rank if the summary has no energy (W)")(
      "format", po::value(&format)->default_value("markdown"), "markdown or json")(
      "step-time", po::value(&step_time)->default_value("mean"),
      "mean (timing.step_s, else train_seconds / steps) or best-interval (the fastest log interval of "
      "metrics.jsonl beside each summary: robust on a shared machine)");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help") != 0U) {
      std::cout << desc << '\n';
      return 0;
    }
    if (format != "markdown" && format != "json") throw std::invalid_argument("--format must be markdown or json");
    if (step_time != "mean" && step_time != "best-interval") {
      throw std::invalid_argument("--step-time must be mean or best-interval");
    }
    Measured m = costs_from_summaries(summaries, default_watts, step_time == "best-interval");
    m.costs.cores = cores;
    const std::vector<dist::AllreduceSample> bench = bench_samples(benches);
    if (networks.empty()) {
      networks = {"ethernet25", "infiniband200"};
      if (!bench.empty()) networks.emplace_back("measured");
    }
    const dist::Scaling scaling = dist::parse_scaling(scaling_text);
    if (batch == 0) batch = m.global_batch;
    const std::vector<int> ranks = parse_ranks(ranks_text);

    json out = {{"compute_seconds_per_sample", m.costs.compute_seconds_per_sample},
                {"fixed_seconds_per_step", m.costs.fixed_seconds_per_step},
                {"gradient_bytes", m.costs.gradient_bytes},
                {"watts_per_rank", m.costs.watts_per_rank},
                {"cores", cores},
                {"scaling", scaling_text},
                {"batch", batch},
                {"costs_from", m.how},
                {"networks", json::array()}};
    for (const std::string& text : networks) {
      const Network net = parse_network(text, bench);
      json entry = {{"name", net.name},
                    {"latency_seconds", net.link.latency_seconds},
                    {"bandwidth_bytes_per_second", net.link.bandwidth_bytes_per_second},
                    {"points", json::array()}};
      for (const dist::ScalingPoint& p : dist::project_scaling(m.costs, net.link, scaling, batch, ranks)) {
        entry["points"].push_back({{"world_size", p.world_size}, {"samples_per_step", p.samples_per_step},
                                   {"compute_seconds", p.compute_seconds}, {"allreduce_seconds", p.allreduce_seconds},
                                   {"step_seconds", p.step_seconds}, {"samples_per_second", p.samples_per_second},
                                   {"speedup", p.speedup}, {"efficiency", p.efficiency},
                                   {"communication_share", p.communication_share},
                                   {"joules_per_sample", p.joules_per_sample}});
      }
      out["networks"].push_back(entry);
    }
    if (format == "json") {
      std::cout << out.dump(2) << '\n';
      return 0;
    }
    fmt::print("Inputs: c = {:.4g} us/sample, fixed {:.4g} ms/step ({}), gradient {:.0f} bytes, {:.3g} W/rank; "
               "{} scaling, {} batch {}{}\n",
               m.costs.compute_seconds_per_sample * 1e6, m.costs.fixed_seconds_per_step * 1e3, m.how,
               m.costs.gradient_bytes, m.costs.watts_per_rank, scaling_text,
               scaling == dist::Scaling::strong ? "global" : "per-rank", batch,
               cores > 0 ? ", " + std::to_string(cores) + " cores shared" : "");
    for (const json& entry : out["networks"]) {
      fmt::print("\n{}: alpha = {:.3g} us, beta = {:.3g} GB/s\n\n"
                 "| ranks | step ms | compute ms | allreduce ms | samples/s | speedup | efficiency | comm share | J/sample |\n"
                 "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
                 entry["name"].get<std::string>(), entry["latency_seconds"].get<double>() * 1e6,
                 entry["bandwidth_bytes_per_second"].get<double>() / 1e9);
      for (const json& p : entry["points"]) {
        fmt::print("| {} | {:.3f} | {:.3f} | {:.3f} | {:.0f} | {:.2f} | {:.3f} | {:.3f} | {:.3g} |\n",
                   p["world_size"].get<int>(), p["step_seconds"].get<double>() * 1e3,
                   p["compute_seconds"].get<double>() * 1e3, p["allreduce_seconds"].get<double>() * 1e3,
                   p["samples_per_second"].get<double>(), p["speedup"].get<double>(), p["efficiency"].get<double>(),
                   p["communication_share"].get<double>(), p["joules_per_sample"].get<double>());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpitrain_project: %s\n", e.what());
    return 2;
  }
  return 0;
}
