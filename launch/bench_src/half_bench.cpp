// half_bench: should dist/compression.cpp use Eigen::half / Eigen::bfloat16 for its conversions (review
// §3.3)? Compares, on one gradient-sized buffer, mpitrain's dist::encode / dist::decode and the MPI
// operator of the 16-bit allreduce (HalfSum, run through MPI_Reduce_local) with the same operations written
// as Eigen array casts; and checks whether both give the same bits for every float32 (encode) and every
// 16-bit pattern (decode). Prints one line per measurement: the median of 7 rounds, each repeated for at
// least --seconds. Not part of `all`: `cmake --build build --target half_bench`, then
// `mpirun -np 1 build/half_bench [--count 235146] [--seconds 0.05]`.
#include <mpi.h>

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "median_time.hpp"
#include "mpitrain/dist/compression.hpp"

namespace {

namespace dist = mpitrain::dist;
using bench::median_seconds;

// Eigen's view of a buffer of 16-bit patterns as half or bfloat16 values (both hold one uint16_t).
template <class Half>
Eigen::Map<Eigen::Array<Half, Eigen::Dynamic, 1>> as_half(std::vector<std::uint16_t>& v) {
  static_assert(sizeof(Half) == sizeof(std::uint16_t));
  return {reinterpret_cast<Half*>(v.data()), static_cast<Eigen::Index>(v.size())};
}

template <class Half>
void eigen_encode(const std::vector<float>& in, std::vector<std::uint16_t>& out) {
  as_half<Half>(out) = Eigen::Map<const Eigen::ArrayXf>(in.data(), static_cast<Eigen::Index>(in.size())).cast<Half>();
}

template <class Half>
void eigen_decode(std::vector<std::uint16_t>& in, std::vector<float>& out) {
  Eigen::Map<Eigen::ArrayXf>(out.data(), static_cast<Eigen::Index>(out.size())) = as_half<Half>(in).template cast<float>();
}

template <class Half>
void eigen_sum(std::vector<std::uint16_t>& a, std::vector<std::uint16_t>& b) {
  as_half<Half>(b) = (as_half<Half>(a).template cast<float>() + as_half<Half>(b).template cast<float>()).template cast<Half>();
}

bool is_nan16(std::uint16_t bits, dist::Compression c) {
  return c == dist::Compression::bf16 ? (bits & 0x7fffu) > 0x7f80u : (bits & 0x7fffu) > 0x7c00u;
}

// Every float32 bit pattern (in blocks) through both encoders, then every 16-bit pattern through both
// decoders: prints the patterns whose bits differ, NaN inputs apart.
template <class Half>
void compare_bits(dist::Compression c, const char* name) {
  constexpr std::size_t block = std::size_t{1} << 24;
  std::vector<float> in(block);
  std::vector<std::uint16_t> ours(block), eigen(block);
  std::uint64_t differ = 0, differ_nan = 0, nan_payloads_lost = 0;
  for (std::uint64_t start = 0; start < (std::uint64_t{1} << 32); start += block) {
    for (std::size_t i = 0; i < block; ++i) in[i] = std::bit_cast<float>(static_cast<std::uint32_t>(start + i));
    dist::encode(c, in, ours);
    eigen_encode<Half>(in, eigen);
    for (std::size_t i = 0; i < block; ++i) {
      if (ours[i] == eigen[i]) continue;
      if (in[i] != in[i]) {
        ++differ_nan;
        if (is_nan16(eigen[i], c) && ours[i] != eigen[i]) ++nan_payloads_lost;
      } else {
        ++differ;
      }
    }
  }
  std::vector<std::uint16_t> patterns(65536);
  for (std::size_t i = 0; i < patterns.size(); ++i) patterns[i] = static_cast<std::uint16_t>(i);
  std::vector<float> wide_ours(65536), wide_eigen(65536);
  dist::decode(c, patterns, wide_ours);
  eigen_decode<Half>(patterns, wide_eigen);
  std::uint64_t decode_differ = 0, decode_differ_nan = 0;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (std::bit_cast<std::uint32_t>(wide_ours[i]) == std::bit_cast<std::uint32_t>(wide_eigen[i])) continue;
    ++(is_nan16(patterns[i], c) ? decode_differ_nan : decode_differ);
  }
  std::printf("%s bits: encode of all 2^32 floats: %llu non-NaN inputs differ, %llu NaN inputs differ "
              "(%llu of them NaN in both, other payload); decode of all 2^16 patterns: %llu non-NaN and %llu "
              "NaN patterns differ\n",
              name, static_cast<unsigned long long>(differ), static_cast<unsigned long long>(differ_nan),
              static_cast<unsigned long long>(nan_payloads_lost), static_cast<unsigned long long>(decode_differ),
              static_cast<unsigned long long>(decode_differ_nan));
}

template <class Half>
void measure(dist::Compression c, const char* name, const std::vector<float>& grad, double seconds) {
  const std::size_t n = grad.size();
  std::vector<std::uint16_t> a(n), b(n), acc(n);
  std::vector<float> wide(n);
  dist::encode(c, grad, a);
  dist::encode(c, grad, b);
  const double enc_ours = median_seconds([&] { dist::encode(c, grad, acc); }, seconds);
  const double enc_eigen = median_seconds([&] { eigen_encode<Half>(grad, acc); }, seconds);
  const double dec_ours = median_seconds([&] { dist::decode(c, a, wide); }, seconds);
  const double dec_eigen = median_seconds([&] { eigen_decode<Half>(a, wide); }, seconds);
  // The allreduce's operator, as MPI calls it: inout = round16(in + inout). acc is reset to b before each
  // call (a copy of n uint16, timed in both columns alike) so that the values stay those of a real sum.
  const dist::HalfSum op(c);
  const double sum_ours = median_seconds([&] {
    acc = b;
    MPI_Reduce_local(a.data(), acc.data(), static_cast<int>(n), op.type(), op.op());
  }, seconds);
  const double sum_eigen = median_seconds([&] {
    acc = b;
    eigen_sum<Half>(a, acc);
  }, seconds);
  const auto row = [&](const char* what, double ours, double eigen) {
    std::printf("%s %-7s n=%zu: mpitrain %8.1f us, Eigen %8.1f us (Eigen/mpitrain %.2f)\n", name, what, n,
                ours * 1e6, eigen * 1e6, eigen / ours);
  };
  row("encode", enc_ours, enc_eigen);
  row("decode", dec_ours, dec_eigen);
  row("sum op", sum_ours, sum_eigen);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  std::size_t count = 235146;  // the default model's parameters (784-256-128-10)
  double seconds = 0.05;
  bool bits = true;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--count" && i + 1 < argc) count = std::stoul(argv[++i]);
    else if (key == "--seconds" && i + 1 < argc) seconds = std::stod(argv[++i]);
    else if (key == "--no-bits") bits = false;
    else {
      std::fprintf(stderr, "usage: half_bench [--count 235146] [--seconds 0.05] [--no-bits]\n");
      MPI_Finalize();
      return 2;
    }
  }
  // Gradient-like values: normal, scale 1e-3, a fixed seed.
  std::mt19937 gen(42);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  std::vector<float> grad(count);
  for (auto& g : grad) g = normal(gen);
  measure<Eigen::half>(dist::Compression::fp16, "fp16", grad, seconds);
  measure<Eigen::bfloat16>(dist::Compression::bf16, "bf16", grad, seconds);
  if (bits) {
    compare_bits<Eigen::half>(dist::Compression::fp16, "fp16");
    compare_bits<Eigen::bfloat16>(dist::Compression::bf16, "bf16");
  }
  MPI_Finalize();
  return 0;
}
