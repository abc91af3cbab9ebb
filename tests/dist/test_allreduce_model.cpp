// Unit tests of the allreduce cost model, its fit and the scaling projection, against hand-computed values
// (the arithmetic is written out in the comments).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "mpitrain/dist/allreduce_model.hpp"

namespace mpitrain::dist {
namespace {

TEST(RingAllreduce, HandComputedCosts) {
  // 25 GbE, N = 4, 1e6 bytes: 2·3·25e-6 + 2·3/4·1e6/3.125e9 = 1.5e-4 + 4.8e-4 = 6.3e-4 s.
  EXPECT_NEAR(ring_allreduce_seconds(ethernet_25g(), 4, 1e6), 6.3e-4, 1e-12);
  // 200 Gb/s IB, N = 8, the Fashion-MNIST MLP's 235146 floats = 940584 bytes:
  // 2·7·1.5e-6 + 2·7/8·940584/25e9 = 2.1e-5 + 6.584088e-5 = 8.684088e-5 s.
  EXPECT_NEAR(ring_allreduce_seconds(infiniband_200g(), 8, 940584.0), 8.684088e-5, 1e-12);
  // One rank sends nothing.
  EXPECT_EQ(ring_allreduce_seconds(ethernet_25g(), 1, 1e9), 0.0);
  // The bandwidth term tends to 2·n/β: N = 1024, 1e9 bytes over 1 GB/s with no latency: 2·1023/1024 s.
  EXPECT_NEAR(ring_allreduce_seconds(LinkModel{0.0, 1e9}, 1024, 1e9), 2.0 * 1023.0 / 1024.0, 1e-12);
  EXPECT_THROW((void)ring_allreduce_seconds(ethernet_25g(), 0, 1.0), std::invalid_argument);
  EXPECT_THROW((void)ring_allreduce_seconds(LinkModel{1e-6, 0.0}, 2, 1.0), std::invalid_argument);
}

TEST(RingAllreduceFit, RecoversTheParametersOfExactTimes) {
  const LinkModel truth{10e-6, 2e9};
  std::vector<AllreduceSample> samples;
  for (const int n : {1, 2, 3, 4}) {
    for (const double bytes : {4096.0, 65536.0, 1048576.0}) {
      samples.push_back({n, bytes, n == 1 ? 1e-7 : ring_allreduce_seconds(truth, n, bytes)});
    }
  }
  const LinkModel fit = fit_ring_allreduce(samples);
  EXPECT_NEAR(fit.latency_seconds, 10e-6, 1e-15);
  EXPECT_NEAR(fit.bandwidth_bytes_per_second / 2e9, 1.0, 1e-9);
}

TEST(RingAllreduceFit, NegativeLatencyIsClampedAndTheBandwidthRefitted) {
  // N = 2 (x = 2, y = n): (1000 B, 1 µs) and (2000 B, 3 µs) fit exactly with 1/β = 2e-9 and α = -0.5 µs.
  // With α = 0: 1/β = Σ w·y·t / Σ w·y², w = 1/t²: (1e9 + 2000·3e-6/9e-12) / (1e18 + 4e6/9e-12)
  // = (1 + 2/3)e9 / (1 + 4/9)e18 = (15/13)e-9, so β = (13/15)e9 B/s.
  const std::vector<AllreduceSample> samples{{2, 1000.0, 1e-6}, {2, 2000.0, 3e-6}};
  const LinkModel fit = fit_ring_allreduce(samples);
  EXPECT_EQ(fit.latency_seconds, 0.0);
  EXPECT_NEAR(fit.bandwidth_bytes_per_second / (13.0 / 15.0 * 1e9), 1.0, 1e-12);
}

TEST(RingAllreduceFit, NoisyTimesGiveTheWeightedLeastSquaresOptimum) {
  // The fit minimises Σ ((t − model)/t)²: any small change of α or 1/β must not lower that sum.
  const std::vector<AllreduceSample> samples{
      {2, 4096.0, 9.1e-6}, {2, 65536.0, 2.4e-5}, {2, 1048576.0, 5.3e-4}, {3, 4096.0, 1.6e-5}, {3, 1048576.0, 8.1e-4}};
  const LinkModel fit = fit_ring_allreduce(samples);
  ASSERT_GT(fit.latency_seconds, 0.0);
  const auto objective = [&](double alpha, double gamma) {
    double sum = 0.0;
    for (const AllreduceSample& s : samples) {
      const double r = (s.seconds - ring_allreduce_seconds(LinkModel{alpha, 1.0 / gamma}, s.world_size, s.bytes)) / s.seconds;
      sum += r * r;
    }
    return sum;
  };
  const double alpha = fit.latency_seconds;
  const double gamma = 1.0 / fit.bandwidth_bytes_per_second;
  const double best = objective(alpha, gamma);
  for (const double f : {0.99, 1.01}) {
    EXPECT_GT(objective(alpha * f, gamma), best);
    EXPECT_GT(objective(alpha, gamma * f), best);
  }
}

TEST(RingAllreduceFit, RejectsTooLittleOrFlatData) {
  const std::vector<AllreduceSample> one_size{{2, 1000.0, 1e-6}, {3, 1000.0, 2e-6}};
  EXPECT_THROW((void)fit_ring_allreduce(one_size), std::invalid_argument);
  const std::vector<AllreduceSample> shrinking{{2, 1000.0, 5e-6}, {2, 1e6, 1e-6}};
  EXPECT_THROW((void)fit_ring_allreduce(shrinking), std::invalid_argument);
  const std::vector<AllreduceSample> zero_time{{2, 1000.0, 0.0}, {2, 1e6, 1e-6}};
  EXPECT_THROW((void)fit_ring_allreduce(zero_time), std::invalid_argument);
}

TEST(Projection, StrongScalingHandComputed) {
  // c = 1e-4 s/sample, fixed 1e-3 s/step, 1e6 bytes, 10 W per rank, α = 1e-5 s, β = 1e9 B/s, G = 64.
  const StepCosts costs{1e-4, 1e-3, 1e6, 10.0, 0};
  const LinkModel link{1e-5, 1e9};
  const std::vector<int> sizes{1, 2, 3};
  const auto p = project_scaling(costs, link, Scaling::strong, 64, sizes);
  ASSERT_EQ(p.size(), 3u);
  // N = 1: 64·1e-4 + 1e-3 = 7.4e-3 s; 1·10·7.4e-3/64 = 1.15625e-3 J per sample.
  EXPECT_NEAR(p[0].step_seconds, 7.4e-3, 1e-15);
  EXPECT_NEAR(p[0].joules_per_sample, 1.15625e-3, 1e-15);
  EXPECT_NEAR(p[0].efficiency, 1.0, 1e-15);
  // N = 2: compute 32e-4 + 1e-3 = 4.2e-3; allreduce 2e-5 + 1e-3 = 1.02e-3; step 5.22e-3;
  // speedup 7.4/5.22; efficiency half that; share 1.02/5.22; 2·10·5.22e-3/64 = 1.63125e-3 J.
  EXPECT_NEAR(p[1].compute_seconds, 4.2e-3, 1e-15);
  EXPECT_NEAR(p[1].allreduce_seconds, 1.02e-3, 1e-15);
  EXPECT_NEAR(p[1].speedup, 7.4 / 5.22, 1e-12);
  EXPECT_NEAR(p[1].efficiency, 7.4 / 5.22 / 2.0, 1e-12);
  EXPECT_NEAR(p[1].communication_share, 1.02 / 5.22, 1e-12);
  EXPECT_NEAR(p[1].joules_per_sample, 1.63125e-3, 1e-15);
  // N = 3: the slowest rank has ceil(64/3) = 22 samples: 2.2e-3 + 1e-3 = 3.2e-3; allreduce
  // 4e-5 + (4/3)e-3; step 4.573333e-3 s.
  EXPECT_NEAR(p[2].compute_seconds, 3.2e-3, 1e-15);
  EXPECT_NEAR(p[2].step_seconds, 3.2e-3 + 4e-5 + 4e-3 / 3.0, 1e-15);
  EXPECT_DOUBLE_EQ(p[2].samples_per_step, 64.0);
}

TEST(Projection, WeakScalingWithOversubscribedCores) {
  // b = 16 per rank, 2 cores, N = 4: compute (16e-4 + 1e-3)·4/2 = 5.2e-3; allreduce 6e-5 + 1.5e-3;
  // step 6.76e-3 s for 64 samples. N = 1: 2.6e-3 s for 16 samples. Speedup (64/6.76)/(16/2.6) = 1.538462;
  // energy 4·10·6.76e-3/64 = 4.225e-3 J per sample.
  const StepCosts costs{1e-4, 1e-3, 1e6, 10.0, 2};
  const std::vector<int> sizes{4};
  const auto p = project_scaling(costs, LinkModel{1e-5, 1e9}, Scaling::weak, 16, sizes);
  EXPECT_NEAR(p[0].compute_seconds, 5.2e-3, 1e-15);
  EXPECT_NEAR(p[0].step_seconds, 6.76e-3, 1e-15);
  EXPECT_NEAR(p[0].speedup, (64.0 / 6.76e-3) / (16.0 / 2.6e-3), 1e-9);
  EXPECT_NEAR(p[0].efficiency, 2.6 / 6.76, 1e-12);
  EXPECT_NEAR(p[0].joules_per_sample, 4.225e-3, 1e-15);
  EXPECT_THROW((void)project_scaling(costs, LinkModel{1e-5, 1e9}, Scaling::weak, 0, sizes), std::invalid_argument);
  EXPECT_THROW((void)project_scaling(StepCosts{}, LinkModel{1e-5, 1e9}, Scaling::weak, 16, sizes), std::invalid_argument);
  EXPECT_EQ(parse_scaling("weak"), Scaling::weak);
  EXPECT_THROW((void)parse_scaling("sideways"), std::invalid_argument);
}

}  // namespace
}  // namespace mpitrain::dist
