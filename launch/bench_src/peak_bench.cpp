// peak_bench: the arithmetic limits of ONE core, the denominators of launch/bench's "% of peak" columns.
// Each limit is a loop that touches no memory: kChains independent accumulators, each updated by one
// instruction per iteration, enough of them to hide the instruction's latency on two pipes (the FMA's
// 4 cycles × 2 pipes need 8 in flight; 16 leaves room for a longer bf16 latency):
//   fp32: vfmadd*ps on zmm (AVX-512F; GCC picks the 132 or 231 form, the same operation), 16 lanes × 2
//         FLOPs = 32 FLOPs per instruction; on a CPU without AVX-512, vfmadd*ps on ymm (AVX2 + FMA),
//         12 chains (16 ymm registers), 8 × 2 = 16 FLOPs;
//   bf16: vdpbf16ps on zmm (AVX512_BF16), 16 fp32 lanes each adding 2 bf16 products: 2 × 2 × 16 = 64
//         FLOPs per instruction; null where the CPU lacks AVX512_BF16.
// The kernels are compiled for their instruction sets by function attributes (the rest of the file, and of
// the project, keeps the default flags) and chosen at run time with __builtin_cpu_supports (CPUID and the
// OS's register state). The accumulators are summed into a volatile so the loops stay. No thread is
// pinned. Each loop runs --rounds rounds (default 7) of at least --seconds (default 0.1 s); the JSON object
// printed has the median and the maximum GFLOP/s over the rounds and every round:
//   {"isa", "fp32_fma_gflops", "fp32_fma_gflops_max", "fp32_fma_gflops_rounds", "fp32_instruction",
//    "fp32_flops_per_instruction", "fp32_chains", "bf16_dot_gflops", "bf16_dot_gflops_max",
//    "bf16_dot_gflops_rounds", "bf16_instruction", "bf16_chains", "rounds", "round_seconds"}
// Check the loop bodies with `objdump -d build/peak_bench --no-show-raw-insn | grep -A40 'fma_avx512'`.
#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "median_time.hpp"

namespace {

constexpr long kIterations = 1L << 18;  // iterations per timed call: ~0.5 ms at 2 instructions per cycle
constexpr int kChains512 = 16;
constexpr int kChains256 = 12;
volatile float g_sink = 0.0f;           // where the accumulators go, so no loop is dead code

// Stores the sum of every lane of the accumulators @p acc in g_sink (a copy of their bytes: no vector
// instruction, so no instruction-set attribute here).
template <class Vector, int Chains>
void sink(const Vector (&acc)[Chains]) {
  float lanes[Chains * sizeof(Vector) / sizeof(float)];
  std::memcpy(lanes, acc, sizeof acc);
  float total = 0.0f;
  for (float lane : lanes) total += lane;
  g_sink = total;
}

// acc ← acc · 0.999999 + 1e-6 keeps every lane at 1.0 (no overflow, no subnormals) and cannot be folded
// without -ffast-math.
__attribute__((target("avx512f"))) void fma_avx512(long iterations) {
  __m512 acc[kChains512];
  for (int c = 0; c < kChains512; ++c) acc[c] = _mm512_set1_ps(1.0f);
  const __m512 scale = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-6f);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains512; ++c) acc[c] = _mm512_fmadd_ps(acc[c], scale, add);
  }
  sink(acc);
}

__attribute__((target("avx2,fma"))) void fma_avx2(long iterations) {
  __m256 acc[kChains256];
  for (int c = 0; c < kChains256; ++c) acc[c] = _mm256_set1_ps(1.0f);
  const __m256 scale = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-6f);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains256; ++c) acc[c] = _mm256_fmadd_ps(acc[c], scale, add);
  }
  sink(acc);
}

// acc ← acc + Σ_pairs a·b with a = b = bf16(1e-3): each lane grows by 2e-6 per instruction, far from
// overflow in any run.
__attribute__((target("avx512f,avx512bf16"))) void dot_bf16_avx512(long iterations) {
  __m512 acc[kChains512];
  for (int c = 0; c < kChains512; ++c) acc[c] = _mm512_set1_ps(1.0f);
  const __m512 small = _mm512_set1_ps(1e-3f);
  const __m512bh a = _mm512_cvtne2ps_pbh(small, small), b = a;
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains512; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
  }
  sink(acc);
}

struct Peak {
  double median = 0.0, max = 0.0;  // GFLOP/s
  std::vector<double> rounds;      // GFLOP/s of each round, in the order measured
};

Peak measure(void (*kernel)(long), int chains, int flops_per_instruction, double seconds, int rounds) {
  kernel(kIterations);  // warm-up: wakes the vector units and the clock
  const double flops = static_cast<double>(kIterations) * chains * flops_per_instruction;
  Peak peak;
  for (double s : bench::round_seconds([&] { kernel(kIterations); }, seconds, rounds)) {
    peak.rounds.push_back(flops / s / 1e9);
  }
  std::vector<double> sorted = peak.rounds;
  peak.median = bench::median(sorted);
  peak.max = *std::max_element(peak.rounds.begin(), peak.rounds.end());
  return peak;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.1;
  int rounds = 7;
  std::string isa = "auto";
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string key = argv[i], value = argv[i + 1];
      if (key == "--seconds") seconds = std::stod(value);
      else if (key == "--rounds") rounds = std::stoi(value);
      else if (key == "--isa") isa = value;
      else throw std::invalid_argument("unknown option " + key);
    }
    if (argc % 2 == 0) throw std::invalid_argument(std::string("option ") + argv[argc - 1] + " needs a value");
    if (!(seconds > 0) || rounds < 1) throw std::invalid_argument("--seconds and --rounds must be positive");
    if (isa != "auto" && isa != "avx512" && isa != "avx2") {
      throw std::invalid_argument("--isa must be auto, avx512 or avx2, not " + isa);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "peak_bench: %s\nusage: peak_bench [--seconds 0.1] [--rounds 7] [--isa auto|avx512|avx2]\n",
                 e.what());
    return 2;
  }
  __builtin_cpu_init();
  const bool has_avx512 = __builtin_cpu_supports("avx512f");
  const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool has_bf16 = has_avx512 && __builtin_cpu_supports("avx512bf16");
  if (isa == "auto") isa = has_avx512 ? "avx512" : "avx2";
  if ((isa == "avx512" && !has_avx512) || (isa == "avx2" && !has_avx2)) {
    std::fprintf(stderr, "peak_bench: this CPU has no %s (peak_bench needs AVX2 and FMA at least)\n",
                 isa == "avx512" ? "AVX-512F" : "AVX2 with FMA");
    return 1;
  }

  nlohmann::ordered_json out;
  out["isa"] = isa;
  const bool wide = isa == "avx512";
  const int fp32_chains = wide ? kChains512 : kChains256, fp32_flops = wide ? 32 : 16;
  const Peak fp32 = measure(wide ? fma_avx512 : fma_avx2, fp32_chains, fp32_flops, seconds, rounds);
  out["fp32_fma_gflops"] = fp32.median;
  out["fp32_fma_gflops_max"] = fp32.max;
  out["fp32_fma_gflops_rounds"] = fp32.rounds;
  out["fp32_instruction"] = wide ? "vfmadd*ps zmm" : "vfmadd*ps ymm";
  out["fp32_flops_per_instruction"] = fp32_flops;
  out["fp32_chains"] = fp32_chains;
  if (has_bf16 && wide) {
    const Peak bf16 = measure(dot_bf16_avx512, kChains512, 64, seconds, rounds);
    out["bf16_dot_gflops"] = bf16.median;
    out["bf16_dot_gflops_max"] = bf16.max;
    out["bf16_dot_gflops_rounds"] = bf16.rounds;
    out["bf16_instruction"] = "vdpbf16ps zmm";
    out["bf16_chains"] = kChains512;
  } else {
    out["bf16_dot_gflops"] = nullptr;  // no AVX512_BF16 (or --isa avx2)
    out["bf16_dot_gflops_max"] = nullptr;
    out["bf16_dot_gflops_rounds"] = nullptr;
    out["bf16_instruction"] = nullptr;
    out["bf16_chains"] = nullptr;
  }
  out["rounds"] = rounds;
  out["round_seconds"] = seconds;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
