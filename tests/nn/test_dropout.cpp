// nn::Dropout: finite-difference gradient with a fixed mask, masks that depend only on (seed, step, global
// sample index, layer, element) and so not on how rows are split into batches, the documented draw, the kept
// share, rate 0 and evaluation as the identity, and the error without sample indices.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/gradient_check.hpp"
#include "mpitrain/base/random.hpp"
#include "mpitrain/nn/dropout.hpp"

using namespace mpitrain;
using base::ConstMatrixMap;
using base::RowMatrix;
using test::random_matrix;

namespace {

// The layer's output for the rows of @p x whose global sample indices are @p indices (step 7, seed 3).
RowMatrix dropout_of(nn::Dropout& layer, const RowMatrix& x, const std::vector<std::int64_t>& indices,
                     std::int64_t step = 7, std::uint64_t seed = 3) {
  layer.reserve(x.rows());
  return layer.forward(ConstMatrixMap(x.data(), x.rows(), x.cols()), nn::Context::training(seed, step, indices));
}

std::vector<std::int64_t> iota(std::int64_t from, std::int64_t count) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(count));
  std::iota(v.begin(), v.end(), from);
  return v;
}

}  // namespace

TEST(DropoutGradient, MatchesFiniteDifferencesWithAFixedMask) {
  const std::vector<std::int64_t> indices = {40, 3, 17, 8, 25};
  for (const bool input_gradient : {true, false}) {
    nn::Dropout dropout("dropout", 0.4, {2, 3});
    dropout.set_input_gradient(input_gradient);
    test::check_layer_gradient(dropout, {.rows = 5, .context = nn::Context::training(9, 4, indices)});
  }
}

TEST(Dropout, MaskDependsOnTheSampleIndexNotOnTheSplitIntoBatches) {
  const std::int64_t rows = 12, features = 10;
  const RowMatrix x = random_matrix(rows, features, 5);
  const std::vector<std::int64_t> indices = iota(100, rows);
  nn::Dropout whole("dropout_1", 0.5, {features});
  const RowMatrix all = dropout_of(whole, x, indices);
  // The same samples in three ranks' slices of different sizes, the slices in reverse order, in another
  // layer object (another replica).
  nn::Dropout replica("dropout_1", 0.5, {features});
  for (const auto& [begin, count] : std::vector<std::pair<std::int64_t, std::int64_t>>{{9, 3}, {4, 5}, {0, 4}}) {
    const RowMatrix part = x.middleRows(begin, count);
    const RowMatrix got = dropout_of(replica, part, iota(100 + begin, count));
    EXPECT_EQ(got, all.middleRows(begin, count)) << "rows " << begin << " to " << begin + count;
  }
  // A sample keeps its mask at another position in the batch.
  RowMatrix swapped = x;
  swapped.row(0).swap(swapped.row(5));
  std::vector<std::int64_t> swapped_indices = indices;
  std::swap(swapped_indices[0], swapped_indices[5]);
  const RowMatrix s = dropout_of(replica, swapped, swapped_indices);
  EXPECT_EQ(s.row(0), all.row(5));
  EXPECT_EQ(s.row(5), all.row(0));
  // Another step, seed or layer draws another mask.
  EXPECT_NE(dropout_of(replica, x, indices, 8), all);
  EXPECT_NE(dropout_of(replica, x, indices, 7, 4), all);
  nn::Dropout other("dropout_2", 0.5, {features});
  EXPECT_NE(dropout_of(other, x, indices), all);
}

// The documented draw, recomputed here: element e of sample i is dropped when the e-th uniform_float() of
// SplitMix64(keyed_seed({seed, step, i, key})) is below the rate, key = the name's bytes through the chain.
TEST(Dropout, MaskIsTheDocumentedDraw) {
  const std::int64_t features = 64;
  const float rate = 0.25f;
  nn::Dropout layer("dropout", rate, {features});
  const RowMatrix x = RowMatrix::Ones(2, features);
  const RowMatrix y = dropout_of(layer, x, {11, 900}, 5, 77);
  std::uint64_t key = 0;
  for (const char c : std::string("dropout")) key = base::keyed_seed({key, static_cast<unsigned char>(c)});
  const float kept = static_cast<float>(1.0 / (1.0 - 0.25));
  int dropped = 0;
  for (std::int64_t row = 0; row < 2; ++row) {
    base::SplitMix64 rng(base::keyed_seed({77, 5, row == 0 ? 11u : 900u, key}));
    for (std::int64_t e = 0; e < features; ++e) {
      const bool drop = rng.uniform_float() < rate;
      dropped += drop ? 1 : 0;
      EXPECT_EQ(y(row, e), drop ? 0.0f : kept) << "row " << row << ", element " << e;
    }
  }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, 2 * features);
}

TEST(Dropout, KeptShareWithinThreeSigmaAndKeptValuesScaled) {
  const std::int64_t rows = 500, features = 200;
  const double n = static_cast<double>(rows * features);
  for (const double rate : {0.1, 0.3, 0.75}) {
    nn::Dropout layer("dropout", rate, {features});
    const RowMatrix x = random_matrix(rows, features, 13, 4.0f);
    const RowMatrix y = dropout_of(layer, x, iota(0, rows), 1, 2024);
    const auto scale = static_cast<float>(1.0 / (1.0 - rate));
    double kept = 0;
    for (std::int64_t i = 0; i < x.size(); ++i) {
      if (y.data()[i] != 0.0f) {
        ++kept;
        ASSERT_EQ(y.data()[i], x.data()[i] * scale) << "element " << i;
      }
    }
    // Binomial(n, 1 - rate): mean n(1 - rate), standard deviation sqrt(n·rate·(1 - rate)).
    const double sigma = std::sqrt(n * rate * (1.0 - rate));
    EXPECT_LE(std::abs(kept - n * (1.0 - rate)), 3.0 * sigma) << "rate " << rate << ": kept " << kept << " of " << n;
  }
}

TEST(Dropout, RateZeroAndEvaluationAreTheIdentity) {
  const RowMatrix x = random_matrix(6, 8, 3);
  const RowMatrix dy = random_matrix(6, 8, 4);
  nn::Dropout zero("dropout", 0.0, {8});
  EXPECT_EQ(dropout_of(zero, x, iota(0, 6)), x);
  EXPECT_EQ(RowMatrix(zero.backward(ConstMatrixMap(dy.data(), 6, 8))), dy);
  nn::Dropout half("dropout", 0.5, {2, 4});
  half.reserve(6);
  EXPECT_EQ(RowMatrix(half.forward(ConstMatrixMap(x.data(), 6, 8), nn::Context::evaluation())), x);
  EXPECT_EQ(RowMatrix(half.backward(ConstMatrixMap(dy.data(), 6, 8))), dy);
}

TEST(Dropout, TrainingWithoutSampleIndicesThrowsAndBadRatesAreRefused) {
  nn::Dropout layer("dropout_3", 0.5, {4});
  layer.reserve(3);
  const RowMatrix x = random_matrix(3, 4, 1);
  const std::vector<std::int64_t> two = {1, 2};
  for (const auto& indices : {std::vector<std::int64_t>{}, two}) {
    try {
      layer.forward(ConstMatrixMap(x.data(), 3, 4), nn::Context::training(1, 0, indices));
      ADD_FAILURE() << "no error with " << indices.size() << " indices";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("layer dropout_3 (dropout): a training forward needs the global sample "
                                           "index of each row, got " + std::to_string(indices.size()) +
                                           " indices for 3 rows"),
                std::string::npos)
          << e.what();
    }
  }
  for (const double rate : {1.0, -0.1, 1.5, std::nan("")}) {
    EXPECT_THROW(nn::Dropout("dropout", rate, {4}), std::invalid_argument) << rate;
  }
}
