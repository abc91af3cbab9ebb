#pragma once
/// @file compression.hpp
/// 16-bit gradient exchange (`dist.compression`): fp32 gradients are rounded to bf16 or fp16, summed over
/// the ranks by an allreduce with a user-defined MPI operator that adds in fp32 and rounds the sum back to
/// 16 bits, and widened to fp32 again. Half the bytes of an fp32 allreduce, at the same message count, and
/// it stays an allreduce, so it overlaps with backward like the fp32 one (an allgather of 16-bit buffers
/// summed locally would round only once but moves (N-1)·n values to every rank instead of about 2n).
///
/// Precision: every value is rounded once on the way in, and each of the N-1 partial sums once more;
/// the relative error of one rounding is at most 2^-8 for bf16 (8 significant bits) and 2^-11 for fp16
/// (11 bits). bf16 keeps fp32's range; fp16 overflows to ±inf beyond 65504 and loses precision below
/// 6.1e-5 (subnormals), which the summed (not yet averaged) gradients of a batch rarely reach.
/// Formats (base/float16.hpp): bf16 is the upper half of an IEEE-754 binary32 (Kalamkar et al., "A Study of BFLOAT16 for
/// Deep Learning Training", arXiv:1905.12322, 2019); fp16 is IEEE-754-2008 binary16. Both round to
/// nearest, ties to even; NaN stays NaN.

#include <mpi.h>

#include <cstdint>
#include <span>
#include <string>

namespace mpitrain::dist {

/// Element type of the gradient exchange.
enum class Compression { none, bf16, fp16 };

/// Parses `none`, `bf16` or `fp16`. @throws std::invalid_argument naming the value otherwise.
Compression parse_compression(const std::string& name);
/// The name of @p c.
std::string to_string(Compression c);

/// Rounds @p in to @p out (same length) in format @p c (bf16 or fp16).
/// @throws std::invalid_argument for Compression::none or different lengths.
void encode(Compression c, std::span<const float> in, std::span<std::uint16_t> out);
/// Widens @p in to @p out (same length) from format @p c (bf16 or fp16).
/// @throws std::invalid_argument for Compression::none or different lengths.
void decode(Compression c, std::span<const std::uint16_t> in, std::span<float> out);

/// The MPI side of a 16-bit exchange: MPI_UINT16_T elements and a commutative user-defined operator
/// (MPI_Op_create) computing inout[i] = round16(widen(in[i]) + widen(inout[i])). Owns the MPI_Op, which
/// it frees in its destructor (before MPI_Finalize, as RAII order in main guarantees).
class HalfSum {
 public:
  /// @param c bf16 or fp16. @throws std::invalid_argument for none; MpiError.
  explicit HalfSum(Compression c);
  ~HalfSum() noexcept;
  HalfSum(const HalfSum&) = delete;
  HalfSum& operator=(const HalfSum&) = delete;

  [[nodiscard]] MPI_Datatype type() const { return MPI_UINT16_T; }
  [[nodiscard]] MPI_Op op() const { return op_; }

 private:
  MPI_Op op_ = MPI_OP_NULL;
};

}  // namespace mpitrain::dist
