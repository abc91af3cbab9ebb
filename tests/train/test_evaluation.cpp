// train::evaluate and train::predict_probabilities under mpirun with 1, 2 and 3 ranks, against a forward
// pass, softmax cross-entropy, arg-max and confusion matrix computed here in double precision from the
// model's parameters (read through its registry): the counts are exact, the loss and probabilities equal
// to float rounding, on every rank and at every world size. Precision and recall against a confusion
// matrix worked by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/mpi_gtest.hpp"
#include "mpitrain/data/text_windows.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/model_spec.hpp"
#include "mpitrain/nn/task.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace mpitrain::train {
namespace {

using test::world;

constexpr std::int64_t inputs = 5;
constexpr int classes = 3;
constexpr std::int64_t rows = 2 * evaluation_chunk_rows + 89;  // three chunks, the last partial

// The same data on every rank (each rank evaluates its own chunks of it).
data::Dataset make_dataset() {
  std::mt19937 gen(11);
  std::normal_distribution<float> x(0.0f, 1.5f);
  std::uniform_int_distribution<int> y(0, classes - 1);
  data::Dataset ds;
  ds.features.resize(rows, inputs);
  for (std::int64_t i = 0; i < ds.features.size(); ++i) ds.features.data()[i] = x(gen);
  for (std::int64_t i = 0; i < rows; ++i) ds.labels.push_back(y(gen));
  return ds;
}

// Probabilities of every row by the MLP dense(4) -> tanh -> dense(3) in double, from the registry's
// tensors: kernel (inputs, units) row-major, then bias.
std::vector<std::vector<double>> reference_probabilities(const nn::Model& model, const data::Dataset& ds) {
  const auto& entries = model.registry().entries();
  const auto tensor = [&](std::size_t i) {
    return model.parameters().subspan(static_cast<std::size_t>(entries[i].offset),
                                      static_cast<std::size_t>(entries[i].size()));
  };
  const auto dense = [](const std::vector<double>& in, std::span<const float> kernel, std::span<const float> bias) {
    std::vector<double> out(bias.begin(), bias.end());
    for (std::size_t i = 0; i < in.size(); ++i) {
      for (std::size_t j = 0; j < out.size(); ++j) out[j] += in[i] * kernel[i * out.size() + j];
    }
    return out;
  };
  std::vector<std::vector<double>> probs;
  for (std::int64_t r = 0; r < rows; ++r) {
    std::vector<double> x(ds.features.data() + r * inputs, ds.features.data() + (r + 1) * inputs);
    std::vector<double> h = dense(x, tensor(0), tensor(1));
    for (double& v : h) v = std::tanh(v);
    std::vector<double> z = dense(h, tensor(2), tensor(3));
    double top = z[0];
    for (double v : z) top = std::max(top, v);
    double sum = 0.0;
    for (double& v : z) sum += (v = std::exp(v - top));
    for (double& v : z) v /= sum;
    probs.push_back(z);
  }
  return probs;
}

class EvaluationTest : public ::testing::Test {
 protected:
  void SetUp() override { model_.init(3); }
  nn::Model model_{nn::mlp_spec(inputs, {4}, nn::ActivationKind::tanh, classes)};
  nn::ClassificationTask task_{classes};
  data::Dataset ds_ = make_dataset();
};

TEST_F(EvaluationTest, MatchesADoublePrecisionForwardPassOnEveryRank) {
  const auto probs = reference_probabilities(model_, ds_);
  double loss = 0.0;
  std::int64_t correct = 0;
  std::vector<std::int64_t> confusion(classes * classes, 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto& p = probs[static_cast<std::size_t>(r)];
    const int label = ds_.labels[static_cast<std::size_t>(r)];
    int predicted = 0;
    for (int c = 1; c < classes; ++c) {
      if (p[static_cast<std::size_t>(c)] > p[static_cast<std::size_t>(predicted)]) predicted = c;
    }
    loss -= std::log(p[static_cast<std::size_t>(label)]);
    correct += predicted == label;
    ++confusion[static_cast<std::size_t>(label * classes + predicted)];
  }
  const EvaluationResult result = evaluate(model_, task_, ds_, *world);
  EXPECT_EQ(result.count, rows);
  EXPECT_EQ(result.classes, classes);
  EXPECT_EQ(result.confusion, confusion);  // no row is near a tie: checked below
  EXPECT_EQ(result.accuracy, static_cast<double>(correct) / rows);
  EXPECT_NEAR(result.loss, loss / rows, 1e-6 * loss / rows);
  for (const auto& p : probs) {  // the arg-max is decided by more than float rounding
    std::vector<double> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_GT(sorted[classes - 1] - sorted[classes - 2], 1e-5);
  }
}

TEST_F(EvaluationTest, ProbabilitiesReachRankZeroInRowOrder) {
  const auto probs = reference_probabilities(model_, ds_);
  const std::vector<float> got = predict_probabilities(model_, task_, ds_.features, *world);
  if (world->rank() != 0) {
    EXPECT_TRUE(got.empty());
    return;
  }
  ASSERT_EQ(got.size(), static_cast<std::size_t>(rows * classes));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < classes; ++c) {
      EXPECT_NEAR(got[static_cast<std::size_t>(r * classes + c)], probs[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)],
                  1e-6)
          << "row " << r << " class " << c;
    }
  }
}

// An empty set: zero counts, no division by zero, on every rank.
TEST_F(EvaluationTest, EmptySetGivesZeros) {
  data::Dataset empty;
  empty.features.resize(0, inputs);
  const EvaluationResult result = evaluate(model_, task_, empty, *world);
  EXPECT_EQ(result.count, 0);
  EXPECT_EQ(result.loss, 0.0);
  EXPECT_EQ(result.accuracy, 0.0);
  EXPECT_EQ(result.confusion, std::vector<std::int64_t>(classes * classes, 0));
}

// A language model on the windows of a text (embedding then tied output: the logits of position t are
// (wte[x_t] + wpe[t]) · wteᵀ), against every window at offset 0 scored here in double: the token count, the
// correct tokens, and the mean loss per token, at every world size. 2501 bytes with T = 4: 625 windows,
// three chunks, the last partial.
TEST(TextEvaluationTest, MatchesADoublePrecisionPassOverEveryWindow) {
  constexpr std::int64_t t_len = 4, dim = 8, vocabulary = 256;
  nn::Model model(nn::parse_model_spec(R"({"input_shape": [4], "layers": [
      {"type": "embedding", "vocabulary": 256, "dim": 8}, {"type": "tied_output", "vocabulary": 256}]})"));
  model.init(5);
  for (float& p : model.parameters()) p *= 40.0f;  // logits of order 1: no position near a tie
  const nn::LanguageModelTask task(t_len, static_cast<int>(vocabulary));
  std::string text(2501, ' ');
  std::mt19937 gen(4);
  for (char& c : text) c = static_cast<char>(gen() % 256);  // every byte value, not UTF-8
  const auto path = std::filesystem::temp_directory_path() /
                    ("mpitrain_text_evaluation_" + std::to_string(world->rank()) + ".txt");
  std::ofstream(path, std::ios::binary) << text;
  auto file = std::make_shared<const data::MappedFile>(path);
  const data::TextWindows windows(file, 0, file->size(), t_len, data::WindowLayout::evaluation, path.string());
  ASSERT_EQ(windows.count(), 625);

  const auto& entries = model.registry().entries();
  const float* wte = model.parameters().data() + entries[0].offset;  // vocabulary × dim
  const float* wpe = model.parameters().data() + entries[1].offset;  // T × dim
  double loss = 0.0;
  std::int64_t correct = 0, tokens = 0;
  double smallest_gap = 1e9;
  const auto byte = [&](std::int64_t i) { return static_cast<std::uint8_t>(text[static_cast<std::size_t>(i)]); };
  for (std::int64_t k = 0; k < windows.count(); ++k) {
    for (std::int64_t t = 0; t < t_len; ++t) {
      const std::int64_t s = k * t_len + t, x = byte(s), y = byte(s + 1);
      std::vector<double> z(vocabulary, 0.0);
      for (std::int64_t v = 0; v < vocabulary; ++v) {
        for (std::int64_t c = 0; c < dim; ++c) {
          z[static_cast<std::size_t>(v)] += (static_cast<double>(wte[x * dim + c]) + wpe[t * dim + c]) * wte[v * dim + c];
        }
      }
      const double top = *std::max_element(z.begin(), z.end());
      double sum = 0.0;
      for (double v : z) sum += std::exp(v - top);
      loss += std::log(sum) + top - z[static_cast<std::size_t>(y)];
      const auto best = std::max_element(z.begin(), z.end()) - z.begin();
      correct += best == y ? 1 : 0;
      ++tokens;
      std::vector<double> sorted = z;
      std::sort(sorted.begin(), sorted.end());
      smallest_gap = std::min(smallest_gap, sorted[vocabulary - 1] - sorted[vocabulary - 2]);
    }
  }
  const EvaluationResult result = evaluate(model, task, windows, *world);
  std::filesystem::remove(path);
  EXPECT_EQ(result.count, tokens);
  EXPECT_EQ(result.count, 625 * t_len);
  EXPECT_GT(correct, 0);
  EXPECT_EQ(result.accuracy, static_cast<double>(correct) / static_cast<double>(tokens));
  EXPECT_GT(smallest_gap, 1e-4);  // the arg-max is decided by more than float rounding
  EXPECT_NEAR(result.loss, loss / static_cast<double>(tokens), 1e-6 * loss / static_cast<double>(tokens));
}

// Rows: true class; columns: predicted.  [[5, 1, 0], [2, 3, 0], [0, 0, 0]]: class 0 predicted 7 times,
// 5 right; class 1 predicted 4 times, 3 right; class 2 neither occurs nor is predicted.
// Each rank's chunks (evaluation_rows over 1000 rows: 4 chunks) hold sums that cannot be added in another order
// without rounding differently; the total equals the serial sum over chunks in chunk order, bit for bit, on
// every rank, and at root only with a root.
TEST(AddChunkSumsTest, EqualsTheSerialSumInChunkOrder) {
  const dist::Communicator& comm = *world;
  const std::int64_t rows = 1000, chunks = (rows + evaluation_chunk_rows - 1) / evaluation_chunk_rows;
  const auto value = [](std::int64_t c, std::size_t i) { return std::pow(10.0, double((c * 7 + i * 3) % 17) - 8.0) / 3.0; };
  std::vector<double> serial(2, 0.0);
  for (std::int64_t c = 0; c < chunks; ++c) {
    for (std::size_t i = 0; i < 2; ++i) serial[i] += value(c, i);
  }
  const base::Range mine = evaluation_rows(rows, comm);
  std::vector<double> local;
  for (std::int64_t b = mine.begin; b < mine.end; b += evaluation_chunk_rows) {
    for (std::size_t i = 0; i < 2; ++i) local.push_back(value(b / evaluation_chunk_rows, i));
  }
  EXPECT_EQ(add_chunk_sums(local, 2, comm), serial);
  const std::vector<double> at_root = add_chunk_sums(local, 2, comm, 0);
  EXPECT_EQ(at_root, comm.rank() == 0 ? serial : std::vector<double>());
  EXPECT_THROW((void)add_chunk_sums(std::vector<double>(3), 2, comm), std::invalid_argument);
}

TEST(EvaluationResultTest, PrecisionAndRecallByHand) {
  EvaluationResult r;
  r.classes = 3;
  r.confusion = {5, 1, 0, 2, 3, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(r.precision(0), 5.0 / 7.0);
  EXPECT_DOUBLE_EQ(r.recall(0), 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.precision(1), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(r.recall(1), 3.0 / 5.0);
  EXPECT_EQ(r.precision(2), 0.0);
  EXPECT_EQ(r.recall(2), 0.0);
}

}  // namespace
}  // namespace mpitrain::train
