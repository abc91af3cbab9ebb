// explain under mpirun with 1, 2 and 3 ranks: permutation importance against known answers (a constant
// model gives zeros; a column that leaks the label ranks first; a linear model on standardised features
// under squared error gives 2·coef²), and world-size invariance: explain_dataset and permutation_importance
// over all ranks equal, bit for bit, the same calls on this rank alone (MPI_COMM_SELF). importance.csv's
// statistics against a case worked by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/gradient_check.hpp"
#include "common/mpi_gtest.hpp"
#include "mpitrain/explain/explanation.hpp"
#include "mpitrain/explain/importance.hpp"
#include "mpitrain/explain/permutation.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/task.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace mpitrain::explain {
namespace {

using base::ConstMatrixMap;
using base::RowMatrix;
using test::world;

constexpr std::int64_t rows = 2 * train::evaluation_chunk_rows + 89;  // three chunks, the last partial

nn::Model dense_model(std::int64_t inputs, std::int64_t units, const std::vector<float>& kernel,
                      std::vector<float> bias) {
  nn::Model model(nn::parse_model_spec("{\"input_shape\": [" + std::to_string(inputs) +
                                       "], \"layers\": [{\"type\": \"dense\", \"units\": " + std::to_string(units) +
                                       "}]}"));
  std::copy(kernel.begin(), kernel.end(), model.parameters().begin());
  std::copy(bias.begin(), bias.end(), model.parameters().begin() + static_cast<std::ptrdiff_t>(kernel.size()));
  model.reserve(train::evaluation_chunk_rows);
  return model;
}

// Correct predictions of a chunk (the accuracy score).
ChunkScore accuracy(nn::Model& model, const std::vector<std::int32_t>& labels) {
  return [&model, &labels](ConstMatrixMap x, std::int64_t first) {
    const ConstMatrixMap z = model.forward(x, nn::Context::evaluation());
    double correct = 0.0;
    for (std::int64_t i = 0; i < z.rows(); ++i) {
      Eigen::Index best = 0;
      z.row(i).maxCoeff(&best);
      correct += best == labels[static_cast<std::size_t>(first + i)] ? 1.0 : 0.0;
    }
    return correct;
  };
}

std::vector<FeatureGroup> singles(std::int64_t f) { return feature_groups("single", {f}); }

TEST(PermutationImportance, ConstantModelGivesZeros) {
  nn::Model model = dense_model(4, 2, std::vector<float>(8, 0.0f), {0.3f, -0.2f});
  const RowMatrix x = test::random_matrix(rows, 4, 1);
  std::vector<std::int32_t> labels(rows);
  for (std::int64_t i = 0; i < rows; ++i) labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % 2);
  const PermutationResult r = permutation_importance(x, singles(4), 5, 1, accuracy(model, labels), *world);
  ASSERT_EQ(r.drops.size(), 20u);
  for (const double d : r.drops) EXPECT_EQ(d, 0.0);
  EXPECT_NEAR(r.score, static_cast<double>((rows + 1) / 2) / rows, 1e-15);  // class 0 always: the even rows
}

TEST(PermutationImportance, ALeakingColumnRanksFirst) {
  const std::int64_t f = 5;
  RowMatrix x = test::random_matrix(rows, f, 2);
  std::vector<std::int32_t> labels(rows);
  std::mt19937 gen(3);
  for (std::int64_t i = 0; i < rows; ++i) {
    labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(gen() % 2);
    x(i, 3) = (labels[static_cast<std::size_t>(i)] == 1 ? 1.0f : -1.0f) + 0.1f * x(i, 3);  // the leak
  }
  // Logit difference 4·x3 plus 0.5 of each other column: column 3 decides nearly every sample.
  std::vector<float> kernel(static_cast<std::size_t>(2 * f), 0.0f);
  for (std::int64_t j = 0; j < f; ++j) kernel[static_cast<std::size_t>(j * 2 + 1)] = j == 3 ? 4.0f : 0.5f;
  nn::Model model = dense_model(f, 2, kernel, {0.0f, 0.0f});
  const auto groups = singles(f);
  const PermutationResult r = permutation_importance(x, groups, 5, 4, accuracy(model, labels), *world);
  const std::vector<std::size_t> order = permutation_order(r, groups.size());
  EXPECT_EQ(groups[order[0]].name, "x_3");
  EXPECT_GT(r.mean(3), 0.3);
  EXPECT_GT(r.score, 0.85);
}

// y = X·β on standardised X (mean 0, variance 1 per column), score = −mean squared error. Shuffling column
// j adds β_j·(x_j − x_π(j)) to the residual: its expected square is β_j²·2·var(x_j) = 2β_j².
TEST(PermutationImportance, LinearRegressionGivesTwiceTheSquaredCoefficients) {
  const std::int64_t n = 2000, f = 4;
  const std::vector<double> beta{2.0, -1.0, 0.5, 0.0};
  std::mt19937 gen(5);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd raw(n, f);
  for (std::int64_t i = 0; i < raw.size(); ++i) raw.data()[i] = normal(gen);
  RowMatrix x(n, f);
  for (std::int64_t j = 0; j < f; ++j) {
    const double mean = raw.col(j).mean();
    const double sd = std::sqrt((raw.col(j).array() - mean).square().mean());
    for (std::int64_t i = 0; i < n; ++i) x(i, j) = static_cast<float>((raw(i, j) - mean) / sd);
  }
  std::vector<float> kernel(beta.begin(), beta.end());
  nn::Model model = dense_model(f, 1, kernel, {0.0f});
  std::vector<double> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < f; ++j) y[static_cast<std::size_t>(i)] += beta[static_cast<std::size_t>(j)] * x(i, j);
  }
  // The task has no regression: the squared error is computed here, against y.
  const ChunkScore minus_squared_error = [&](ConstMatrixMap rows_x, std::int64_t first) {
    const ConstMatrixMap z = model.forward(rows_x, nn::Context::evaluation());
    double s = 0.0;
    for (std::int64_t i = 0; i < z.rows(); ++i) {
      const double e = y[static_cast<std::size_t>(first + i)] - z(i, 0);
      s += e * e;
    }
    return -s;
  };
  const PermutationResult r = permutation_importance(x, singles(f), 50, 6, minus_squared_error, *world);
  for (std::size_t j = 0; j < 3; ++j) {
    const double expected = 2.0 * beta[j] * beta[j];
    EXPECT_NEAR(r.mean(j), expected, 0.1 * expected) << "feature " << j;
    EXPECT_GT(r.std(j), 0.0);
  }
  EXPECT_EQ(r.mean(3), 0.0);
}

// Every rank's result equals this rank's result alone, bit for bit.
TEST(WorldSize, PermutationImportanceEqualsOneRank) {
  const RowMatrix x = test::random_matrix(rows, 6, 7);
  std::vector<std::int32_t> labels(rows);
  for (std::int64_t i = 0; i < rows; ++i) labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 7) % 3);
  const RowMatrix k = test::random_matrix(1, 18, 8);
  nn::Model model = dense_model(6, 3, std::vector<float>(k.data(), k.data() + 18), {0.1f, 0.0f, -0.1f});
  const auto groups = singles(6);
  const PermutationResult all = permutation_importance(x, groups, 3, 9, accuracy(model, labels), *world);
  const dist::Communicator self(MPI_COMM_SELF);
  const PermutationResult alone = permutation_importance(x, groups, 3, 9, accuracy(model, labels), self);
  EXPECT_EQ(all.score, alone.score);
  EXPECT_EQ(all.drops, alone.drops);
  EXPECT_EQ(permutation_csv(all, groups), permutation_csv(alone, groups));
}

TEST(WorldSize, AttributionsAndImportanceEqualOneRank) {
  nn::Model model(nn::parse_model_spec(R"({"input_shape": [4, 4, 1], "layers": [
      {"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": "same", "activation": "relu"},
      {"type": "batch_norm"}, {"type": "flatten"}, {"type": "dense", "units": 8},
      {"type": "activation", "activation": "tanh"}, {"type": "dense", "units": 3}]})"));
  model.init(10);
  data::Dataset ds;
  ds.features = test::random_matrix(rows, 16, 11);
  ds.shape = {4, 4, 1};
  for (std::int64_t i = 0; i < rows; ++i) ds.labels.push_back(static_cast<std::int32_t>(i % 3));
  AttributionOptions o;
  o.method = parse_method("smoothgrad:integrated_gradients");
  o.samples = 2;
  o.steps = 4;
  o.seed = 3;
  const std::vector<float> baseline(16, 0.25f);
  const TargetChoice target = parse_target("true", 3);
  const Explanation all = explain_dataset(model, ds, target, o, baseline, *world);
  const dist::Communicator self(MPI_COMM_SELF);
  const Explanation alone = explain_dataset(model, ds, target, o, baseline, self);
  if (world->rank() != 0) {
    EXPECT_TRUE(all.attributions.empty());
    return;
  }
  EXPECT_EQ(all.attributions, alone.attributions);
  EXPECT_EQ(all.gaps, alone.gaps);
  EXPECT_EQ(all.values, alone.values);
  EXPECT_EQ(all.predictions, alone.predictions);
  EXPECT_EQ(all.targets, ds.labels);
  const std::vector<double> a(all.sums.flat().begin(), all.sums.flat().end());
  const std::vector<double> b(alone.sums.flat().begin(), alone.sums.flat().end());
  EXPECT_EQ(a, b);
  const auto names = feature_names(ds.shape);
  EXPECT_EQ(importance_csv(importance_rows(all.sums), names), importance_csv(importance_rows(alone.sums), names));
}

// Three samples of two features, classes 0, 0, 1: worked by hand.
TEST(Importance, StatisticsWorkedByHand) {
  RowMatrix a(3, 2);
  a << 1.0f, -2.0f,  //
      3.0f, 2.0f,    //
      -4.0f, 0.5f;
  FeatureSums sums(2, 2);
  sums.add(ConstMatrixMap(a.data(), 3, 2), std::vector<std::int32_t>{0, 0, 1});
  const std::vector<ImportanceRow> r = importance_rows(sums);
  ASSERT_EQ(r.size(), 6u);
  // All samples: feature 0 has mean |a| 8/3, mean 0, std sqrt(26/3); feature 1 has 4.5/3, 0.5/3.
  EXPECT_EQ(r[0].feature, 0);
  EXPECT_EQ(r[0].target_class, -1);
  EXPECT_DOUBLE_EQ(r[0].mean_abs, 8.0 / 3);
  EXPECT_DOUBLE_EQ(r[0].mean, 0.0);
  EXPECT_DOUBLE_EQ(r[0].std, std::sqrt(26.0 / 3));
  EXPECT_EQ(r[1].feature, 1);
  EXPECT_DOUBLE_EQ(r[1].mean_abs, 1.5);
  EXPECT_DOUBLE_EQ(r[1].mean, 0.5 / 3);
  // Class 0 (two samples): feature 1 has mean |a| 2 and mean 0 (std 2); feature 0 has mean |a| 2, mean 2, std 1.
  EXPECT_EQ(r[2].target_class, 0);
  EXPECT_EQ(r[2].feature, 0);  // tie at 2: the lower feature first
  EXPECT_DOUBLE_EQ(r[2].std, 1.0);
  EXPECT_DOUBLE_EQ(r[3].std, 2.0);
  EXPECT_EQ(r[4].target_class, 1);
  EXPECT_DOUBLE_EQ(r[4].mean_abs, 4.0);
  EXPECT_DOUBLE_EQ(r[4].count, 1.0);
  const std::string text = importance_summary(r, {"a", "b"}, 1);
  EXPECT_NE(text.find("sum of the other 1 features: 1.5"), std::string::npos) << text;
}

TEST(Importance, PatchGroups) {
  const auto groups = feature_groups("patch:2", {3, 3, 2});
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0].name, "patch_r0-1_c0-1");
  EXPECT_EQ(groups[0].features, (std::vector<std::int64_t>{0, 1, 2, 3, 6, 7, 8, 9}));
  EXPECT_EQ(groups[3].name, "patch_r2-2_c2-2");
  EXPECT_EQ(groups[3].features, (std::vector<std::int64_t>{16, 17}));
  EXPECT_THROW((void)feature_groups("patch:0", {3, 3, 1}), std::invalid_argument);
  EXPECT_THROW((void)feature_groups("patch:2", {9}), std::invalid_argument);
  EXPECT_THROW((void)feature_groups("rows", {9}), std::invalid_argument);
}

}  // namespace
}  // namespace mpitrain::explain
