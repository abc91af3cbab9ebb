// Learning-rate schedules at chosen steps, against values computed by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "mpitrain/optim/schedule.hpp"

using namespace mpitrain::optim;
using mpitrain::config::OptimConfig;

TEST(Schedule, ConstantIsTheLearningRate) {
  const LearningRateSchedule s({.learning_rate = 0.003});
  EXPECT_EQ(s.at(0), 0.003);
  EXPECT_EQ(s.at(123456), 0.003);
}

TEST(Schedule, StepMultipliesByGammaEveryNSteps) {
  // PyTorch StepLR(step_size = 3, gamma = 0.5) from 0.1: steps 0-2 at 0.1, 3-5 at 0.05, 6-8 at 0.025.
  const LearningRateSchedule s({.learning_rate = 0.1, .schedule = "step", .step_every = 3, .step_gamma = 0.5});
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(2), 0.1);
  EXPECT_DOUBLE_EQ(s.at(3), 0.05);
  EXPECT_DOUBLE_EQ(s.at(5), 0.05);
  EXPECT_DOUBLE_EQ(s.at(6), 0.025);
  EXPECT_DOUBLE_EQ(s.at(30), 0.1 / 1024);
}

TEST(Schedule, WarmupCosineAtItsLandmarks) {
  // lr0 = 1e-3, W = 4, D = 12, lr_f = 1e-4.
  const LearningRateSchedule s({.learning_rate = 1e-3, .schedule = "warmup_cosine", .warmup_steps = 4,
                                .decay_steps = 12, .final_learning_rate = 1e-4});
  EXPECT_DOUBLE_EQ(s.at(0), 1e-3 / 5);      // warm-up start: lr0 · 1 / (W + 1)
  EXPECT_DOUBLE_EQ(s.at(3), 1e-3 * 4 / 5);  // last warm-up step
  EXPECT_DOUBLE_EQ(s.at(4), 1e-3);          // warm-up end: the peak
  // A quarter of the cosine (s = 6): lr_f + ½(1 + cos(π/4))(lr0 - lr_f) = 1e-4 + ½(1 + 0.70710678)·9e-4.
  EXPECT_NEAR(s.at(6), 8.681980515e-4, 1e-12);
  EXPECT_NEAR(s.at(8), 5.5e-4, 1e-15);      // the midpoint: the mean of lr0 and lr_f
  EXPECT_NEAR(s.at(12), 1e-4, 1e-15);       // D: the final rate
  EXPECT_DOUBLE_EQ(s.at(13), 1e-4);         // and after it
  EXPECT_DOUBLE_EQ(s.at(1000000), 1e-4);
  for (std::int64_t step = 4; step < 12; ++step) EXPECT_GT(s.at(step), s.at(step + 1)) << step;
}

TEST(Schedule, CosineWithoutWarmupStartsAtThePeak) {
  const LearningRateSchedule s({.learning_rate = 0.2, .schedule = "warmup_cosine", .decay_steps = 2});
  EXPECT_DOUBLE_EQ(s.at(0), 0.2);
  EXPECT_NEAR(s.at(1), 0.1, 1e-15);
  EXPECT_EQ(s.at(2), 0.0);
}

TEST(Schedule, UnusableOptionsNameTheKey) {
  const auto message = [](const OptimConfig& o) {
    try {
      LearningRateSchedule s(o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({.schedule = "step"}).find("optim.step_every"), std::string::npos);
  EXPECT_NE(message({.schedule = "warmup_cosine", .warmup_steps = 5, .decay_steps = 5}).find("optim.decay_steps"),
            std::string::npos);
  EXPECT_NE(message({.schedule = "linear"}).find("optim.schedule"), std::string::npos);
}
