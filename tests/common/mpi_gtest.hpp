#pragma once
// The MPI unit tests (test_dist, test_reducers, test_perf, test_energy_mpi) run under `mpirun -np N`:
// mpi_gtest_main.cpp initialises MPI, points `world` at MPI_COMM_WORLD's communicator, runs every test on
// every rank (only rank 0 prints), and fails the run on every rank when a test failed on any.
#include "mpitrain/dist/communicator.hpp"

namespace mpitrain::test {
/// The communicator of all ranks, set before the first test runs.
extern const dist::Communicator* world;
}  // namespace mpitrain::test
