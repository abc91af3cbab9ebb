#pragma once
/// @file allreduce_model.hpp
/// A performance model of data-parallel training: the α–β (Hockney) cost of a ring allreduce, a fit of α
/// and β from measured allreduce times, and a projection of step time, scaling efficiency and energy per
/// sample to world sizes beyond the machine in hand. Pure arithmetic: no MPI.
///
/// The ring allreduce (a reduce-scatter then an allgather, each N−1 steps in which every rank sends and
/// receives n/N bytes to and from its ring neighbours) costs
///
///     T(N, n) = 2(N−1)·α + 2(N−1)/N · n/β            (seconds)
///
/// with α the latency of one message (seconds), β the bandwidth of one link (bytes per second) and n the
/// message size (bytes); the reduction's arithmetic (the γ term) is neglected, being far cheaper than the
/// transfer on a CPU at these sizes. Source: P. Patarasuk and X. Yuan, "Bandwidth optimal all-reduce
/// algorithms for clusters of workstations", J. Parallel Distrib. Comput. 69(2), 2009, §3 (the ring and its
/// bandwidth optimality); R. Thakur, R. Rabenseifner and W. Gropp, "Optimization of collective
/// communication operations in MPICH", IJHPCA 19(1), 2005, §4.4 (the reduce-scatter + allgather cost
/// 2(p−1)α + 2(p−1)/p·nβ, β there being seconds per byte).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mpitrain::dist {

/// The two parameters of the α–β model of one network link.
struct LinkModel {
  double latency_seconds = 0.0;             ///< α: time of one message of zero bytes (seconds), >= 0.
  double bandwidth_bytes_per_second = 0.0;  ///< β: bytes per second one link carries, > 0.
};

/// Stated defaults for networks not in hand (typical figures, not measured here):
/// 25 Gb/s Ethernet with MPI over TCP: β = 25e9/8 = 3.125e9 B/s (line rate), α = 25 µs (kernel TCP stack
/// and NIC, one-way MPI latency is typically 10–30 µs on 10/25 GbE).
LinkModel ethernet_25g();
/// 200 Gb/s InfiniBand (HDR) with RDMA: β = 200e9/8 = 25e9 B/s (line rate), α = 1.5 µs (MPI one-way
/// latency over HDR is typically 1–2 µs).
LinkModel infiniband_200g();

/// Ring allreduce time T(N, n) = 2(N−1)·α + 2(N−1)/N · n/β in seconds; 0 at world size 1.
/// @param world_size N >= 1. @param bytes n >= 0, the message size in bytes.
/// @throws std::invalid_argument for N < 1, n < 0 or β <= 0.
double ring_allreduce_seconds(const LinkModel& link, int world_size, double bytes);

/// One measured allreduce: world size N, message size in bytes, time in seconds.
struct AllreduceSample {
  int world_size = 1;
  double bytes = 0.0;
  double seconds = 0.0;
};

/// Fits α and β to measured allreduce times by weighted linear least squares on the model
/// t = α·x + (1/β)·y with x = 2(N−1) and y = 2(N−1)/N·n, each residual divided by its measured time (so a
/// 4 KiB and a 4 MiB message count alike; the times span orders of magnitude). If the unconstrained α is
/// negative, α = 0 and 1/β is refitted alone.
/// @param samples at least two with N >= 2 and at least two distinct message sizes; times > 0.
/// @throws std::invalid_argument when there are too few samples, a time is not positive, or the times do
///         not grow with the message size (1/β <= 0).
LinkModel fit_ring_allreduce(std::span<const AllreduceSample> samples);

/// Strong scaling keeps the global batch fixed (each of N ranks gets G/N samples per step); weak scaling
/// keeps the per-rank batch fixed (the global batch grows as N·b).
enum class Scaling { strong, weak };

/// What one step costs, measured on one rank (the inputs of project_scaling).
struct StepCosts {
  double compute_seconds_per_sample = 0.0;  ///< forward + backward per sample on one rank (s), > 0.
  double fixed_seconds_per_step = 0.0;      ///< per-step work independent of the batch (optimizer) (s), >= 0.
  double gradient_bytes = 0.0;              ///< bytes allreduced per step (parameters × 4 for float), >= 0.
  double watts_per_rank = 0.0;              ///< power one rank draws while computing or waiting (W), >= 0.
  /// Cores available; when N > cores the N ranks time-share them and compute takes N/cores times longer
  /// (processor sharing). 0: one core per rank at every N (a cluster).
  int cores = 0;
};

/// One world size of a projection.
struct ScalingPoint {
  int world_size = 1;
  double samples_per_step = 0.0;    ///< the global batch (samples).
  double compute_seconds = 0.0;     ///< c·ceil(G/N) (strong) or c·b (weak), plus the fixed part, × N/cores if over.
  double allreduce_seconds = 0.0;   ///< ring_allreduce_seconds(link, N, gradient_bytes).
  double step_seconds = 0.0;        ///< compute + allreduce (no overlap: one fused allreduce after backward).
  double samples_per_second = 0.0;  ///< samples_per_step / step_seconds.
  double speedup = 0.0;             ///< samples_per_second / that at N = 1.
  double efficiency = 0.0;          ///< speedup / N.
  double communication_share = 0.0; ///< allreduce_seconds / step_seconds.
  double joules_per_sample = 0.0;   ///< N · watts_per_rank · step_seconds / samples_per_step (J).
};

/// Projects a step at each of @p world_sizes. Model: step = compute + allreduce, where compute is
/// c·(samples per rank) + fixed (slowest rank: ceil(G/N) samples under strong scaling), allreduce is the
/// ring cost above, and every rank draws watts_per_rank for the whole step (busy-polling MPI keeps a core
/// busy while waiting). Not modelled: overlap of communication with backward, stragglers, the network's
/// topology and contention (a non-blocking fabric is assumed), switch and NIC power.
/// @param batch the global batch G (strong) or the per-rank batch b (weak), >= 1.
/// @throws std::invalid_argument for a world size < 1, batch < 1, or costs out of range.
std::vector<ScalingPoint> project_scaling(const StepCosts& costs, const LinkModel& link, Scaling scaling,
                                          std::int64_t batch, std::span<const int> world_sizes);

/// Parses "strong" or "weak". @throws std::invalid_argument otherwise.
Scaling parse_scaling(const std::string& text);

}  // namespace mpitrain::dist
