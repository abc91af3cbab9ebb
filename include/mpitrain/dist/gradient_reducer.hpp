#pragma once
/// @file gradient_reducer.hpp
/// The seam between the trainer and the collectives: sums the flat gradient buffer over all ranks, either
/// in one allreduce after backward (FusedAllreduceReducer) or bucket by bucket while backward still runs
/// (BucketedReducer, bucketed_reducer.hpp). dist knows nothing of layers: a reducer sees ranges of floats.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/dist/compression.hpp"

namespace mpitrain::dist {

/// A half-open range [first, first + count) of the flat gradient buffer, in floats.
struct GradientRange {
  std::int64_t first = 0;  ///< First element (floats from the buffer's start).
  std::int64_t count = 0;  ///< Elements (floats).
  bool operator==(const GradientRange&) const = default;
};

/// One allreduce of the last step: which part of the buffer it summed and when.
struct BucketTiming {
  GradientRange range;                           ///< The elements it summed.
  std::chrono::steady_clock::time_point start;   ///< When this rank started it (before encoding, if any).
  std::chrono::steady_clock::time_point end;     ///< When this rank saw it complete and decoded it.
};

/// Sums a gradient buffer over all ranks, in place. The protocol of one step, identical on every rank:
///
///     begin(grads);                       // grads: n floats, the same n on every rank
///     ready(first, count); ...            // as ranges become final: every element exactly once, in the
///                                         // same order on every rank (collectives start in that order)
///     finish();                           // returns when grads holds the sum over ranks
///
/// Averaging is the caller's explicit scale afterwards (sum, then scale, as Horovod does). A reducer may
/// start communication inside ready() and make progress there; finish() completes it all. Steady-state
/// steps allocate no memory in this code (MPI's own internals may).
class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  /// Starts a step over @p grads, which must stay valid until finish().
  /// @throws std::invalid_argument if the size differs from the one the reducer was built for.
  virtual void begin(std::span<float> grads) = 0;
  /// The elements [first, first + count) of the buffer given to begin() are final.
  /// @throws std::logic_error for a range outside the buffer or reported twice; MpiError.
  virtual void ready(std::int64_t first, std::int64_t count) = 0;
  /// Completes the step (starting whatever was not reported ready). @throws MpiError.
  virtual void finish() = 0;
  /// The allreduces of the last finished step, in the order they were started.
  [[nodiscard]] virtual std::span<const BucketTiming> last_buckets() const = 0;
  /// `fused` or `bucketed`.
  [[nodiscard]] virtual std::string name() const = 0;
  /// Allreduces per step.
  [[nodiscard]] virtual std::size_t bucket_count() const = 0;

  /// One whole step at once: begin(grads), ready(0, n), finish(). @throws as those.
  void reduce(std::span<float> grads) {
    begin(grads);
    ready(0, static_cast<std::int64_t>(grads.size()));
    finish();
  }
};

/// One blocking MPI_Allreduce (sum) over the whole buffer in finish(); ready() only records. With
/// compression the buffer is encoded to 16 bits, summed by HalfSum's operator and decoded.
class FusedAllreduceReducer final : public GradientReducer {
 public:
  /// @param comm must outlive the reducer. @param size the buffer's length in floats (0: any length, the
  ///        first begin() fixes nothing; needed > 0 with compression, to size the 16-bit buffer once).
  /// @throws std::invalid_argument for compression with size 0; MpiError.
  explicit FusedAllreduceReducer(const Communicator& comm, Compression compression = Compression::none,
                                 std::int64_t size = 0);
  void begin(std::span<float> grads) override;
  void ready(std::int64_t, std::int64_t) override {}
  void finish() override;
  [[nodiscard]] std::span<const BucketTiming> last_buckets() const override { return {&last_, 1}; }
  [[nodiscard]] std::string name() const override { return "fused"; }
  [[nodiscard]] std::size_t bucket_count() const override { return 1; }

 private:
  const Communicator& comm_;
  Compression compression_;
  std::int64_t size_;
  std::unique_ptr<HalfSum> half_sum_;   // with compression only
  std::vector<std::uint16_t> encoded_;  // size_, with compression only
  std::span<float> grads_;
  BucketTiming last_;
};

/// Options of make_gradient_reducer (mirrors config::DistConfig without depending on it).
struct ReducerOptions {
  std::string reducer = "fused";           ///< `fused` or `bucketed`.
  double bucket_mb = 0.25;                 ///< Largest bucket (MiB of fp32 gradient), > 0.
  Compression compression = Compression::none;  ///< Element type on the wire.
};

/// Builds the reducer @p options name for a buffer whose ranges become final in @p ready_order (each
/// element in exactly one range; see BucketedReducer).
/// @throws std::invalid_argument for an unknown reducer name, bucket_mb <= 0 or a bad ready_order.
std::unique_ptr<GradientReducer> make_gradient_reducer(const Communicator& comm, const ReducerOptions& options,
                                                       std::span<const GradientRange> ready_order);

}  // namespace mpitrain::dist
