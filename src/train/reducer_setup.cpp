#include "mpitrain/train/reducer_setup.hpp"

#include "mpitrain/nn/matmul.hpp"

#include <sched.h>
#include <spdlog/spdlog.h>

#include <Eigen/Core>
#include <algorithm>
#include <stdexcept>
#include <thread>

namespace mpitrain::train {

std::vector<dist::GradientRange> gradient_ready_order(const nn::Model& model) {
  std::vector<dist::GradientRange> order;
  for (const auto& group : model.ready_order()) {
    for (const base::Range& r : group) order.push_back({r.begin, r.size()});
  }
  return order;
}

std::unique_ptr<dist::GradientReducer> make_reducer(const config::DistConfig& dist, const dist::Communicator& comm,
                                                    const nn::Model& model) {
  dist::ReducerOptions options;
  options.reducer = dist.reducer;
  options.bucket_mb = dist.bucket_mb;
  try {
    options.compression = dist::parse_compression(dist.compression);
    return dist::make_gradient_reducer(comm, options, gradient_ready_order(model));
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError(e.what());
  }
}

int configure_threads(int threads, const dist::Communicator& comm) {
  nn::set_compute_threads(threads);
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (comm.local_rank() == 0 && static_cast<long>(comm.local_size()) * threads > cpus) {
    spdlog::warn("{} ranks on this node × train.threads = {} exceeds its {} logical CPUs: threads will "
                 "time-share cores", comm.local_size(), threads, cpus);
  }
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (threads > 1 && sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_COUNT(&mask) < threads) {
    spdlog::warn("train.threads = {} but this rank may only run on {} CPU(s) (its affinity mask; mpirun binds "
                 "to one core by default: use --bind-to none or --map-by slot:PE={})",
                 threads, CPU_COUNT(&mask), threads);
  }
  return cpus;
}

}  // namespace mpitrain::train
