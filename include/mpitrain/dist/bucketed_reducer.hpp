#pragma once
/// @file bucketed_reducer.hpp
/// Gradient reduction overlapped with backward, in buckets (the scheme of PyTorch DDP: S. Li et al.,
/// "PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020, §3.2; and of
/// Horovod's tensor fusion). The flat gradient buffer is cut into buckets of at most dist.bucket_mb MiB,
/// laid out in the order its ranges become final during backward (last layer first). Each bucket's
/// MPI_Iallreduce (sum, in place) starts as soon as all its elements are reported final; finish() completes
/// them all (MPI_Waitany until none is left) before the caller's optimizer step.
///
/// How MPI progresses while we compute: Open MPI (like MPICH without async progress) has no progress
/// thread for the shared-memory and TCP transports; a non-blocking collective (coll/libnbc) advances
/// only inside MPI calls made by the thread that started it. So ready(), called by the model between
/// layers, also calls MPI_Test on every bucket still in flight; each test moves the bucket's schedule on
/// (posts the next round's sends and receives, copies, reduces). During a layer's GEMM nothing moves,
/// so what is hidden is what completes between two calls, plus the time one rank would have waited for
/// a slower one. (A progress thread would need MPI_THREAD_MULTIPLE and a spare core.)
///
/// Sums: for 2 ranks floating-point addition is commutative, so every element's sum is bit-identical to
/// the fused MPI_Allreduce's; for 3 ranks Open MPI 4.1 also adds in the same order in both (tested in
/// tests/dist/test_gradient_reducers.cpp, which asserts bit equality at 1, 2 and 3 ranks).

#include <mpi.h>

#include <memory>
#include <span>
#include <vector>

#include "mpitrain/dist/gradient_reducer.hpp"

namespace mpitrain::dist {

/// The bucket layout: walks @p ready_order and appends each range to the open bucket while the ranges are
/// adjacent in memory and the bucket stays within @p bucket_floats; a range that does not fit closes the
/// open bucket. A range larger than the cap is cut into ceil(count / cap) near-equal pieces (the last piece
/// stays open), since its elements become final together anyway. Buckets are returned in start order.
/// @throws std::invalid_argument for bucket_floats < 1, an empty or negative range, or ranges that do not
///         cover [0, n) exactly once.
std::vector<GradientRange> bucket_layout(std::span<const GradientRange> ready_order, std::int64_t bucket_floats);

/// Bucketed, overlapped gradient allreduce; see the file comment for the protocol and progress.
class BucketedReducer final : public GradientReducer {
 public:
  /// @param comm must outlive the reducer. @param ready_order the ranges of the buffer in the order
  /// backward makes them final (nn::Model::ready_order: for an MLP each Dense layer's kernel and bias, last
  /// layer first).
  /// @param bucket_bytes largest bucket in bytes of fp32 gradient (>= 4).
  /// @throws std::invalid_argument as bucket_layout; MpiError.
  BucketedReducer(const Communicator& comm, std::span<const GradientRange> ready_order, std::int64_t bucket_bytes,
                  Compression compression = Compression::none);
  ~BucketedReducer() override;
  BucketedReducer(const BucketedReducer&) = delete;
  BucketedReducer& operator=(const BucketedReducer&) = delete;

  void begin(std::span<float> grads) override;
  void ready(std::int64_t first, std::int64_t count) override;
  void finish() override;
  [[nodiscard]] std::span<const BucketTiming> last_buckets() const override { return timings_; }
  [[nodiscard]] std::string name() const override { return "bucketed"; }
  [[nodiscard]] std::size_t bucket_count() const override { return layout_.size(); }
  /// The bucket layout, in start order.
  [[nodiscard]] const std::vector<GradientRange>& buckets() const { return layout_; }

 private:
  void start(std::size_t b);
  void complete(std::size_t b);
  void progress();

  const Communicator& comm_;
  Compression compression_;
  std::int64_t size_ = 0;                  // floats in the buffer
  std::vector<GradientRange> layout_;      // buckets, in start order
  std::vector<std::int64_t> pending_;      // per bucket: elements not yet reported final
  std::vector<MPI_Request> requests_;      // per bucket; MPI_REQUEST_NULL when idle or complete
  std::vector<char> started_;              // per bucket, this step
  std::vector<BucketTiming> timings_;      // per bucket, this step, in start order
  std::vector<std::size_t> start_order_;   // bucket index of timings_[k]
  std::vector<GradientRange> reported_;    // ranges reported final this step
  std::unique_ptr<HalfSum> half_sum_;      // with compression only
  std::vector<std::uint16_t> encoded_;     // size_, with compression only
  std::span<float> grads_;
  bool in_step_ = false;
};

}  // namespace mpitrain::dist
