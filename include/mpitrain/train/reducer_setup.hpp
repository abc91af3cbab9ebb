#pragma once
/// @file reducer_setup.hpp
/// How one rank's step is parallelised and its gradients exchanged: Eigen threads per rank, and the
/// gradient reducer (fused or bucketed, dist.compression) fed by the model's backward pass.

#include <memory>
#include <span>
#include <vector>

#include "mpitrain/config/config.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"
#include "mpitrain/nn/model.hpp"

namespace mpitrain::train {

/// The ranges of @p model's gradient buffer in the order its backward makes them final: the groups of
/// nn::Model::ready_order(), one after the other.
std::vector<dist::GradientRange> gradient_ready_order(const nn::Model& model);

/// The reducer @p dist asks for (dist.reducer, dist.bucket_mb, dist.compression) over @p model's
/// gradient buffer. @throws config::ConfigError naming the key for a bad value; dist::MpiError.
std::unique_ptr<dist::GradientReducer> make_reducer(const config::DistConfig& dist, const dist::Communicator& comm,
                                                    const nn::Model& model);

/// Passes nn::Model::backward's "these gradients are final" notifications to a reducer's ready().
class ReducerHook final : public nn::GradientReadyHook {
 public:
  /// @param reducer must outlive the hook.
  explicit ReducerHook(dist::GradientReducer& reducer) : reducer_(reducer) {}
  void gradients_ready(std::span<const base::Range> ranges) override {
    for (const base::Range& r : ranges) reducer_.ready(r.begin, r.size());
  }

 private:
  dist::GradientReducer& reducer_;
};

/// Sets Eigen's GEMM threads of this rank to @p threads (train.threads, >= 1; Eigen parallelises with
/// OpenMP) and logs a warning (from the node's local rank 0) when the node's ranks times @p threads exceed
/// its logical CPUs, or (from any rank) when this rank may run on fewer CPUs than @p threads (its
/// affinity mask, e.g. mpirun's binding to one core): then threads time-share cores and slow each other.
/// @return the node's logical CPUs.
int configure_threads(int threads, const dist::Communicator& comm);

}  // namespace mpitrain::train
