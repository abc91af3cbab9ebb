// main() of the MPI unit tests; see mpi_gtest.hpp.
#include <gtest/gtest.h>

#include "mpi_gtest.hpp"

namespace mpitrain::test {
const dist::Communicator* world = nullptr;
}  // namespace mpitrain::test

int main(int argc, char** argv) {
  using namespace mpitrain::dist;
  ::testing::InitGoogleTest(&argc, argv);
  Environment env(argc, argv);
  int failed = 0;
  {
    Communicator comm(MPI_COMM_WORLD);
    mpitrain::test::world = &comm;
    if (comm.rank() != 0) {
      delete ::testing::UnitTest::GetInstance()->listeners().Release(
          ::testing::UnitTest::GetInstance()->listeners().default_result_printer());
    }
    failed = RUN_ALL_TESTS();
    // Every rank's verdict counts: a failure on any rank fails the run on all.
    failed = comm.allreduce(failed != 0 ? 1 : 0, ReduceOp::lor);
    mpitrain::test::world = nullptr;
  }
  return failed;
}
