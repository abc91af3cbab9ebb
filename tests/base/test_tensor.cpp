// Unit tests of the base stage's shape helpers.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::base {
namespace {

TEST(ElementCount, ProductOfTheDimensions) {
  EXPECT_EQ(element_count(Shape{28, 28, 1}), 784);
  EXPECT_EQ(element_count(Shape{7}), 7);
  EXPECT_EQ(element_count(Shape{}), 1);
}

TEST(ElementCount, RefusesNonPositiveDimensionsAndOverflow) {
  EXPECT_THROW((void)element_count(Shape{3, 0}), std::invalid_argument);
  EXPECT_THROW((void)element_count(Shape{-1}), std::invalid_argument);
  const std::int64_t big = std::int64_t{1} << 32;
  EXPECT_EQ(element_count(Shape{big, big / 2 - 1}), big * (big / 2 - 1));
  try {
    (void)element_count(Shape{big, big});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("(4294967296, 4294967296)"), std::string::npos) << e.what();
  }
}

TEST(FormatShape, Parenthesised) {
  EXPECT_EQ(format_shape(Shape{28, 28, 1}), "(28, 28, 1)");
  EXPECT_EQ(format_shape(Shape{784}), "(784)");
  EXPECT_EQ(format_shape(Shape{}), "()");
}

}  // namespace
}  // namespace mpitrain::base
