#pragma once
/// @file gradient_reducer.hpp
/// The seam between the trainer and the collectives: sums the flat gradient buffer over all ranks.

#include <memory>
#include <span>

#include "mpitrain/dist/communicator.hpp"

namespace mpitrain::dist {

/// Sums a gradient buffer over all ranks, in place. Averaging is the caller's explicit scale afterwards.
class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  /// Replaces @p grads (n floats, same n on every rank) by its sum over all ranks. @throws MpiError.
  virtual void reduce(std::span<float> grads) = 0;
};

/// One allreduce (sum) over the whole contiguous buffer.
class FusedAllreduceReducer final : public GradientReducer {
 public:
  explicit FusedAllreduceReducer(const Communicator& comm) : comm_(comm) {}
  void reduce(std::span<float> grads) override { comm_.allreduce(grads, ReduceOp::sum); }

 private:
  const Communicator& comm_;
};

}  // namespace mpitrain::dist
