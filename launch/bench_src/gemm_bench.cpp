// gemm_bench: Eigen's GEMM at an MLP's shapes (launch/bench's roofline until the trainer's products moved to
// oneDNN; launch/bench now measures the core's own limits with peak_bench). Times Eigen's single-precision
// GEMM at the shapes of one training step of an MLP (the same expressions as nn::Dense: Y = X·W forward,
// dW = Xᵀ·dY and dX = dY·Wᵀ backward, all row-major, rows are samples) and prints one JSON object:
//   {"batch", "threads", "shapes": [{"name", "m", "n", "k", "seconds", "gflops"}...],
//    "peak_gflops"       the best rate over the model's shapes (the target's "GEMM peak"),
//    "step_gemm_gflops"  2·Σmnk / Σseconds over the step's GEMMs: the rate of a step made only of them,
//    "square_gflops"     a 512×512×512 product, for reference}
// A GEMM of m×k by k×n counts 2·m·n·k floating-point operations. Each shape is repeated for at least
// --seconds and the median of 7 such rounds is kept, which rejects the noise of a shared machine.
#include <Eigen/Core>
#include <algorithm>
#include <boost/algorithm/string.hpp>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "median_time.hpp"
#include "mpitrain/base/float16.hpp"
#include "mpitrain/nn/matmul.hpp"

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
struct Shape {
  std::string name;
  long m, n, k;   // the product is (m × k)·(k × n)
  int kind;       // 0: A·B, 1: Aᵀ·B (weight gradient), 2: A·Bᵀ (input gradient)
};

using BitsMatrix = Eigen::Matrix<std::uint16_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

BitsMatrix rounded(const RowMatrix& m) {
  BitsMatrix out(m.rows(), m.cols());
  mpitrain::base::round_to_bf16({m.data(), static_cast<std::size_t>(m.size())},
                                {out.data(), static_cast<std::size_t>(out.size())});
  return out;
}

// Median seconds of one product over 7 rounds of at least min_seconds each.
double time_shape(const Shape& s, double min_seconds, bool onednn, mpitrain::nn::Precision precision) {
  using mpitrain::nn::Transpose;
  RowMatrix a = s.kind == 1 ? RowMatrix::Random(s.k, s.m) : RowMatrix::Random(s.m, s.k);
  RowMatrix b = s.kind == 2 ? RowMatrix::Random(s.n, s.k) : RowMatrix::Random(s.k, s.n);
  RowMatrix c = RowMatrix::Zero(s.m, s.n);
  const BitsMatrix a16 = rounded(a), b16 = rounded(b);
  // As the trainer runs them: the weight gradient accumulates.
  mpitrain::nn::MatrixProduct product(s.kind == 1 ? Transpose::a : s.kind == 2 ? Transpose::b : Transpose::none,
                                      s.kind == 1);
  auto run = [&] {
    if (onednn && precision == mpitrain::nn::Precision::bf16) {
      product.run(a16.data(), b16.data(), c.data(), s.m, s.n, s.k);
    } else if (onednn) {
      product.run(a.data(), b.data(), c.data(), s.m, s.n, s.k);
    } else if (s.kind == 0) {
      c.noalias() = a * b;
    } else if (s.kind == 1) {
      c.noalias() += a.transpose() * b;
    } else {
      c.noalias() = a * b.transpose();
    }
  };
  run();
  const double seconds = bench::median_seconds(run, min_seconds);
  if (c(0, 0) == 12345.678f) std::puts("");  // keeps the products observable
  return seconds;
}

std::vector<long> parse_list(const std::string& text) {
  std::vector<std::string> items;
  if (!text.empty()) boost::algorithm::split(items, text, boost::algorithm::is_any_of(","));
  std::vector<long> out;
  for (const std::string& item : items) out.push_back(std::stol(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  long batch = 64, inputs = 784, classes = 10;
  std::vector<long> hidden = {256, 128};
  int threads = 1;
  double seconds = 0.05;
  bool onednn = true;
  mpitrain::nn::Precision precision = mpitrain::nn::Precision::fp32;
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string key = argv[i], value = argv[i + 1];
      if (key == "--batch") batch = std::stol(value);
      else if (key == "--inputs") inputs = std::stol(value);
      else if (key == "--hidden") hidden = parse_list(value);
      else if (key == "--classes") classes = std::stol(value);
      else if (key == "--threads") threads = std::stoi(value);
      else if (key == "--seconds") seconds = std::stod(value);
      else if (key == "--engine" && (value == "onednn" || value == "eigen")) onednn = value == "onednn";
      else if (key == "--precision") precision = mpitrain::nn::parse_precision(value);
      else throw std::invalid_argument("unknown option " + key);
    }
    if (argc % 2 == 0) throw std::invalid_argument(std::string("option ") + argv[argc - 1] + " needs a value");
    if (batch < 1 || inputs < 1 || classes < 1 || threads < 1 || !(seconds > 0)) {
      throw std::invalid_argument("--batch, --inputs, --classes, --threads and --seconds must be positive");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_bench: %s\nusage: gemm_bench [--batch 64] [--inputs 784] [--hidden 256,128] "
                         "[--classes 10] [--threads 1] [--seconds 0.05] [--engine onednn|eigen] [--precision fp32|bf16]\n", e.what());
    return 2;
  }
  if (!onednn && precision != mpitrain::nn::Precision::fp32) {
    std::fprintf(stderr, "gemm_bench: --engine eigen has fp32 products only\n");
    return 2;
  }
  mpitrain::nn::set_compute_threads(threads);

  std::vector<long> widths = {inputs};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(classes);
  std::vector<Shape> shapes;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    const long in = widths[l], out = widths[l + 1];
    const std::string layer = l == 0 ? "dense" : "dense_" + std::to_string(l);
    shapes.push_back({layer + " forward", batch, out, in, 0});
    shapes.push_back({layer + " weight gradient", in, out, batch, 1});
    // The first layer's input gradient is never needed (nn::Model skips it).
    if (l > 0) shapes.push_back({layer + " input gradient", batch, in, out, 2});
  }

  double total_flops = 0.0, total_seconds = 0.0, peak = 0.0;
  std::string rows;
  for (const auto& s : shapes) {
    const double t = time_shape(s, seconds, onednn, precision);
    const double flops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
    total_flops += flops;
    total_seconds += t;
    peak = std::max(peak, flops / t / 1e9);
    char row[256];
    std::snprintf(row, sizeof row, "%s{\"name\": \"%s\", \"m\": %ld, \"n\": %ld, \"k\": %ld, \"seconds\": %.9g, "
                  "\"gflops\": %.2f}", rows.empty() ? "" : ", ", s.name.c_str(), s.m, s.n, s.k, t, flops / t / 1e9);
    rows += row;
  }
  const Shape square{"square", 512, 512, 512, 0};
  const double square_gflops = 2.0 * 512 * 512 * 512 / time_shape(square, seconds, onednn, precision) / 1e9;
  std::printf("{\"batch\": %ld, \"threads\": %d, \"engine\": \"%s\", \"precision\": \"%s\", \"shapes\": [%s], "
              "\"peak_gflops\": %.2f, \"step_gemm_gflops\": %.2f, \"step_gemm_flops\": %.0f, \"square_gflops\": %.2f}\n",
              batch, threads, onednn ? "onednn" : "eigen", mpitrain::nn::to_string(precision).c_str(), rows.c_str(), peak,
              total_flops / total_seconds / 1e9, total_flops, square_gflops);
  return 0;
}
