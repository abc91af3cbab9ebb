// The Green Algorithms estimate, the carbon conversion and the run prediction against numbers worked out
// by hand (shown beside each expectation).
#include <gtest/gtest.h>

#include <stdexcept>

#include "mpitrain/energy/energy_estimate.hpp"
#include "mpitrain/energy/energy_prediction.hpp"

using namespace mpitrain::energy;

TEST(EnergyEstimate, GreenAlgorithmsByHand) {
  // 1 h on 4 cores at 12 W, half used, 16 GB of memory:
  //   CPU 3600 s · 4 · 12 W · 0.5 = 86 400 J (0.024 kWh); RAM 3600 s · 16 GB · 0.3725 W/GB = 21 456 J.
  const auto e = green_algorithms_energy({3600.0, 4.0, 0.5, 12.0, 16.0});
  EXPECT_DOUBLE_EQ(e.cpu_joules, 86400.0);
  EXPECT_DOUBLE_EQ(e.ram_joules, 21456.0);
  EXPECT_DOUBLE_EQ(e.it_joules(), 107856.0);
  EXPECT_DOUBLE_EQ(to_kwh(e.it_joules()), 0.02996);
  // PUE 1.5: 161 784 J = 0.04494 kWh; at 475 g/kWh: 21.3465 g = 0.0213465 kg.
  const double facility = facility_joules(e.it_joules(), 1.5);
  EXPECT_DOUBLE_EQ(facility, 161784.0);
  EXPECT_DOUBLE_EQ(co2e_kg(facility, 475.0), 0.0213465);
}

TEST(EnergyEstimate, PaperDefaults) {
  // 10 min on one core at the default 12 W, fully used, 2 GB: 600 · (12 + 0.745) = 7647 J.
  const auto e = green_algorithms_energy({600.0, 1.0, 1.0, 12.0, 2.0});
  EXPECT_DOUBLE_EQ(e.it_joules(), 7647.0);
  // Memory alone at the paper's P_m = 0.3725 W/GB: 64 GB draw 64 · 0.3725 = 23.84 W, so one hour is
  // 3600 s · 23.84 W = 85 824 J (0.023 84 kWh), whatever the cores do.
  const auto m = green_algorithms_energy({3600.0, 0.0, 0.0, 12.0, 64.0});
  EXPECT_DOUBLE_EQ(m.cpu_joules, 0.0);
  EXPECT_DOUBLE_EQ(m.ram_joules, 85824.0);
  EXPECT_DOUBLE_EQ(to_kwh(m.ram_joules), 0.02384);
}

TEST(EnergyEstimate, CoreUsageFromCpuTime) {
  EXPECT_DOUBLE_EQ(core_usage(7200.0, 3600.0, 4.0), 0.5);  // 2 core-hours of 4 available
  EXPECT_DOUBLE_EQ(core_usage(20000.0, 3600.0, 4.0), 1.0);  // capped
  EXPECT_DOUBLE_EQ(core_usage(5.0, 0.0, 4.0), 0.0);
  EXPECT_DOUBLE_EQ(core_usage(5.0, 10.0, 0.0), 0.0);
}

TEST(EnergyEstimate, RejectsBadInput) {
  EXPECT_THROW(green_algorithms_energy({-1.0, 1.0, 1.0, 12.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(green_algorithms_energy({1.0, 1.0, 1.5, 12.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(facility_joules(1.0, 0.9), std::invalid_argument);
}

TEST(EnergyPrediction, LinearFromTheWindowAfterWarmup) {
  // Steps 10..50 took 8 s and 400 J: 0.2 s and 10 J per step. 950 steps remain of 1000:
  // 10 + 950 · 0.2 = 200 s; 500 + 950 · 10 = 10 000 J.
  const auto p = predict_run({10, 2.0, 100.0}, {50, 10.0, 500.0}, 1000);
  EXPECT_EQ(p.at_step, 50);
  EXPECT_DOUBLE_EQ(p.seconds, 200.0);
  EXPECT_DOUBLE_EQ(p.joules, 10000.0);
  EXPECT_THROW(predict_run({50, 1.0, 1.0}, {50, 2.0, 2.0}, 100), std::invalid_argument);
  EXPECT_THROW(predict_run({10, 1.0, 1.0}, {50, 2.0, 2.0}, 40), std::invalid_argument);
}

TEST(EnergyPrediction, WarmupIsAFifth) {
  EXPECT_EQ(warmup_steps(50), 10);
  EXPECT_EQ(warmup_steps(4), 0);
  EXPECT_EQ(warmup_steps(0), 0);
}
