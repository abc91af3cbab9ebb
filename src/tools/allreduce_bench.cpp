// mpitrain_allreduce_bench: times MPI_Allreduce (sum of floats, in place, as the trainer's gradient
// reducer does) for several message sizes on the machine in hand, for fitting the α–β model
// (mpitrain/dist/allreduce_model.hpp). Run it under mpirun; rank 0 writes JSON.
//
// Each size: 5 warm-up calls, then up to --calls single calls (as many as fit in --budget-seconds, at
// least 20), each started after a barrier and timed on every rank; a call's time is the slowest rank's.
// Reported: "seconds", the 10th percentile of the calls (what the network and the memory system allow,
// with little of the interference of other processes on a shared machine, which only adds time), the
// median and the minimum.
#include <mpi.h>

#include <algorithm>
#include <boost/algorithm/string/classification.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/program_options.hpp>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "mpitrain/dist/communicator.hpp"

namespace po = boost::program_options;
using mpitrain::dist::Communicator;
using mpitrain::dist::ReduceOp;

namespace {

std::vector<double> parse_sizes(const std::string& text) {
  std::vector<std::string> items;
  if (!text.empty()) boost::algorithm::split(items, text, boost::algorithm::is_any_of(","));
  std::vector<double> sizes;
  for (const std::string& item : items) {
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

// Times @p calls single allreduces, each started together after a barrier; a call's time is the slowest
// rank's (one allreduce max over all the calls' times at the end, so it does not disturb them).
std::vector<double> time_calls(const Communicator& comm, std::vector<float>& buffer, std::int64_t calls) {
  std::vector<double> times(static_cast<std::size_t>(calls));
  for (double& t : times) {
    comm.barrier();
    const double start = MPI_Wtime();
    comm.allreduce(std::span<float>(buffer), ReduceOp::sum);
    t = MPI_Wtime() - start;
  }
  comm.allreduce(std::span<double>(times), ReduceOp::max);
  std::sort(times.begin(), times.end());
  return times;
}

nlohmann::json measure(const Communicator& comm, double bytes, std::int64_t max_calls, double budget_seconds) {
  // Zeros stay zeros under repeated summation: no overflow, no denormals.
  std::vector<float> buffer(static_cast<std::size_t>(bytes / sizeof(float)), 0.0f);
  const std::vector<double> warm = time_calls(comm, buffer, 5);
  std::int64_t calls =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(budget_seconds / std::max(warm[2], 1e-7)), 20, max_calls);
  comm.broadcast(std::span<std::int64_t>(&calls, 1), 0);
  const std::vector<double> t = time_calls(comm, buffer, calls);
  const auto at = [&](double q) { return t[static_cast<std::size_t>(q * static_cast<double>(t.size() - 1))]; };
  return {{"bytes", static_cast<double>(buffer.size() * sizeof(float))},
          {"seconds", at(0.1)},
          {"seconds_median", at(0.5)},
          {"seconds_min", t.front()},
          {"calls", calls}};
}

}  // namespace

int main(int argc, char** argv) {
  mpitrain::dist::Environment environment(argc, argv);
  Communicator comm(MPI_COMM_WORLD);
  po::options_description desc(
      "usage: mpirun -np N mpitrain_allreduce_bench [options]\n\n"
      "Times an in-place float sum allreduce for each message size; rank 0 prints JSON\n"
      "{world_size, local_size, cores, oversubscribed, samples: [{bytes, seconds (10th percentile),\n"
      "seconds_median, seconds_min, calls}]}.\n\n"
      "options");
  std::string sizes_text;
  std::string output;
  std::int64_t max_calls = 2000;
  double budget_seconds = 0.3;
  desc.add_options()("help,h", "this help")(
      "sizes", po::value(&sizes_text)->default_value("4096,65536,262144,940584,4194304"),
      "message sizes in bytes, comma-separated (940584: the Fashion-MNIST MLP's gradient)")(
      "calls", po::value(&max_calls)->default_value(2000), "most timed calls per size")(
      "budget-seconds", po::value(&budget_seconds)->default_value(0.3), "time to spend per size (s)")(
      "output", po::value(&output), "write the JSON here instead of stdout");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help") != 0U) {
      if (comm.rank() == 0) std::cout << desc << '\n';
      return 0;
    }
    if (max_calls < 20) throw std::invalid_argument("--calls must be >= 20");
    const std::vector<double> sizes = parse_sizes(sizes_text);
    const auto cores = static_cast<int>(std::thread::hardware_concurrency());
    nlohmann::json report = {{"world_size", comm.size()},
                             {"local_size", comm.local_size()},
                             {"cores", cores},
                             {"oversubscribed", comm.local_size() > cores},
                             {"samples", nlohmann::json::array()}};
    for (const double bytes : sizes) report["samples"].push_back(measure(comm, bytes, max_calls, budget_seconds));
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
