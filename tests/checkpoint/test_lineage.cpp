// Lineage: the text form read back, and which checkpoints lie on a lineage, worked out by hand for a run
// A (steps 0..), resumed by B from A's step 10, then by C from B's step 14.
#include "mpitrain/checkpoint/lineage.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

namespace mpitrain::checkpoint {
namespace {

TEST(Lineage, TextRoundTripsAndNamesTheRun) {
  const Lineage c = Lineage::fresh("A").resumed("B", 10).resumed("C", 14);
  EXPECT_EQ(c.text(), "A@0,B@10,C@14");
  EXPECT_EQ(Lineage::parse(c.text()), c);
  EXPECT_EQ(c.run_id(), "A");
  EXPECT_EQ(c.current(), (Session{"C", 14}));
  // A checkpoint written before lineages existed: one session with the empty id.
  EXPECT_EQ(Lineage::parse("").sessions(), (std::vector<Session>{{"", 0}}));
  EXPECT_EQ(Lineage::parse("").text(), "");
  EXPECT_EQ(Lineage::parse("").resumed("B", 7).text(), "@0,B@7");
}

TEST(Lineage, MalformedTextIsRefusedNamingTheEntry) {
  for (const char* bad : {"A", "A@", "A@x", "A@-1", "A@0,B@5,C@3", "A@0,,B@2", "A@1e3"}) {
    EXPECT_THROW(Lineage::parse(bad), std::invalid_argument) << bad;
  }
  try {
    Lineage::parse("A@0,B@5,C@3");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("C@3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Lineage::fresh("A").resumed("B", 10).resumed("C", 4), std::invalid_argument);
  EXPECT_THROW(Lineage::fresh("A,B"), std::invalid_argument);
}

TEST(Lineage, ContainsTheCheckpointsOfItsSessionsUpToEachBranchPoint) {
  const Lineage a = Lineage::fresh("A");
  const Lineage b = a.resumed("B", 10);
  const Lineage c = b.resumed("C", 14);
  const Lineage other = Lineage::fresh("X");
  // A wrote 5, 10, 15, 20; B (from A's 10) wrote 12, 14, 16; C (from B's 14) writes 18.
  struct Written {
    const Lineage* by;
    std::int64_t step;
  };
  const std::vector<Written> files = {{&a, 5}, {&a, 10}, {&a, 15}, {&a, 20}, {&b, 12},
                                      {&b, 14}, {&b, 16}, {&c, 18}, {&other, 12}};
  auto on = [&](const Lineage& lineage) {
    std::set<std::pair<std::string, std::int64_t>> found;
    for (const auto& f : files) {
      if (lineage.contains(*f.by, f.step)) found.insert({f.by->current().id, f.step});
    }
    return found;
  };
  using S = std::set<std::pair<std::string, std::int64_t>>;
  EXPECT_EQ(on(a), (S{{"A", 5}, {"A", 10}, {"A", 15}, {"A", 20}}));
  EXPECT_EQ(on(b), (S{{"A", 5}, {"A", 10}, {"B", 12}, {"B", 14}, {"B", 16}}));
  EXPECT_EQ(on(c), (S{{"A", 5}, {"A", 10}, {"B", 12}, {"B", 14}, {"C", 18}}));
}

TEST(Lineage, SessionIdsAreDistinctUuids) {
  const std::string a = new_session_id(), b = new_session_id();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');  // version 4 (random)
  EXPECT_NO_THROW(Lineage::fresh(a).resumed(b, 3));
}

}  // namespace
}  // namespace mpitrain::checkpoint
