#include "mpitrain/dist/compression.hpp"

#include <bit>
#include <stdexcept>

#include "mpitrain/base/float16.hpp"
#include "mpitrain/dist/communicator.hpp"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace mpitrain::dist {

using base::bf16_to_float;
using base::float_to_bf16;
using base::float_to_fp16;
using base::fp16_to_float;

Compression parse_compression(const std::string& name) {
  if (name == "none") return Compression::none;
  if (name == "bf16") return Compression::bf16;
  if (name == "fp16") return Compression::fp16;
  throw std::invalid_argument("dist.compression: unknown value '" + name + "' (expected none, bf16 or fp16)");
}

std::string to_string(Compression c) {
  switch (c) {
    case Compression::none: return "none";
    case Compression::bf16: return "bf16";
    case Compression::fp16: return "fp16";
  }
  return "?";
}

namespace {

void check_lengths(Compression c, std::size_t in, std::size_t out, const char* what) {
  if (c == Compression::none) throw std::invalid_argument(std::string(what) + ": compression is none");
  if (in != out) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(in) + " inputs but " +
                                std::to_string(out) + " outputs");
  }
}

void encode_fp16(const float* in, std::uint16_t* out, std::size_t n) {
  std::size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
#endif
  for (; i < n; ++i) out[i] = float_to_fp16(in[i]);
}

void decode_fp16(const std::uint16_t* in, float* out, std::size_t n) {
  std::size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  }
#endif
  for (; i < n; ++i) out[i] = fp16_to_float(in[i]);
}

// MPI_User_function: inout[i] = round16(widen(in[i]) + widen(inout[i])), in fp32.
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const std::uint16_t*>(in);
  auto* b = static_cast<std::uint16_t*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i]));
}

void fp16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const std::uint16_t*>(in);
  auto* b = static_cast<std::uint16_t*>(inout);
  const auto n = static_cast<std::size_t>(*len);
  std::size_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m256 y = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + i), _mm256_cvtps_ph(_mm256_add_ps(x, y), _MM_FROUND_TO_NEAREST_INT));
  }
#endif
  for (; i < n; ++i) b[i] = float_to_fp16(fp16_to_float(a[i]) + fp16_to_float(b[i]));
}

}  // namespace

void encode(Compression c, std::span<const float> in, std::span<std::uint16_t> out) {
  check_lengths(c, in.size(), out.size(), "encode");
  if (c == Compression::fp16) {
    encode_fp16(in.data(), out.data(), in.size());
    return;
  }
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = float_to_bf16(in[i]);
}

void decode(Compression c, std::span<const std::uint16_t> in, std::span<float> out) {
  check_lengths(c, in.size(), out.size(), "decode");
  if (c == Compression::fp16) {
    decode_fp16(in.data(), out.data(), in.size());
    return;
  }
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = bf16_to_float(in[i]);
}

HalfSum::HalfSum(Compression c) {
  if (c == Compression::none) throw std::invalid_argument("HalfSum: compression is none");
  check_mpi(MPI_Op_create(c == Compression::bf16 ? &bf16_sum : &fp16_sum, 1, &op_), "MPI_Op_create");
}

HalfSum::~HalfSum() noexcept {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (op_ != MPI_OP_NULL && finalized == 0) MPI_Op_free(&op_);
}

}  // namespace mpitrain::dist
