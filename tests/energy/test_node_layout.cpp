// Grouping ranks by node: one counter reader per machine, whatever the ranks per node.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "mpitrain/energy/node_layout.hpp"

using namespace mpitrain::energy;

TEST(NodeLayout, ThreeRanksOnOneNodeHaveOneReader) {
  const auto l = assign_nodes({0, 0, 0}, {"h/b", "h/b", "h/b"}, {"b", "b", "b"});
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(l[r].node, 0);
    EXPECT_EQ(l[r].nodes, 1);
    EXPECT_EQ(l[r].ranks_on_node, 3);
    EXPECT_EQ(l[r].reader_rank, 0);
    EXPECT_EQ(l[r].reader, r == 0);
  }
}

TEST(NodeLayout, OverrideSplitsOneMachineIntoSimulatedNodes) {
  // MPITRAIN_NODE_ID=a on rank 0, b on ranks 1 and 2, all on one machine (one shared group).
  const auto l = assign_nodes({0, 0, 0}, {"override:a", "override:b", "override:b"},
                              {"override:a", "override:b", "override:b"});
  EXPECT_EQ(l[0].nodes, 2);
  EXPECT_EQ(l[0].ranks_on_node, 1);
  EXPECT_EQ(l[1].ranks_on_node, 2);
  EXPECT_TRUE(l[0].reader);
  EXPECT_TRUE(l[1].reader);
  EXPECT_FALSE(l[2].reader);
  EXPECT_EQ(l[2].reader_rank, 1);
  EXPECT_EQ(l[2].node, 1);
}

TEST(NodeLayout, TwoMachines) {
  const auto l = assign_nodes({0, 0, 2, 2}, {"h1/b1", "h1/b1", "h2/b2", "h2/b2"}, {"b1", "b1", "b2", "b2"});
  EXPECT_EQ(l[0].nodes, 2);
  EXPECT_EQ(l[0].groups, 2);
  EXPECT_TRUE(l[0].reader);
  EXPECT_TRUE(l[2].reader);
  EXPECT_EQ(l[3].reader_rank, 2);
}

TEST(NodeLayout, ContainersOnOneKernelReadItsCountersOnce) {
  // Two shared-memory groups with different hostnames but one boot id: one machine, one reader.
  const auto l = assign_nodes({0, 0, 2}, {"c1/b", "c1/b", "c2/b"}, {"b", "b", "b"});
  EXPECT_EQ(l[0].groups, 2);
  EXPECT_EQ(l[0].nodes, 1);
  EXPECT_TRUE(l[2].first_on_node);
  EXPECT_FALSE(l[2].reader);
  EXPECT_EQ(l[2].reader_rank, 0);
}

TEST(NodeLayout, IdentityKeys) {
  NodeIdentity id{"host", "boot-uuid", ""};
  EXPECT_EQ(id.group_key(), "host:host/boot:boot-uuid");
  EXPECT_EQ(id.counter_key(), "boot:boot-uuid");
  EXPECT_EQ(id.display_name(), "host");
  id.override_id = "sim-1";
  EXPECT_EQ(id.group_key(), "override:sim-1");
  EXPECT_EQ(id.counter_key(), "override:sim-1");
  ::setenv(node_id_env, "sim-2", 1);
  EXPECT_EQ(node_identity().override_id, "sim-2");
  ::unsetenv(node_id_env);
  const auto self = node_identity();
  EXPECT_TRUE(self.override_id.empty());
  EXPECT_FALSE(self.hostname.empty());
  // The kernel's boot id as read here independently (empty where /proc does not have it, e.g. in some
  // containers).
  std::string boot_id;
  std::getline(std::ifstream("/proc/sys/kernel/random/boot_id"), boot_id);
  EXPECT_EQ(self.boot_id, boot_id);
}

TEST(NodeLayout, RejectsMismatchedInput) {
  EXPECT_THROW(assign_nodes({0}, {"a", "b"}, {"a"}), std::invalid_argument);
  EXPECT_THROW(assign_nodes({}, {}, {}), std::invalid_argument);
}
