// parse_faults, the reader of MPITRAIN_FAULT: every kind, several items, and each malformed item named.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "mpitrain/guard/fault_injection.hpp"

using namespace mpitrain::guard;

namespace {

// The what() of the std::invalid_argument that parse_faults throws for @p text ("no error" if none).
std::string error_of(const std::string& text) {
  try {
    (void)parse_faults(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(ParseFaults, EveryKindWithRankAndStep) {
  const std::vector<std::pair<std::string, FaultKind>> kinds = {
      {"throw", FaultKind::throw_error}, {"abort", FaultKind::abort},   {"nan", FaultKind::nan},
      {"hang", FaultKind::hang},         {"sigterm", FaultKind::sigterm}, {"kill", FaultKind::kill},
      {"desync", FaultKind::desync},     {"kill_in_checkpoint", FaultKind::kill_in_checkpoint}};
  for (const auto& [name, kind] : kinds) {
    const auto faults = parse_faults(name + "@3:17");
    ASSERT_EQ(faults.size(), 1u) << name;
    EXPECT_EQ(faults[0].kind, kind) << name;
    EXPECT_EQ(faults[0].rank, 3) << name;
    EXPECT_EQ(faults[0].step, 17) << name;
  }
}

TEST(ParseFaults, ListInOrderEmptyItemsSkipped) {
  const auto faults = parse_faults(",throw@1:5,,nan@0:9,kill@2:8589934592,");
  ASSERT_EQ(faults.size(), 3u);
  EXPECT_EQ(faults[0].kind, FaultKind::throw_error);
  EXPECT_EQ(faults[0].rank, 1);
  EXPECT_EQ(faults[0].step, 5);
  EXPECT_EQ(faults[1].kind, FaultKind::nan);
  EXPECT_EQ(faults[1].rank, 0);
  EXPECT_EQ(faults[1].step, 9);
  EXPECT_EQ(faults[2].kind, FaultKind::kill);
  EXPECT_EQ(faults[2].step, std::int64_t{1} << 33);  // steps are 64-bit
  EXPECT_TRUE(parse_faults("").empty());
}

TEST(ParseFaults, BadItemsAreNamed) {
  EXPECT_EQ(error_of("explode@0:1"), "MPITRAIN_FAULT: unknown kind 'explode'");
  for (const std::string item : {"throw", "throw@1", "throw:1@2", "throw@:3", "throw@1:", "throw@-1:2",
                                 "throw@1:-2", "throw@x:2", "throw@1:2x", "throw@99999999999:1"}) {
    EXPECT_EQ(error_of("nan@0:1," + item), "MPITRAIN_FAULT: bad item '" + item + "' (expected KIND@RANK:STEP)")
        << item;
  }
}
