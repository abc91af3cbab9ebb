// nn::ClassificationTask and the confusion matrix against values computed by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
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

// LanguageModelTask against a direct per-token computation in double: for each sample i and position t, the
// logits z = outputs[i, t·V .. (t+1)·V), loss = log Σ_j exp(z_j) − z_target, gradient softmax(z) − onehot.
TEST(LanguageModelTask, LossAndGradientPerTokenAgainstADirectComputationInDouble) {
  const std::int64_t rows = 3, t_len = 4;
  const int v = 5;
  const nn::LanguageModelTask task(t_len, v);
  EXPECT_EQ(task.targets_per_sample(), t_len);
  EXPECT_EQ(task.classes(), v);
  std::vector<float> z(static_cast<std::size_t>(rows * t_len * v));
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) * 3.0);
  std::vector<std::int32_t> targets(static_cast<std::size_t>(rows * t_len));
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<std::int32_t>((7 * i + 3) % v);
  std::vector<float> g(z.size());
  const base::ConstMatrixMap outputs(z.data(), rows, t_len * v);
  const auto sums = task.loss(outputs, targets, base::MatrixMap(g.data(), rows, t_len * v));

  double total = 0.0;
  std::int64_t correct = 0;
  std::vector<double> per_token;
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t t = 0; t < t_len; ++t) {
      const float* logits = z.data() + (i * t_len + t) * v;
      const int y = targets[static_cast<std::size_t>(i * t_len + t)];
      double sum = 0.0;
      int best = 0;
      for (int j = 0; j < v; ++j) {
        sum += std::exp(static_cast<double>(logits[j]));
        if (logits[j] > logits[best]) best = j;
      }
      const double loss = std::log(sum) - logits[y];
      per_token.push_back(loss);
      total += loss;
      correct += best == y ? 1 : 0;
      for (int j = 0; j < v; ++j) {
        const double want = std::exp(static_cast<double>(logits[j])) / sum - (j == y ? 1.0 : 0.0);
        EXPECT_NEAR(g[static_cast<std::size_t>((i * t_len + t) * v + j)], want, 1e-6) << i << " " << t << " " << j;
      }
    }
  }
  EXPECT_NEAR(sums.loss, total, 1e-5);
  EXPECT_EQ(sums.count, rows * t_len);  // tokens, so that the trainer's division averages per token
  EXPECT_EQ(sums.correct, correct);

  std::vector<double> per(targets.size());
  const auto evaluated = task.evaluate(outputs, targets, per);
  EXPECT_NEAR(evaluated.loss, total, 1e-5);
  for (std::size_t k = 0; k < per.size(); ++k) EXPECT_NEAR(per[k], per_token[k], 1e-6);
  std::vector<std::int32_t> predicted(targets.size());
  task.predict(outputs, predicted);
  for (std::size_t k = 0; k < predicted.size(); ++k) {
    const float* logits = z.data() + k * v;
    EXPECT_EQ(predicted[k], std::max_element(logits, logits + v) - logits);
  }
  std::vector<float> p(z.size());
  task.probabilities(outputs, base::MatrixMap(p.data(), rows, t_len * v));
  for (std::int64_t k = 0; k < rows * t_len; ++k) {
    double s = 0;
    for (int j = 0; j < v; ++j) s += p[static_cast<std::size_t>(k * v + j)];
    EXPECT_NEAR(s, 1.0, 1e-6);
  }
}

TEST(LanguageModelTask, BitsPerByteAndPerplexity) {
  // A uniform model over 256 bytes: loss ln 256 per token, 8 bits per byte, perplexity 256.
  EXPECT_NEAR(nn::bits_per_byte(std::log(256.0)), 8.0, 1e-12);
  EXPECT_NEAR(nn::perplexity(std::log(256.0)), 256.0, 1e-9);
  EXPECT_NEAR(nn::bits_per_byte(1.0), 1.0 / std::log(2.0), 1e-12);
  EXPECT_NEAR(nn::perplexity(0.0), 1.0, 1e-15);
}

TEST(LanguageModelTask, ChecksTheModelsOutputShape) {
  const nn::LanguageModelTask task(16, 256);
  EXPECT_NO_THROW(task.check_output_shape({16, 256}));
  try {
    task.check_output_shape({16, 32});
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("needs model outputs (16, 256) per sample (logits per position), the model "
                                         "gives (16, 32)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(task.check_output_shape({4096}), std::invalid_argument);
  EXPECT_THROW(nn::LanguageModelTask(0, 256), std::invalid_argument);
  EXPECT_THROW(nn::LanguageModelTask(16, 1), std::invalid_argument);
}
