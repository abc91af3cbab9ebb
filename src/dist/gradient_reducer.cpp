#include "mpitrain/dist/gradient_reducer.hpp"

#include <stdexcept>

#include "mpitrain/dist/bucketed_reducer.hpp"

namespace mpitrain::dist {

FusedAllreduceReducer::FusedAllreduceReducer(const Communicator& comm, Compression compression, std::int64_t size)
    : comm_(comm), compression_(compression), size_(size) {
  if (compression_ != Compression::none) {
    if (size_ < 1) throw std::invalid_argument("fused reducer: compression needs the buffer size");
    half_sum_ = std::make_unique<HalfSum>(compression_);
    encoded_.assign(static_cast<std::size_t>(size_), 0);
  }
}

void FusedAllreduceReducer::begin(std::span<float> grads) {
  if (size_ > 0 && static_cast<std::int64_t>(grads.size()) != size_) {
    throw std::invalid_argument("fused reducer: buffer of " + std::to_string(grads.size()) + " floats, built for " +
                                std::to_string(size_));
  }
  grads_ = grads;
}

void FusedAllreduceReducer::finish() {
  last_.range = {0, static_cast<std::int64_t>(grads_.size())};
  last_.start = std::chrono::steady_clock::now();
  if (compression_ == Compression::none) {
    comm_.allreduce(grads_, ReduceOp::sum);
  } else if (!grads_.empty()) {
    encode(compression_, grads_, encoded_);
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, encoded_.data(), detail::checked_count(encoded_.size()),
                            half_sum_->type(), half_sum_->op(), comm_.handle()),
              "MPI_Allreduce");
    decode(compression_, encoded_, grads_);
  }
  last_.end = std::chrono::steady_clock::now();
}

std::unique_ptr<GradientReducer> make_gradient_reducer(const Communicator& comm, const ReducerOptions& options,
                                                       std::span<const GradientRange> ready_order) {
  std::int64_t size = 0;
  for (const auto& r : ready_order) size += r.count;
  if (options.reducer == "fused") return std::make_unique<FusedAllreduceReducer>(comm, options.compression, size);
  if (options.reducer == "bucketed") {
    if (!(options.bucket_mb > 0)) {
      throw std::invalid_argument("dist.bucket_mb must be > 0, got " + std::to_string(options.bucket_mb));
    }
    const auto bytes = static_cast<std::int64_t>(options.bucket_mb * 1024.0 * 1024.0);
    return std::make_unique<BucketedReducer>(comm, ready_order, std::max<std::int64_t>(bytes, 4),
                                             options.compression);
  }
  throw std::invalid_argument("dist.reducer: unknown value '" + options.reducer + "' (expected fused or bucketed)");
}

}  // namespace mpitrain::dist
