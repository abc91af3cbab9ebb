// nn::ClassificationTask and the confusion matrix against values computed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/task.hpp"

using namespace mpitrain;

TEST(ClassificationTask, LossGradientAndMetricsOfABatch) {
  const nn::ClassificationTask task(3);
  // Row 0: logits (1, 2, 3), label 2: loss log(e + e² + e³) - 3, correct. Row 1: (0, 5, 0), label 0: loss
  // log(2 + e⁵) - 0, predicted 1.
  std::vector<float> z = {1, 2, 3, 0, 5, 0};
  std::vector<float> g(6);
  const std::vector<std::int32_t> labels = {2, 0};
  const auto sums = task.loss(base::ConstMatrixMap(z.data(), 2, 3), labels, base::MatrixMap(g.data(), 2, 3));
  const double e = std::exp(1.0);
  const double row0 = std::log(e + e * e + e * e * e) - 3.0;
  const double row1 = std::log(2.0 + std::exp(5.0));
  EXPECT_NEAR(sums.loss, row0 + row1, 1e-6);
  EXPECT_EQ(sums.correct, 1);
  EXPECT_EQ(sums.count, 2);
  EXPECT_NEAR(g[3], 1.0 / (2.0 + std::exp(5.0)) - 1.0, 1e-6);  // softmax - onehot at the label
  EXPECT_NEAR(g[4], std::exp(5.0) / (2.0 + std::exp(5.0)), 1e-6);
  std::vector<double> per(2);
  const auto evaluated = task.evaluate(base::ConstMatrixMap(z.data(), 2, 3), labels, per);
  EXPECT_NEAR(per[0], row0, 1e-6);
  EXPECT_NEAR(per[1], row1, 1e-6);
  EXPECT_EQ(evaluated.correct, 1);
  std::vector<std::int32_t> predicted(2);
  task.predict(base::ConstMatrixMap(z.data(), 2, 3), predicted);
  EXPECT_EQ(predicted, (std::vector<std::int32_t>{2, 1}));
  std::vector<float> p(6);
  task.probabilities(base::ConstMatrixMap(z.data(), 2, 3), base::MatrixMap(p.data(), 2, 3));
  EXPECT_NEAR(p[4], std::exp(5.0) / (2.0 + std::exp(5.0)), 1e-6);
}

TEST(ClassificationTask, ChecksTheModelsOutputShape) {
  const nn::ClassificationTask task(10);
  EXPECT_NO_THROW(task.check_output_shape({10}));
  try {
    task.check_output_shape({5});
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "classification into 10 classes needs model outputs (10) per sample, the model gives (5)");
  }
  EXPECT_THROW(task.check_output_shape({2, 5}), std::invalid_argument);
  EXPECT_THROW(nn::ClassificationTask(1), std::invalid_argument);
}

TEST(Argmax, LowestIndexOnTiesAndNaNNeverWins) {
  const float nan = std::nanf("");
  EXPECT_EQ(nn::argmax(std::vector<float>{1, 3, 3, 2}), 1);
  EXPECT_EQ(nn::argmax(std::vector<float>{0, 0, 0}), 0);
  EXPECT_EQ(nn::argmax(std::vector<float>{1, nan, 2}), 2);
  EXPECT_EQ(nn::argmax(std::vector<float>{-1}), 0);
}

TEST(Confusion, CountsTruthAgainstPrediction) {
  std::vector<std::int64_t> confusion(9, 0);
  nn::add_confusion(std::vector<std::int32_t>{0, 1, 2, 2, 1}, std::vector<std::int32_t>{0, 2, 2, 1, 2}, 3, confusion);
  // rows: true class; columns: predicted.
  EXPECT_EQ(confusion, (std::vector<std::int64_t>{1, 0, 0, 0, 0, 2, 0, 1, 1}));
  EXPECT_THROW(nn::add_confusion(std::vector<std::int32_t>{3}, std::vector<std::int32_t>{0}, 3, confusion),
               std::invalid_argument);
  EXPECT_THROW(nn::add_confusion(std::vector<std::int32_t>{1}, std::vector<std::int32_t>{}, 3, confusion),
               std::invalid_argument);
}
