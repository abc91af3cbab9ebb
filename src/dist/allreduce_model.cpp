#include "mpitrain/dist/allreduce_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mpitrain::dist {

LinkModel ethernet_25g() { return LinkModel{25e-6, 25e9 / 8.0}; }

LinkModel infiniband_200g() { return LinkModel{1.5e-6, 200e9 / 8.0}; }

double ring_allreduce_seconds(const LinkModel& link, int world_size, double bytes) {
  if (world_size < 1) throw std::invalid_argument("ring allreduce: world size must be >= 1, got " + std::to_string(world_size));
  if (!(bytes >= 0.0)) throw std::invalid_argument("ring allreduce: message size must be >= 0 bytes");
  if (!(link.bandwidth_bytes_per_second > 0.0)) throw std::invalid_argument("ring allreduce: bandwidth must be > 0");
  const double n = world_size;
  return 2.0 * (n - 1.0) * link.latency_seconds + 2.0 * (n - 1.0) / n * bytes / link.bandwidth_bytes_per_second;
}

LinkModel fit_ring_allreduce(std::span<const AllreduceSample> samples) {
  // Normal equations of min Σ w (t − α x − γ y)², w = 1/t², γ = 1/β.
  double sxx = 0, sxy = 0, syy = 0, sxt = 0, syt = 0;
  int used = 0;
  double min_bytes = INFINITY, max_bytes = -INFINITY;
  for (const AllreduceSample& s : samples) {
    if (!(s.seconds > 0.0) || !std::isfinite(s.seconds)) {
      throw std::invalid_argument("allreduce fit: a measured time is not positive (" + std::to_string(s.seconds) + " s)");
    }
    if (s.world_size < 2) continue;  // a one-rank allreduce moves nothing: no information on α or β
    const double n = s.world_size;
    const double x = 2.0 * (n - 1.0);
    const double y = 2.0 * (n - 1.0) / n * s.bytes;
    const double w = 1.0 / (s.seconds * s.seconds);
    sxx += w * x * x;
    sxy += w * x * y;
    syy += w * y * y;
    sxt += w * x * s.seconds;
    syt += w * y * s.seconds;
    ++used;
    min_bytes = std::min(min_bytes, s.bytes);
    max_bytes = std::max(max_bytes, s.bytes);
  }
  if (used < 2 || !(max_bytes > min_bytes)) {
    throw std::invalid_argument("allreduce fit: need at least two samples at world size >= 2 with different message "
                                "sizes, got " + std::to_string(used));
  }
  const double det = sxx * syy - sxy * sxy;
  double alpha = det > 0.0 ? (sxt * syy - syt * sxy) / det : -1.0;
  double gamma = det > 0.0 ? (sxx * syt - sxy * sxt) / det : 0.0;
  if (alpha < 0.0) {  // latency cannot be negative: fit the bandwidth term alone
    alpha = 0.0;
    gamma = syt / syy;
  }
  if (!(gamma > 0.0)) {
    throw std::invalid_argument("allreduce fit: the times do not grow with the message size (1/bandwidth = " +
                                std::to_string(gamma) + " s/byte)");
  }
  return LinkModel{alpha, 1.0 / gamma};
}

namespace {

void check_costs(const StepCosts& c) {
  if (!(c.compute_seconds_per_sample > 0.0)) throw std::invalid_argument("projection: compute seconds per sample must be > 0");
  if (!(c.fixed_seconds_per_step >= 0.0)) throw std::invalid_argument("projection: fixed seconds per step must be >= 0");
  if (!(c.gradient_bytes >= 0.0)) throw std::invalid_argument("projection: gradient bytes must be >= 0");
  if (!(c.watts_per_rank >= 0.0)) throw std::invalid_argument("projection: watts per rank must be >= 0");
  if (c.cores < 0) throw std::invalid_argument("projection: cores must be >= 0");
}

ScalingPoint project_one(const StepCosts& c, const LinkModel& link, Scaling scaling, std::int64_t batch, int n) {
  if (n < 1) throw std::invalid_argument("projection: world size must be >= 1, got " + std::to_string(n));
  ScalingPoint p;
  p.world_size = n;
  const auto b = static_cast<double>(batch);
  // The slowest rank sets the pace: under strong scaling it holds ceil(G/N) samples.
  const double per_rank = scaling == Scaling::strong ? std::ceil(b / n) : b;
  p.samples_per_step = scaling == Scaling::strong ? b : b * n;
  const double sharing = c.cores > 0 && n > c.cores ? static_cast<double>(n) / c.cores : 1.0;
  p.compute_seconds = (c.compute_seconds_per_sample * per_rank + c.fixed_seconds_per_step) * sharing;
  p.allreduce_seconds = ring_allreduce_seconds(link, n, c.gradient_bytes);
  p.step_seconds = p.compute_seconds + p.allreduce_seconds;
  p.samples_per_second = p.samples_per_step / p.step_seconds;
  p.communication_share = p.allreduce_seconds / p.step_seconds;
  p.joules_per_sample = n * c.watts_per_rank * p.step_seconds / p.samples_per_step;
  return p;
}

}  // namespace

std::vector<ScalingPoint> project_scaling(const StepCosts& costs, const LinkModel& link, Scaling scaling,
                                          std::int64_t batch, std::span<const int> world_sizes) {
  check_costs(costs);
  if (batch < 1) throw std::invalid_argument("projection: batch must be >= 1, got " + std::to_string(batch));
  const ScalingPoint one = project_one(costs, link, scaling, batch, 1);
  std::vector<ScalingPoint> out;
  out.reserve(world_sizes.size());
  for (const int n : world_sizes) {
    ScalingPoint p = project_one(costs, link, scaling, batch, n);
    p.speedup = p.samples_per_second / one.samples_per_second;
    p.efficiency = p.speedup / n;
    out.push_back(p);
  }
  return out;
}

Scaling parse_scaling(const std::string& text) {
  if (text == "strong") return Scaling::strong;
  if (text == "weak") return Scaling::weak;
  throw std::invalid_argument("scaling must be strong or weak, got '" + text + "'");
}

}  // namespace mpitrain::dist
