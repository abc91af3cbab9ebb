// Unit tests of Scaler and of the Dataset checks (check_labels, check_finite, split_validation).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "file_fixture.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/data/scaling.hpp"

namespace mpitrain::data {
namespace {

Dataset make_dataset(const std::vector<std::vector<float>>& rows, std::string source) {
  Dataset ds;
  ds.features.resize(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(rows.front().size()));
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t c = 0; c < rows[r].size(); ++c) {
      ds.features(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = rows[r][c];
    }
    ds.labels.push_back(static_cast<std::int32_t>(r % 3));
  }
  ds.source = std::move(source);
  return ds;
}

using test::expect_data_error;

TEST(Scaler, DivideByDivisor) {
  Dataset ds = make_dataset({{0, 255, 51}, {127.5f, 25.5f, 1}}, "images");
  Scaler scaler("divide", 255.0);
  scaler.fit(ds);
  EXPECT_EQ(scaler.shift(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(scaler.scale(), (std::vector<float>{255, 255, 255}));
  scaler.apply(ds);
  EXPECT_FLOAT_EQ(ds.features(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(ds.features(0, 1), 1.0f);
  EXPECT_FLOAT_EQ(ds.features(0, 2), 0.2f);
  EXPECT_FLOAT_EQ(ds.features(1, 0), 0.5f);
  EXPECT_FLOAT_EQ(ds.features(1, 1), 0.1f);
  EXPECT_FLOAT_EQ(ds.features(1, 2), 1.0f / 255.0f);
}

TEST(Scaler, StandardizeWithHandComputedMeanAndStd) {
  // Column 0: 1, 2, 3 -> mean 2, population variance 2/3.
  // Column 1: 2, 4, 9 -> mean 5, population variance (9 + 1 + 16) / 3 = 26/3.
  // Column 2: constant 10 -> std 0, so scale 1 and the values become 0.
  Dataset train = make_dataset({{1, 2, 10}, {2, 4, 10}, {3, 9, 10}}, "train.csv");
  Scaler scaler("standardize", 255.0);
  scaler.fit(train);
  const float std0 = std::sqrt(2.0f / 3.0f);
  const float std1 = std::sqrt(26.0f / 3.0f);
  ASSERT_EQ(scaler.shift().size(), 3U);
  EXPECT_FLOAT_EQ(scaler.shift()[0], 2.0f);
  EXPECT_FLOAT_EQ(scaler.shift()[1], 5.0f);
  EXPECT_FLOAT_EQ(scaler.shift()[2], 10.0f);
  EXPECT_FLOAT_EQ(scaler.scale()[0], std0);
  EXPECT_FLOAT_EQ(scaler.scale()[1], std1);
  EXPECT_FLOAT_EQ(scaler.scale()[2], 1.0f);

  Dataset test = make_dataset({{4, 5, 11}}, "test.csv");
  scaler.apply(train);
  scaler.apply(test);
  EXPECT_FLOAT_EQ(train.features(0, 0), -1.0f / std0);  // -1.2247449
  EXPECT_FLOAT_EQ(train.features(2, 0), 1.0f / std0);
  EXPECT_FLOAT_EQ(train.features(0, 1), -3.0f / std1);
  EXPECT_FLOAT_EQ(train.features(2, 1), 4.0f / std1);
  EXPECT_FLOAT_EQ(train.features(1, 2), 0.0f);
  // The test set uses the training statistics.
  EXPECT_FLOAT_EQ(test.features(0, 0), 2.0f / std0);
  EXPECT_FLOAT_EQ(test.features(0, 1), 0.0f);
  EXPECT_FLOAT_EQ(test.features(0, 2), 1.0f);
  // Standardized training columns have mean 0 and (non-constant ones) population std 1.
  for (Eigen::Index c = 0; c < 2; ++c) {
    EXPECT_NEAR(train.features.col(c).mean(), 0.0f, 1e-6f);
    EXPECT_NEAR(train.features.col(c).squaredNorm() / 3.0f, 1.0f, 1e-5f);
  }
}

TEST(Scaler, NoneIsIdentity) {
  Dataset ds = make_dataset({{1.5f, -2}, {3, 4}}, "x");
  const RowMatrix before = ds.features;
  Scaler scaler("none", 1.0);
  scaler.fit(ds);
  scaler.apply(ds);
  EXPECT_EQ(ds.features, before);
}

TEST(Scaler, SetRestoresAFittedTransform) {
  Dataset train = make_dataset({{1, 2}, {3, 8}}, "train");
  Scaler fitted("standardize", 1.0);
  fitted.fit(train);
  Scaler restored("standardize", 1.0);
  restored.set(fitted.shift(), fitted.scale());
  Dataset a = make_dataset({{5, 6}}, "a");
  Dataset b = a;
  fitted.apply(a);
  restored.apply(b);
  EXPECT_EQ(a.features, b.features);
  EXPECT_FLOAT_EQ(b.features(0, 0), (5.0f - 2.0f) / 1.0f);
  EXPECT_FLOAT_EQ(b.features(0, 1), (6.0f - 5.0f) / 3.0f);
  EXPECT_THROW(restored.set({0, 0}, {1}), DataError);
  EXPECT_THROW(restored.set({0}, {0}), DataError);
}

TEST(Scaler, FeatureCountMismatchIsAnError) {
  Dataset train = make_dataset({{1, 2, 3}}, "train.csv");
  Dataset test = make_dataset({{1, 2}}, "test.csv");
  Scaler scaler("divide", 255.0);
  scaler.fit(train);
  expect_data_error([&] { scaler.apply(test); }, {"test.csv", "3 features", "has 2"});
}

TEST(Scaler, RejectsUnknownMethodAndBadDivisor) {
  expect_data_error([] { Scaler("minmax", 1.0); }, {"minmax"});
  expect_data_error([] { Scaler("divide", 0.0); }, {"divisor"});
  expect_data_error([] { Scaler("divide", -3.0); }, {"divisor"});
}

TEST(Dataset, CheckLabelsNamesSourceIndexAndValue) {
  std::vector<std::int32_t> labels{0, 9, 10};
  EXPECT_NO_THROW(check_labels(labels, 11, "labels.idx"));
  expect_data_error([&] { check_labels(labels, 10, "labels.idx"); }, {"labels.idx", "label 10", "index 2"});
  // A shard's labels are named by their index in the whole file.
  expect_data_error([&] { check_labels(labels, 10, "labels.idx", 1000); }, {"label 10", "index 1002"});
  labels = {0, -1, 3};
  expect_data_error([&] { check_labels(labels, 10, "labels.idx"); }, {"labels.idx", "label -1", "index 1"});
}

TEST(Dataset, CheckFiniteNamesRowAndColumn) {
  Dataset ds = make_dataset({{1, 2}, {3, 4}}, "feat.csv");
  EXPECT_NO_THROW(check_finite(ds));
  ds.features(1, 0) = std::numeric_limits<float>::quiet_NaN();
  expect_data_error([&] { check_finite(ds); }, {"feat.csv", "sample 1", "feature 0"});
  ds.features(0, 1) = std::numeric_limits<float>::infinity();
  expect_data_error([&] { check_finite(ds); }, {"feat.csv", "sample 0", "feature 1"});
}

TEST(Dataset, SplitValidationPartitionsRowsDeterministically) {
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 10; ++i) rows.push_back({static_cast<float>(i), static_cast<float>(10 * i)});
  const Dataset original = make_dataset(rows, "all.csv");

  Dataset train = original;
  const Dataset validation = split_validation(train, 0.3, 42);
  ASSERT_EQ(validation.size(), 3);  // round(0.3 * 10)
  ASSERT_EQ(train.size(), 7);
  EXPECT_EQ(validation.feature_count(), 2);
  std::set<int> seen;
  for (const Dataset* part : std::vector<const Dataset*>{&train, &validation}) {
    for (Eigen::Index r = 0; r < part->features.rows(); ++r) {
      const int id = static_cast<int>(part->features(r, 0));
      EXPECT_TRUE(seen.insert(id).second) << "row " << id << " appears twice";
      // Each row travels with its own label and other features.
      EXPECT_EQ(part->labels[static_cast<std::size_t>(r)], id % 3);
      EXPECT_EQ(part->features(r, 1), 10.0f * static_cast<float>(id));
      // Rows keep their file order within each part.
      if (r > 0) {
        EXPECT_LT(part->features(r - 1, 0), part->features(r, 0));
      }
    }
  }
  EXPECT_EQ(seen.size(), 10U);

  Dataset again = original;
  const Dataset validation_again = split_validation(again, 0.3, 42);
  EXPECT_EQ(validation_again.features, validation.features);
  EXPECT_EQ(again.features, train.features);

  // Over many seeds the held-out rows vary.
  std::set<std::vector<float>> held_out_sets;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    Dataset copy = original;
    const Dataset held = split_validation(copy, 0.3, seed);
    held_out_sets.insert(std::vector<float>(held.features.col(0).begin(), held.features.col(0).end()));
  }
  EXPECT_GT(held_out_sets.size(), 5U);
}

TEST(Dataset, SplitValidationEdgeCases) {
  const Dataset original = make_dataset({{1}, {2}, {3}}, "small.csv");
  Dataset train = original;
  const Dataset none = split_validation(train, 0.0, 1);
  EXPECT_EQ(none.size(), 0);
  EXPECT_EQ(none.feature_count(), 1);
  EXPECT_EQ(train.features, original.features);
  EXPECT_EQ(train.labels, original.labels);
  EXPECT_THROW(split_validation(train, 1.0, 1), std::invalid_argument);
  EXPECT_THROW(split_validation(train, -0.1, 1), std::invalid_argument);
  expect_data_error([&] { split_validation(train, 0.9, 1); }, {"small.csv", "no training samples"});
}

}  // namespace
}  // namespace mpitrain::data
