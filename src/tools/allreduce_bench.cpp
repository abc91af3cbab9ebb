// mpitrain_allreduce_bench: times MPI_Allreduce (sum of floats, in place, as the trainer's gradient
// reducer does) for several message sizes on the machine in hand, for fitting the α–β model
// (mpitrain/dist/allreduce_model.hpp). Run it under mpirun; rank 0 writes JSON.
//
// Each size: 3 warm-up calls; then `trials` timed runs of k back-to-back calls between barriers, k chosen
// on rank 0 so that one run lasts about --run-seconds; a run's time per call is the slowest rank's
// (allreduce max). The median over trials is reported (robust to a neighbour's burst of load on a
// shared machine), with the minimum.
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mpitrain/dist/communicator.hpp"

namespace po = boost::program_options;
using mpitrain::dist::Communicator;
using mpitrain::dist::ReduceOp;

namespace {

std::vector<double> parse_sizes(const std::string& text) {
  std::vector<double> sizes;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    std::size_t used = 0;
    double bytes = -1;
    try {
      bytes = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || bytes < 4) throw std::invalid_argument("--sizes: '" + item + "' is not a byte count >= 4");
    sizes.push_back(bytes);
  }
  if (sizes.empty()) throw std::invalid_argument("--sizes is empty");
  return sizes;
}

// Seconds per call of k back-to-back allreduces, the slowest rank's.
double time_calls(const Communicator& comm, std::vector<float>& buffer, std::int64_t k) {
  comm.barrier();
  const double start = MPI_Wtime();
  for (std::int64_t i = 0; i < k; ++i) comm.allreduce(std::span<float>(buffer), ReduceOp::sum);
  const double per_call = (MPI_Wtime() - start) / static_cast<double>(k);
  return comm.allreduce(per_call, ReduceOp::max);
}

nlohmann::json measure(const Communicator& comm, double bytes, int trials, double run_seconds) {
  // Zeros stay zeros under repeated summation: no overflow, no denormals.
  std::vector<float> buffer(static_cast<std::size_t>(bytes / sizeof(float)), 0.0f);
  const double warm = time_calls(comm, buffer, 3);
  std::int64_t k = std::clamp<std::int64_t>(static_cast<std::int64_t>(run_seconds / std::max(warm, 1e-7)), 1, 100000);
  comm.broadcast(std::span<std::int64_t>(&k, 1), 0);
  std::vector<double> times;
  for (int t = 0; t < trials; ++t) times.push_back(time_calls(comm, buffer, k));
  std::sort(times.begin(), times.end());
  return {{"bytes", static_cast<double>(buffer.size() * sizeof(float))},
          {"seconds", times[times.size() / 2]},
          {"seconds_min", times.front()},
          {"calls_per_trial", k},
          {"trials", trials}};
}

}  // namespace

int main(int argc, char** argv) {
  mpitrain::dist::Environment environment(argc, argv);
  Communicator comm(MPI_COMM_WORLD);
  po::options_description desc(
      "usage: mpirun -np N mpitrain_allreduce_bench [options]\n\n"
      "Times an in-place float sum allreduce for each message size; rank 0 prints JSON\n"
      "{world_size, local_size, cores, oversubscribed, samples: [{bytes, seconds, seconds_min, ...}]}.\n\n"
      "options");
  std::string sizes_text;
  std::string output;
  int trials = 7;
  double run_seconds = 0.02;
  desc.add_options()("help,h", "this help")(
      "sizes", po::value(&sizes_text)->default_value("4096,65536,262144,940584,4194304"),
      "message sizes in bytes, comma-separated (940584: the Fashion-MNIST MLP's gradient)")(
      "trials", po::value(&trials)->default_value(7), "timed runs per size (the median is reported)")(
      "run-seconds", po::value(&run_seconds)->default_value(0.02), "target length of one timed run (s)")(
      "output", po::value(&output), "write the JSON here instead of stdout");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help") != 0U) {
      if (comm.rank() == 0) std::cout << desc << '\n';
      return 0;
    }
    if (trials < 1) throw std::invalid_argument("--trials must be >= 1");
    const std::vector<double> sizes = parse_sizes(sizes_text);
    const auto cores = static_cast<int>(std::thread::hardware_concurrency());
    nlohmann::json report = {{"world_size", comm.size()},
                             {"local_size", comm.local_size()},
                             {"cores", cores},
                             {"oversubscribed", comm.local_size() > cores},
                             {"samples", nlohmann::json::array()}};
    for (const double bytes : sizes) report["samples"].push_back(measure(comm, bytes, trials, run_seconds));
    if (comm.rank() == 0) {
      if (output.empty()) {
        std::cout << report.dump(2) << '\n';
      } else {
        std::ofstream out(output);
        out << report.dump(2) << '\n';
        if (!out) throw std::runtime_error("cannot write " + output);
      }
    }
  } catch (const std::exception& e) {
    if (comm.rank() == 0) std::fprintf(stderr, "mpitrain_allreduce_bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
