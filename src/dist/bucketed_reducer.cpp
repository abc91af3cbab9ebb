#include "mpitrain/dist/bucketed_reducer.hpp"

#include <algorithm>
#include <stdexcept>

namespace mpitrain::dist {

namespace {

using Clock = std::chrono::steady_clock;

std::string text(const GradientRange& r) {
  return "[" + std::to_string(r.first) + ", " + std::to_string(r.first + r.count) + ")";
}

// Checks that @p ranges cover [0, n) exactly once; returns n.
std::int64_t check_cover(std::span<const GradientRange> ranges) {
  std::vector<GradientRange> sorted(ranges.begin(), ranges.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::int64_t next = 0;
  for (const auto& r : sorted) {
    if (r.count < 1 || r.first < 0) throw std::invalid_argument("gradient range " + text(r) + " is empty or negative");
    if (r.first != next) {
      throw std::invalid_argument("gradient ranges must cover the buffer exactly once: " + text(r) +
                                  (r.first < next ? " overlaps another range" : " leaves a gap before it"));
    }
    next = r.first + r.count;
  }
  return next;
}

}  // namespace

std::vector<GradientRange> bucket_layout(std::span<const GradientRange> ready_order, std::int64_t bucket_floats) {
  if (bucket_floats < 1) throw std::invalid_argument("bucket size must be at least one float");
  check_cover(ready_order);
  std::vector<GradientRange> buckets;
  GradientRange open{0, 0};
  auto close = [&] {
    if (open.count > 0) buckets.push_back(open);
    open = {0, 0};
  };
  for (const auto& r : ready_order) {
    const bool adjacent = open.count == 0 || r.first + r.count == open.first || open.first + open.count == r.first;
    if (!adjacent || open.count + r.count > bucket_floats) close();
    if (r.count <= bucket_floats) {
      open = open.count == 0 ? r : GradientRange{std::min(open.first, r.first), open.count + r.count};
      continue;
    }
    // Near-equal pieces, from the range's end backward (the order in which a layer's buffer is laid out
    // does not matter here: all its elements become final together).
    const std::int64_t pieces = (r.count + bucket_floats - 1) / bucket_floats;
    std::int64_t end = r.first + r.count;
    for (std::int64_t p = 0; p < pieces; ++p) {
      const std::int64_t size = (r.count + p) / pieces;  // sizes differ by at most one
      open = {end - size, size};
      end -= size;
      if (p + 1 < pieces) close();
    }
  }
  close();
  return buckets;
}

BucketedReducer::BucketedReducer(const Communicator& comm, std::span<const GradientRange> ready_order,
                                 std::int64_t bucket_bytes, Compression compression)
    : comm_(comm), compression_(compression), size_(check_cover(ready_order)),
      layout_(bucket_layout(ready_order, bucket_bytes / static_cast<std::int64_t>(sizeof(float)))),
      pending_(layout_.size(), 0), requests_(layout_.size(), MPI_REQUEST_NULL), started_(layout_.size(), 0),
      start_order_(layout_.size(), 0) {
  timings_.reserve(layout_.size());
  reported_.reserve(ready_order.size() + 16);
  if (compression_ != Compression::none) {
    half_sum_ = std::make_unique<HalfSum>(compression_);
    encoded_.assign(static_cast<std::size_t>(size_), 0);
  }
}

BucketedReducer::~BucketedReducer() {
  // A step abandoned by an exception: complete its requests so that MPI does not write into freed memory.
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized != 0) return;
  for (auto& request : requests_) {
    if (request != MPI_REQUEST_NULL) MPI_Wait(&request, MPI_STATUS_IGNORE);
  }
}

void BucketedReducer::begin(std::span<float> grads) {
  if (static_cast<std::int64_t>(grads.size()) != size_) {
    throw std::invalid_argument("bucketed reducer: buffer of " + std::to_string(grads.size()) +
                                " floats, built for " + std::to_string(size_));
  }
  if (in_step_) throw std::logic_error("bucketed reducer: begin() before the previous step's finish()");
  grads_ = grads;
  in_step_ = true;
  timings_.clear();
  reported_.clear();
  for (std::size_t b = 0; b < layout_.size(); ++b) {
    pending_[b] = layout_[b].count;
    started_[b] = 0;
  }
}

void BucketedReducer::ready(std::int64_t first, std::int64_t count) {
  if (!in_step_) throw std::logic_error("bucketed reducer: ready() outside begin() ... finish()");
  if (first < 0 || count < 0 || first + count > size_) {
    throw std::logic_error("bucketed reducer: range " + text({first, count}) + " outside the buffer of " +
                           std::to_string(size_) + " floats");
  }
  if (count == 0) {
    progress();
    return;
  }
  for (const auto& r : reported_) {
    if (std::max(first, r.first) < std::min(first + count, r.first + r.count)) {
      throw std::logic_error("bucketed reducer: range " + text({first, count}) + " overlaps " + text(r) +
                             ", reported final before in this step");
    }
  }
  reported_.push_back({first, count});  // capacity reserved for the usual reports: no allocation
  // Buckets are scanned in start order, so that every rank starts them in the same order.
  for (std::size_t b = 0; b < layout_.size(); ++b) {
    const auto& bucket = layout_[b];
    const std::int64_t overlap =
        std::min(first + count, bucket.first + bucket.count) - std::max(first, bucket.first);
    if (overlap <= 0) continue;
    pending_[b] -= overlap;
    if (pending_[b] == 0) start(b);
  }
  progress();
}

void BucketedReducer::start(std::size_t b) {
  const auto& bucket = layout_[b];
  BucketTiming timing{bucket, Clock::now(), {}};
  const auto at = static_cast<std::size_t>(bucket.first);
  const int count = detail::checked_count(static_cast<std::size_t>(bucket.count));
  if (compression_ == Compression::none) {
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, grads_.data() + at, count, MPI_FLOAT, MPI_SUM, comm_.handle(),
                             &requests_[b]),
              "MPI_Iallreduce");
  } else {
    const auto n = static_cast<std::size_t>(bucket.count);
    encode(compression_, grads_.subspan(at, n), std::span<std::uint16_t>(encoded_).subspan(at, n));
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, encoded_.data() + at, count, half_sum_->type(), half_sum_->op(),
                             comm_.handle(), &requests_[b]),
              "MPI_Iallreduce");
  }
  started_[b] = 1;
  start_order_[timings_.size()] = b;
  timings_.push_back(timing);
}

void BucketedReducer::complete(std::size_t b) {
  const auto& bucket = layout_[b];
  if (compression_ != Compression::none) {
    const auto at = static_cast<std::size_t>(bucket.first);
    const auto n = static_cast<std::size_t>(bucket.count);
    decode(compression_, std::span<const std::uint16_t>(encoded_).subspan(at, n), grads_.subspan(at, n));
  }
  for (std::size_t k = 0; k < timings_.size(); ++k) {
    if (start_order_[k] == b) timings_[k].end = Clock::now();
  }
}

void BucketedReducer::progress() {
  for (std::size_t b = 0; b < layout_.size(); ++b) {
    if (requests_[b] == MPI_REQUEST_NULL) continue;
    int done = 0;
    check_mpi(MPI_Test(&requests_[b], &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done != 0) complete(b);
  }
}

void BucketedReducer::finish() {
  if (!in_step_) throw std::logic_error("bucketed reducer: finish() without begin()");
  for (std::size_t b = 0; b < layout_.size(); ++b) {
    if (started_[b] == 0) start(b);
  }
  for (;;) {
    int index = MPI_UNDEFINED;
    check_mpi(MPI_Waitany(static_cast<int>(requests_.size()), requests_.data(), &index, MPI_STATUS_IGNORE),
              "MPI_Waitany");
    if (index == MPI_UNDEFINED) break;
    complete(static_cast<std::size_t>(index));
  }
  in_step_ = false;
}

}  // namespace mpitrain::dist
