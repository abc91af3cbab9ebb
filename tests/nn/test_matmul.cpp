// The kernel seam (nn/matmul.hpp, nn/linear_products.hpp) against plain double-precision loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mpitrain/base/float16.hpp"
#include "mpitrain/base/random.hpp"
#include "mpitrain/nn/dense.hpp"
#include "mpitrain/nn/linear_products.hpp"
#include "mpitrain/nn/matmul.hpp"

namespace mpitrain::nn {
namespace {

std::vector<float> random_values(std::int64_t n, std::uint64_t seed) {
  base::SplitMix64 rng(seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = 2.0f * rng.uniform_float() - 1.0f;
  return v;
}

// A row-major element of a matrix stored rows × cols.
double at(const std::vector<float>& m, std::int64_t cols, std::int64_t r, std::int64_t c) {
  return m[static_cast<std::size_t>(r * cols + c)];
}

struct Reference {
  std::vector<double> c;    // m × n, the exact product of the given inputs (in double)
  std::vector<double> abs;  // m × n, Σ|a||b|: the scale of each element's rounding error
};

// op(A)·op(B) in double, with A and B stored as Transpose says.
Reference product(const std::vector<float>& a, const std::vector<float>& b, std::int64_t m, std::int64_t n,
                  std::int64_t k, Transpose t) {
  Reference r{std::vector<double>(static_cast<std::size_t>(m * n)), std::vector<double>(static_cast<std::size_t>(m * n))};
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = 0, scale = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const double x = t == Transpose::a ? at(a, m, p, i) : at(a, k, i, p);
        const double y = t == Transpose::b ? at(b, k, j, p) : at(b, n, p, j);
        sum += x * y;
        scale += std::abs(x * y);
      }
      r.c[static_cast<std::size_t>(i * n + j)] = sum;
      r.abs[static_cast<std::size_t>(i * n + j)] = scale;
    }
  }
  return r;
}

std::vector<std::uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<std::uint16_t> out(v.size());
  base::round_to_bf16(v, out);
  return out;
}
std::vector<float> widened(const std::vector<std::uint16_t>& v) {
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = base::bf16_to_float(v[i]);
  return out;
}

struct Case {
  std::int64_t m, n, k;
};
// Odd sizes, a single row, a single column, the default MLP's first layer at a small batch, and a large k.
const Case cases[] = {{7, 13, 29}, {1, 10, 128}, {33, 1, 17}, {24, 256, 784}, {5, 3, 1500}};

// fp32: every element within 1e-5 of Σ|a||b| (a relative bound on the summation's rounding: fp32's unit
// roundoff 2^-24 ≈ 6e-8 times a blocked sum's depth stays far below it).
TEST(MatrixProduct, Fp32MatchesADoubleLoopForEveryTransposeAndAccumulation) {
  for (const Transpose t : {Transpose::none, Transpose::a, Transpose::b}) {
    for (const bool accumulate : {false, true}) {
      for (const Case& s : cases) {
        const auto a = random_values(s.m * s.k, 1), b = random_values(s.k * s.n, 2);
        const auto start = random_values(s.m * s.n, 3);
        std::vector<float> c = start;
        MatrixProduct mp(t, accumulate);
        mp.run(a.data(), b.data(), c.data(), s.m, s.n, s.k);
        const Reference r = product(a, b, s.m, s.n, s.k, t);
        for (std::size_t i = 0; i < c.size(); ++i) {
          const double expected = r.c[i] + (accumulate ? start[i] : 0.0);
          ASSERT_NEAR(c[i], expected, 1e-5 * (r.abs[i] + std::abs(expected)) + 1e-30)
              << "transpose " << static_cast<int>(t) << " accumulate " << accumulate << " m " << s.m << " n " << s.n
              << " k " << s.k << " element " << i;
        }
      }
    }
  }
}

// bf16 inputs, fp32 accumulation: against the double product of the rounded inputs, the fp32 bound above;
// against the unrounded inputs, each product x·y of rounded values carries at most (1 + u)² - 1 = 2u + u²
// relative error with u = 2^-8 (bf16 keeps 8 significant bits; nearest rounding errs by half an ulp, 2^-8
// relative at most), so the sum errs by at most (2u + u²)·Σ|a||b| plus the fp32 bound.
TEST(MatrixProduct, Bf16AccumulatesInFp32WithinTheRoundingBound) {
  const double u = 0x1p-8;
  for (const Transpose t : {Transpose::none, Transpose::a, Transpose::b}) {
    for (const Case& s : cases) {
      const auto a = random_values(s.m * s.k, 4), b = random_values(s.k * s.n, 5);
      const auto a16 = to_bf16(a), b16 = to_bf16(b);
      std::vector<float> c(static_cast<std::size_t>(s.m * s.n), 7.0f);
      MatrixProduct mp(t, false);
      mp.run(a16.data(), b16.data(), c.data(), s.m, s.n, s.k);
      const Reference rounded = product(widened(a16), widened(b16), s.m, s.n, s.k, t);
      const Reference exact = product(a, b, s.m, s.n, s.k, t);
      double worst_share = 0;  // the largest error against exact, as a share of the bound
      for (std::size_t i = 0; i < c.size(); ++i) {
        ASSERT_NEAR(c[i], rounded.c[i], 1e-5 * rounded.abs[i] + 1e-30) << "element " << i;
        const double bound = (2 * u + u * u) * exact.abs[i] + 1e-5 * rounded.abs[i];
        ASSERT_LE(std::abs(c[i] - exact.c[i]), bound) << "element " << i;
        worst_share = std::max(worst_share, std::abs(c[i] - exact.c[i]) / bound);
      }
      // The rounding is real: with k ≥ 17 random inputs some element differs from the fp32 product.
      EXPECT_GT(worst_share, 0.0) << "m " << s.m << " n " << s.n << " k " << s.k;
    }
  }
}

TEST(MatrixProduct, EmptySumsWriteZerosOrAddNothing) {
  std::vector<float> a(4), b(4), c(6, 3.0f);
  MatrixProduct write(Transpose::none, false), add(Transpose::none, true);
  add.run(a.data(), b.data(), c.data(), 2, 3, 0);
  EXPECT_EQ(c, std::vector<float>(6, 3.0f));
  write.run(a.data(), b.data(), c.data(), 2, 3, 0);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
  write.run(a.data(), b.data(), c.data(), 0, 3, 2);  // no rows: nothing to do
  EXPECT_THROW(write.run(a.data(), b.data(), c.data(), -1, 3, 2), std::invalid_argument);
}

TEST(MatrixProduct, CreatesOnePrimitivePerShapeAndElementType) {
  const auto a = random_values(64 * 32, 6), b = random_values(32 * 16, 7);
  std::vector<float> c(64 * 16);
  const auto a16 = to_bf16(a), b16 = to_bf16(b);
  MatrixProduct mp(Transpose::none, false);
  mp.run(a.data(), b.data(), c.data(), 64, 16, 32);  // the full slice
  mp.run(a.data(), b.data(), c.data(), 10, 16, 32);  // a last partial slice
  mp.run(a.data(), b.data(), c.data(), 64, 16, 32);
  mp.run(a.data(), b.data(), c.data(), 10, 16, 32);
  EXPECT_EQ(mp.primitives_created(), 2);
  mp.run(a16.data(), b16.data(), c.data(), 64, 16, 32);
  EXPECT_EQ(mp.primitives_created(), 3);
  // Beyond the cache's capacity the oldest shape is dropped, and made again when it returns; results stay right.
  for (std::int64_t rows = 1; rows <= 9; ++rows) mp.run(a.data(), b.data(), c.data(), rows, 16, 32);
  EXPECT_EQ(mp.primitives_created(), 3 + 9);  // nine new shapes; the cache keeps the newest 8
  mp.run(a.data(), b.data(), c.data(), 64, 16, 32);
  EXPECT_EQ(mp.primitives_created(), 13);     // the full slice was dropped: made again
  const Reference r = product(a, b, 64, 16, 32, Transpose::none);
  for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], r.c[i], 1e-5 * r.abs[i]);
}

// LinearProducts in bf16: forward, weight gradient and input gradient are the products of the rounded
// operands (X and W from forward, dY from backward), accumulated in fp32.
TEST(LinearProducts, Bf16RoundsEachOperandOnceAndKeepsFp32Outputs) {
  const std::int64_t rows = 9, inputs = 21, outputs = 6;
  const auto x = random_values(rows * inputs, 8), w = random_values(inputs * outputs, 9);
  const auto dy = random_values(rows * outputs, 10);
  LinearProducts lp;
  lp.reserve(16, inputs, outputs, Precision::bf16);
  std::vector<float> y(rows * outputs), dw(inputs * outputs, 0.5f), dx(rows * inputs);
  lp.forward(base::ConstMatrixMap(x.data(), rows, inputs), w.data(), base::MatrixMap(y.data(), rows, outputs));
  lp.backward(base::ConstMatrixMap(x.data(), rows, inputs), base::ConstMatrixMap(dy.data(), rows, outputs), w.data(),
              dw.data(), dx.data());
  const auto x16 = widened(to_bf16(x)), w16 = widened(to_bf16(w)), dy16 = widened(to_bf16(dy));
  const Reference ry = product(x16, w16, rows, outputs, inputs, Transpose::none);
  const Reference rdw = product(x16, dy16, inputs, outputs, rows, Transpose::a);
  const Reference rdx = product(dy16, w16, rows, inputs, outputs, Transpose::b);
  for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ry.c[i], 1e-5 * ry.abs[i]) << i;
  for (std::size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], 0.5 + rdw.c[i], 1e-5 * (rdw.abs[i] + 0.5)) << i;
  for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], rdx.c[i], 1e-5 * rdx.abs[i]) << i;
  // A backward over other rows than the forward's is refused.
  EXPECT_THROW(lp.backward(base::ConstMatrixMap(x.data(), 3, inputs), base::ConstMatrixMap(dy.data(), 3, outputs),
                           w.data(), dw.data(), dx.data()),
               std::invalid_argument);
}

// W stored outputs × inputs (WeightLayout::outputs_by_inputs), at fp32 and bf16: forward X·Wᵀ, weight
// gradient dYᵀ·X and input gradient dY·W against the double loops of the Keras layout on an explicitly
// transposed copy of W (inputs × outputs): Y = X·Wk, dWk = Xᵀ·dY (compared with dW transposed), dX = dY·Wkᵀ.
// At bf16 the operands of the reference are the rounded X, W and dY.
TEST(LinearProducts, OutputsByInputsLayoutMatchesTheTransposedKerasProducts) {
  const std::int64_t rows = 9, inputs = 21, outputs = 6;
  const auto x = random_values(rows * inputs, 13), w = random_values(outputs * inputs, 14);
  const auto dy = random_values(rows * outputs, 15);
  for (const Precision precision : {Precision::fp32, Precision::bf16}) {
    LinearProducts lp(WeightLayout::outputs_by_inputs);
    lp.reserve(16, inputs, outputs, precision);
    std::vector<float> y(rows * outputs), dw(outputs * inputs, 0.5f), dx(rows * inputs);
    lp.forward(base::ConstMatrixMap(x.data(), rows, inputs), w.data(), base::MatrixMap(y.data(), rows, outputs));
    lp.backward(base::ConstMatrixMap(x.data(), rows, inputs), base::ConstMatrixMap(dy.data(), rows, outputs),
                w.data(), dw.data(), dx.data());
    const bool bf16 = precision == Precision::bf16;
    const auto xr = bf16 ? widened(to_bf16(x)) : x, wr = bf16 ? widened(to_bf16(w)) : w;
    const auto dyr = bf16 ? widened(to_bf16(dy)) : dy;
    std::vector<float> wk(static_cast<std::size_t>(inputs * outputs));  // W transposed: inputs × outputs
    for (std::int64_t o = 0; o < outputs; ++o) {
      for (std::int64_t i = 0; i < inputs; ++i) {
        wk[static_cast<std::size_t>(i * outputs + o)] = wr[static_cast<std::size_t>(o * inputs + i)];
      }
    }
    const Reference ry = product(xr, wk, rows, outputs, inputs, Transpose::none);
    const Reference rdwk = product(xr, dyr, inputs, outputs, rows, Transpose::a);
    const Reference rdx = product(dyr, wk, rows, inputs, outputs, Transpose::b);
    const std::string label = bf16 ? "bf16 " : "fp32 ";
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ry.c[i], 1e-5 * ry.abs[i]) << label << i;
    for (std::int64_t o = 0; o < outputs; ++o) {
      for (std::int64_t i = 0; i < inputs; ++i) {
        const auto e = static_cast<std::size_t>(i * outputs + o);
        ASSERT_NEAR(dw[static_cast<std::size_t>(o * inputs + i)], 0.5 + rdwk.c[e], 1e-5 * (rdwk.abs[e] + 0.5))
            << label << o << "," << i;
      }
    }
    for (std::size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], rdx.c[i], 1e-5 * rdx.abs[i]) << label << i;
    // Without dW, dX alone is the same.
    std::vector<float> dx_only(rows * inputs);
    lp.backward(base::ConstMatrixMap(x.data(), rows, inputs), base::ConstMatrixMap(dy.data(), rows, outputs),
                w.data(), nullptr, dx_only.data());
    EXPECT_EQ(dx_only, dx) << label;
  }
}

// A Dense layer at bf16 computes Y = bf16(X)·bf16(W) + b: its outputs against a double forward pass.
TEST(LinearProducts, DenseLayerAtBf16) {
  const std::int64_t rows = 5, inputs = 40, units = 7;
  Dense dense("dense", {inputs}, units);
  ParameterRegistry params, buffers;
  dense.register_tensors(params, buffers);
  std::vector<float> p = random_values(params.total(), 11), g(static_cast<std::size_t>(params.total()));
  dense.bind(p, g, {});
  dense.set_precision(Precision::bf16);
  dense.reserve(rows);
  const auto x = random_values(rows * inputs, 12);
  const ConstMatrixMap y = dense.forward(ConstMatrixMap(x.data(), rows, inputs), Context::evaluation());
  const std::vector<float> kernel(p.begin(), p.begin() + inputs * units), bias(p.begin() + inputs * units, p.end());
  const Reference r = product(widened(to_bf16(x)), widened(to_bf16(kernel)), rows, units, inputs, Transpose::none);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < units; ++j) {
      const auto e = static_cast<std::size_t>(i * units + j);
      ASSERT_NEAR(y(i, j), r.c[e] + bias[static_cast<std::size_t>(j)], 1e-5 * (r.abs[e] + 1)) << i << "," << j;
    }
  }
}

}  // namespace
// BatchedMatrixProduct on strided views, as multi-head attention uses it: A is the heads of a (batch, rows,
// groups·k) buffer with row stride 3·groups·k (q of q|k|v), B the transposed heads of the same buffer (kᵀ),
// C the heads of a (batch, rows, groups·n) buffer with a gap column after each row. Each element against
// the double product of the same (rounded, at bf16) operands, within the fp32 bound of the tests above;
// the gap columns stay untouched.
TEST(BatchedMatrixProduct, StridedViewsMatchADoubleLoopInFp32AndBf16) {
  const std::int64_t batch = 3, groups = 2, m = 5, k = 7;  // n = m: C = A·Bᵀ of two m × k views
  const std::int64_t width = 3 * groups * k;             // q|k|v per row
  const std::int64_t c_row = groups * m + 1;              // one gap column per row of C
  const auto in = random_values(batch * m * width, 21);
  const MatrixBatch a{batch, groups, m, k, {m * width, k, width, 1}};
  const MatrixBatch b = MatrixBatch{batch, groups, m, k, {m * width, k, width, 1}}.transposed();
  const MatrixBatch c{batch, groups, m, m, {m * c_row, m, c_row, 1}};
  for (const bool bf16 : {false, true}) {
    const std::vector<float> used = bf16 ? widened(to_bf16(in)) : in;
    std::vector<float> out(static_cast<std::size_t>(batch * m * c_row), 9.0f);
    BatchedMatrixProduct product;
    if (bf16) {
      const auto in16 = to_bf16(in);
      product.run(in16.data(), a, in16.data() + groups * k, b, out.data(), c);
    } else {
      product.run(in.data(), a, in.data() + groups * k, b, out.data(), c);
    }
    for (std::int64_t i = 0; i < batch; ++i) {
      for (std::int64_t g = 0; g < groups; ++g) {
        for (std::int64_t r = 0; r < m; ++r) {
          for (std::int64_t col = 0; col < m; ++col) {
            double sum = 0, scale = 0;
            for (std::int64_t p = 0; p < k; ++p) {
              const double x = used[static_cast<std::size_t>(i * m * width + r * width + g * k + p)];
              const double y = used[static_cast<std::size_t>(i * m * width + col * width + groups * k + g * k + p)];
              sum += x * y;
              scale += std::abs(x * y);
            }
            const float got = out[static_cast<std::size_t>(i * m * c_row + r * c_row + g * m + col)];
            ASSERT_NEAR(got, sum, 1e-5 * scale + 1e-30) << "bf16 " << bf16 << " matrix " << i << "," << g;
          }
        }
        for (std::int64_t r = 0; r < m; ++r) EXPECT_EQ(out[static_cast<std::size_t>(i * m * c_row + r * c_row + groups * m)], 9.0f);
      }
    }
    EXPECT_EQ(product.primitives_created(), 1);
  }
}

// The products of a batch's first matrix have the same bits whether the batch holds 1 or 12 (a rank's
// share of a global batch must not change a sample's numbers), at both element types.
TEST(BatchedMatrixProduct, AMatrixsBitsDoNotDependOnTheBatchSize) {
  const std::int64_t groups = 4, m = 64, k = 32;
  for (const std::int64_t batch : {12, 5}) {
    const auto a = random_values(batch * groups * m * k, 22), b = random_values(batch * groups * k * m, 23);
    const MatrixBatch full_a{batch, groups, m, k, {groups * m * k, m * k, k, 1}};
    const MatrixBatch full_b{batch, groups, k, m, {groups * k * m, k * m, 1, k}};  // stored transposed
    const MatrixBatch full_c{batch, groups, m, m, {groups * m * m, m * m, m, 1}};
    MatrixBatch one_a = full_a, one_b = full_b, one_c = full_c;
    one_a.batch = one_b.batch = one_c.batch = 1;
    std::vector<float> all(static_cast<std::size_t>(batch * groups * m * m)), first(static_cast<std::size_t>(groups * m * m));
    BatchedMatrixProduct product;
    product.run(a.data(), full_a, b.data(), full_b, all.data(), full_c);
    product.run(a.data(), one_a, b.data(), one_b, first.data(), one_c);
    EXPECT_TRUE(std::equal(first.begin(), first.end(), all.begin())) << "fp32, batch " << batch;
    const auto a16 = to_bf16(a), b16 = to_bf16(b);
    product.run(a16.data(), full_a, b16.data(), full_b, all.data(), full_c);
    product.run(a16.data(), one_a, b16.data(), one_b, first.data(), one_c);
    EXPECT_TRUE(std::equal(first.begin(), first.end(), all.begin())) << "bf16, batch " << batch;
  }
}

TEST(BatchedMatrixProduct, DisagreeingLayoutsAreRefusedNamingThem) {
  std::vector<float> buffer(4096);
  const MatrixBatch a{2, 3, 4, 5, {60, 20, 5, 1}}, b{2, 3, 5, 6, {90, 30, 6, 1}}, c{2, 3, 4, 6, {72, 24, 6, 1}};
  BatchedMatrixProduct product;
  product.run(buffer.data(), a, buffer.data(), b, buffer.data() + 2048, c);  // consistent: runs
  MatrixBatch wrong_inner = b;
  wrong_inner.rows = 4;
  MatrixBatch wrong_grid = c;
  wrong_grid.groups = 2;
  for (const auto& [bl, cl] : {std::pair{wrong_inner, c}, std::pair{b, wrong_grid}}) {
    try {
      product.run(buffer.data(), a, buffer.data(), bl, buffer.data() + 2048, cl);
      ADD_FAILURE() << "no error";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("batched matrix product A (2 x 3) matrices of 4 x 5"), std::string::npos)
          << e.what();
    }
  }
}

// bf16 with a bias: every element is the product of the rounded operands plus the bias of its column (the
// fp32 bound above), with and without accumulation; an empty sum leaves the bias (added to C with accumulation).
TEST(MatrixProduct, Bf16WithABiasAddsItToEveryRow) {
  const std::int64_t m = 9, n = 11, k = 37;
  const auto a = random_values(m * k, 24), b = random_values(k * n, 25), bias = random_values(n, 26);
  const auto a16 = to_bf16(a), b16 = to_bf16(b);
  const Reference r = product(widened(a16), widened(b16), m, n, k, Transpose::none);
  for (const bool accumulate : {false, true}) {
    std::vector<float> c(static_cast<std::size_t>(m * n), 2.0f);
    MatrixProduct mp(Transpose::none, accumulate);
    mp.run(a16.data(), b16.data(), bias.data(), c.data(), m, n, k);
    for (std::int64_t i = 0; i < m * n; ++i) {
      const double expected = r.c[i] + bias[static_cast<std::size_t>(i % n)] + (accumulate ? 2.0 : 0.0);
      ASSERT_NEAR(c[i], expected, 1e-5 * (r.abs[i] + 3)) << "accumulate " << accumulate << " element " << i;
    }
    mp.run(a16.data(), b16.data(), bias.data(), c.data(), m, n, 0);
    for (std::int64_t i = 0; i < m * n; ++i) {
      const double before = r.c[i] + bias[static_cast<std::size_t>(i % n)] + (accumulate ? 2.0 : 0.0);
      const double expected = bias[static_cast<std::size_t>(i % n)] + (accumulate ? before : 0.0);
      ASSERT_NEAR(c[i], expected, 1e-5 * (r.abs[i] + 3)) << "empty sum, accumulate " << accumulate << " element " << i;
    }
  }
}

}  // namespace mpitrain::nn
