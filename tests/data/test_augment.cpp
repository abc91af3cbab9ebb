// Data augmentation: the data.augment parser, hand-worked transforms of small images, the draws' statistics
// and purity (a sample's transform depends on (seed, epoch, global index) alone, not on the batch it is in).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "mpitrain/data/augment.hpp"

namespace mpitrain::data {
namespace {

std::string parse_error(const std::string& text) {
  try {
    parse_augmentation(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(Augmentation, ParsesListsAndReadsItsOwnText) {
  EXPECT_FALSE(parse_augmentation("").any());
  EXPECT_FALSE(parse_augmentation("none").any());
  EXPECT_EQ(parse_augmentation("flip_horizontal, shift:2"), (Augmentation{true, 2}));
  EXPECT_EQ(parse_augmentation(" shift:3 "), (Augmentation{false, 3}));
  for (const Augmentation a : {Augmentation{}, Augmentation{true, 0}, Augmentation{false, 5}, Augmentation{true, 64}}) {
    EXPECT_EQ(parse_augmentation(to_string(a)), a) << to_string(a);
  }
  EXPECT_EQ(to_string(Augmentation{true, 2}), "flip_horizontal,shift:2");
}

TEST(Augmentation, BadItemsAreNamed) {
  EXPECT_NE(parse_error("flip_vertical").find("unknown item 'flip_vertical'"), std::string::npos);
  EXPECT_NE(parse_error("shift:0").find("'shift:0': the shift must be an integer in [1, 64]"), std::string::npos);
  EXPECT_NE(parse_error("shift:65").find("[1, 64]"), std::string::npos);
  EXPECT_NE(parse_error("shift:2x").find("'shift:2x'"), std::string::npos);
  EXPECT_NE(parse_error("shift:").find("'shift:'"), std::string::npos);
  EXPECT_NE(parse_error("flip_horizontal,flip_horizontal").find("twice"), std::string::npos);
  EXPECT_NE(parse_error("shift:1,shift:2").find("twice"), std::string::npos);
  EXPECT_NE(parse_error("flip_horizontal,").find("unknown item ''"), std::string::npos);
}

// A 3 × 3 single-channel image 1..9, row by row.
std::vector<float> transformed(const SampleTransform& t, const base::Shape& shape = {3, 3, 1}) {
  std::vector<float> in(static_cast<std::size_t>(shape[0] * shape[1] * shape[2]));
  std::iota(in.begin(), in.end(), 1.0f);
  std::vector<float> out(in.size(), -1.0f);
  transform_sample(in, out, shape, t);
  return out;
}

TEST(TransformSample, HandWorkedFlipsAndShifts) {
  EXPECT_EQ(transformed({false, 0, 0}), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(transformed({true, 0, 0}), (std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7}));
  // Down by one row: the top row is zero-filled, the last row leaves the image.
  EXPECT_EQ(transformed({false, 1, 0}), (std::vector<float>{0, 0, 0, 1, 2, 3, 4, 5, 6}));
  // Left by one column.
  EXPECT_EQ(transformed({false, 0, -1}), (std::vector<float>{2, 3, 0, 5, 6, 0, 8, 9, 0}));
  // Flipped, then right by one column and up by one row.
  EXPECT_EQ(transformed({true, -1, 1}), (std::vector<float>{0, 6, 5, 0, 9, 8, 0, 0, 0}));
  // Two channels move together: pixel (0, 0) = (1, 2), (0, 1) = (3, 4); a 1 × 2 × 2 image flipped.
  EXPECT_EQ(transformed({true, 0, 0}, {1, 2, 2}), (std::vector<float>{3, 4, 1, 2}));
}

TEST(TransformSample, WrongSizesAreErrors) {
  std::vector<float> in(9), out(8);
  EXPECT_THROW(transform_sample(in, out, {3, 3, 1}, {}), std::invalid_argument);
  out.resize(9);
  EXPECT_THROW(transform_sample(in, out, {9}, {}), std::invalid_argument);
}

TEST(SampleTransform, DrawsAreUniformAndPure) {
  const Augmentation a{true, 2};
  int flips = 0;
  std::vector<int> dy(5), dx(5);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const SampleTransform t = sample_transform(a, 7, 3, i);
    EXPECT_EQ(t, sample_transform(a, 7, 3, i));  // pure
    ASSERT_LE(std::abs(t.dy), 2);
    ASSERT_LE(std::abs(t.dx), 2);
    flips += t.flip;
    ++dy[static_cast<std::size_t>(t.dy + 2)];
    ++dx[static_cast<std::size_t>(t.dx + 2)];
  }
  // Binomial counts within 4 standard deviations of n·p.
  EXPECT_NEAR(flips, n / 2, 4 * std::sqrt(n * 0.25));
  for (int v = 0; v < 5; ++v) {
    EXPECT_NEAR(dy[static_cast<std::size_t>(v)], n / 5, 4 * std::sqrt(n * 0.16)) << "dy " << v - 2;
    EXPECT_NEAR(dx[static_cast<std::size_t>(v)], n / 5, 4 * std::sqrt(n * 0.16)) << "dx " << v - 2;
  }
  // Another epoch or seed draws otherwise for most samples.
  int same_epoch = 0, same_seed = 0;
  for (int i = 0; i < 1000; ++i) {
    same_epoch += sample_transform(a, 7, 4, i) == sample_transform(a, 7, 3, i);
    same_seed += sample_transform(a, 8, 3, i) == sample_transform(a, 7, 3, i);
  }
  EXPECT_LT(same_epoch, 100);  // 1/50 expected alike by chance
  EXPECT_LT(same_seed, 100);
}

// A batch split over "ranks" in any way gives each sample the transform of its global index.
TEST(Augmenter, RowsDependOnTheirSampleIndexNotOnTheBatch) {
  const base::Shape shape{4, 5, 2};
  const Augmentation a{true, 1};
  const std::int64_t rows = 6, width = 40;
  std::vector<float> data(static_cast<std::size_t>(rows * width));
  std::iota(data.begin(), data.end(), 1.0f);
  const std::vector<std::int64_t> indices{17, 3, 250, 9, 40000, 11};

  std::vector<float> whole = data;
  Augmenter(a, shape, 5).apply(base::MatrixMap(whole.data(), rows, width), indices, 2);
  std::vector<float> halves = data;
  Augmenter second_rank(a, shape, 5);
  second_rank.apply(base::MatrixMap(halves.data(), 2, width), std::span(indices).first(2), 2);
  second_rank.apply(base::MatrixMap(halves.data() + 2 * width, 4, width), std::span(indices).subspan(2), 2);
  EXPECT_EQ(whole, halves);
  for (std::int64_t r = 0; r < rows; ++r) {  // each row as transform_sample of its own draw
    std::vector<float> expected(static_cast<std::size_t>(width));
    transform_sample(std::span(data).subspan(static_cast<std::size_t>(r * width), static_cast<std::size_t>(width)),
                     expected, shape, sample_transform(a, 5, 2, indices[static_cast<std::size_t>(r)]));
    EXPECT_EQ(std::vector<float>(whole.begin() + r * width, whole.begin() + (r + 1) * width), expected) << "row " << r;
  }
  EXPECT_NE(whole, data);
}

TEST(Augmenter, NeedsImagesLargerThanTheShift) {
  EXPECT_THROW(Augmenter(Augmentation{true, 0}, {784}, 1), std::invalid_argument);
  EXPECT_THROW(Augmenter(Augmentation{false, 3}, {3, 8, 1}, 1), std::invalid_argument);
  EXPECT_NO_THROW(Augmenter(Augmentation{}, {784}, 1));  // off: any shape
  EXPECT_NO_THROW(Augmenter(Augmentation{false, 2}, {3, 3, 1}, 1));
}

}  // namespace
}  // namespace mpitrain::data
