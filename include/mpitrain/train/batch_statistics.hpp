#pragma once
/// @file batch_statistics.hpp
/// The trainer's side of nn::BatchStatistics: a layer's per-channel sums (synchronized batch normalization)
/// summed over every rank of the step, so that a layer sees the statistics of the whole global batch.

#include <span>

#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/nn/batch_statistics.hpp"

namespace mpitrain::train {

/// nn::BatchStatistics over a communicator: sum() is one in-place allreduce (MPI_SUM of doubles), so every
/// rank gets the same sums. Collective: train::Step passes it in the training Context, and every rank runs
/// the same layers in the same order, so every rank calls it alike (a rank with no rows passes zeros).
/// The blocking allreduce may run while the bucketed reducer's non-blocking ones are in flight on the same
/// communicator: MPI orders collectives by the order of the calls, which is the same on every rank.
class AllreduceBatchStatistics final : public nn::BatchStatistics {
 public:
  /// @param comm the ranks of the step; must outlive this object.
  explicit AllreduceBatchStatistics(const dist::Communicator& comm) : comm_(comm) {}
  /// @throws dist::MpiError, std::length_error beyond INT_MAX values.
  void sum(std::span<double> values) const override;

 private:
  const dist::Communicator& comm_;
};

}  // namespace mpitrain::train
