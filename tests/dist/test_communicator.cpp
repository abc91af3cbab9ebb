// Collectives under mpirun with 1, 2 and 3 ranks. Expected values are computed from the rank numbers.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "common/mpi_gtest.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"

using namespace mpitrain::dist;

namespace {
using mpitrain::test::world;
}

TEST(Communicator, RankAndSize) {
  int rank = -1, size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(world->rank(), rank);
  EXPECT_EQ(world->size(), size);
  // The ranks on this node, counted another way: the ranks whose processor (host) name is this rank's.
  std::vector<char> names(static_cast<std::size_t>(size) * MPI_MAX_PROCESSOR_NAME, '\0');
  int length = 0;
  MPI_Get_processor_name(names.data() + static_cast<std::size_t>(rank) * MPI_MAX_PROCESSOR_NAME, &length);
  MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, names.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, MPI_COMM_WORLD);
  const auto name_of = [&](int r) {
    return std::string(names.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME);
  };
  int same_host = 0, same_host_below = 0;
  for (int r = 0; r < size; ++r) {
    if (name_of(r) != name_of(rank)) continue;
    ++same_host;
    if (r < rank) ++same_host_below;
  }
  EXPECT_EQ(world->local_size(), same_host);
  EXPECT_EQ(world->local_rank(), same_host_below);
}

TEST(Communicator, AllreduceOps) {
  const int r = world->rank(), n = world->size();
  std::vector<double> v = {static_cast<double>(r), 1.0};
  world->allreduce(std::span<double>(v), ReduceOp::sum);
  EXPECT_EQ(v[0], n * (n - 1) / 2.0);
  EXPECT_EQ(v[1], n);
  EXPECT_EQ(world->allreduce(static_cast<std::int64_t>(r), ReduceOp::max), n - 1);
  EXPECT_EQ(world->allreduce(static_cast<std::int64_t>(r) + 5, ReduceOp::min), 5);
  EXPECT_EQ(world->allreduce(static_cast<int>(r == n - 1), ReduceOp::lor), 1);
}

TEST(Communicator, FusedReducerSumsGradients) {
  const int r = world->rank(), n = world->size();
  std::vector<float> g(1000);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(i * (r + 1));
  FusedAllreduceReducer reducer(*world);
  reducer.reduce(g);
  const float factor = static_cast<float>(n * (n + 1) / 2);
  for (std::size_t i = 0; i < g.size(); ++i) ASSERT_EQ(g[i], static_cast<float>(i) * factor);
}

TEST(Communicator, BroadcastString) {
  std::string text = world->rank() == 0 ? std::string(5000, 'x') + "end" : "other";
  world->broadcast(text, 0);
  EXPECT_EQ(text.size(), 5003u);
  EXPECT_EQ(text.substr(5000), "end");
}

TEST(Communicator, GathervKeepsRankOrder) {
  const int r = world->rank(), n = world->size();
  std::vector<int> local(static_cast<std::size_t>(r));  // rank r sends r copies of r
  std::fill(local.begin(), local.end(), r);
  std::vector<int> expected;
  for (int i = 0; i < n; ++i) expected.insert(expected.end(), static_cast<std::size_t>(i), i);
  EXPECT_EQ(world->allgatherv(std::span<const int>(local)), expected);
  const auto gathered = world->gatherv(std::span<const int>(local), 0);
  if (r == 0) {
    EXPECT_EQ(gathered, expected);
  } else {
    EXPECT_TRUE(gathered.empty());
  }
}

TEST(Communicator, RunAgreedPropagatesTheLowestFailingRank) {
  const int n = world->size();
  const int failing = n - 1;
  try {
    run_agreed(*world, [&] {
      if (world->rank() >= failing) throw std::runtime_error("bad input on rank " + std::to_string(world->rank()));
    });
    FAIL() << "no AgreedError";
  } catch (const AgreedError& e) {
    EXPECT_EQ(e.failing_rank(), failing);
    EXPECT_EQ(std::string(e.what()), "bad input on rank " + std::to_string(failing));
  }
  EXPECT_NO_THROW(run_agreed(*world, [] {}));
}

TEST(Communicator, MoveLeavesSourceEmpty) {
  Communicator a(world->handle());
  Communicator b(std::move(a));
  EXPECT_EQ(a.handle(), MPI_COMM_NULL);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(b.allreduce(1, ReduceOp::sum), world->size());
}
