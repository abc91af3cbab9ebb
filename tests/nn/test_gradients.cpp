// Finite-difference checks of every layer's backward pass (tests/common/gradient_check.hpp), of the loss,
// and of a whole model with the loss (the L2 penalty is optim's, tested there).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "common/gradient_check.hpp"
#include "mpitrain/base/float16.hpp"
#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/conv2d.hpp"
#include "mpitrain/base/float16.hpp"
#include "mpitrain/nn/dense.hpp"
#include "mpitrain/nn/embedding.hpp"
#include "mpitrain/nn/layer_norm.hpp"
#include "mpitrain/nn/causal_self_attention.hpp"
#include "mpitrain/nn/model_spec.hpp"
#include "mpitrain/nn/flatten.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/parameters.hpp"
#include "mpitrain/nn/pooling.hpp"

using namespace mpitrain;
using base::ConstMatrixMap;
using base::MatrixMap;
using base::RowMatrix;
using test::random_matrix;

TEST(DenseGradient, MatchesFiniteDifferences) { test::check_layer_gradient(nn::Dense("dense", {4}, 3)); }

TEST(DenseGradient, WithoutInputGradientReturnsNoRowsAndTheSameParameterGradient) {
  nn::Dense dense("dense", {4}, 3);
  dense.set_input_gradient(false);
  test::check_layer_gradient(dense);
}

TEST(DenseGradient, EmptyBatchAddsNothing) {
  nn::Dense dense("dense", {3}, 2);
  nn::ParameterRegistry registry, buffers;
  dense.register_tensors(registry, buffers);
  std::vector<float> params(registry.total(), 1.0f), grads(registry.total(), 7.0f);
  dense.bind(params, grads, {});
  dense.reserve(4);
  RowMatrix x(4, 3);
  dense.forward(ConstMatrixMap(x.data(), 0, 3), nn::Context::evaluation());
  RowMatrix dy(4, 2);
  dense.backward(ConstMatrixMap(dy.data(), 0, 2));
  for (float g : grads) EXPECT_EQ(g, 7.0f);
}

class ActivationGradient : public ::testing::TestWithParam<nn::ActivationKind> {};

TEST_P(ActivationGradient, MatchesFiniteDifferences) {
  // Inputs in [-2, 2), kept away from ReLU's kink at 0, where the finite difference is not the derivative.
  test::check_layer_gradient(nn::Activation("activation", GetParam(), {2, 3}),
                             {.rows = 4, .seed = 21, .input_scale = 2.0f, .kink_margin = 0.1f, .eps = 1e-3, .tol = 3e-3});
}

INSTANTIATE_TEST_SUITE_P(All, ActivationGradient,
                         ::testing::Values(nn::ActivationKind::relu, nn::ActivationKind::tanh,
                                           nn::ActivationKind::sigmoid, nn::ActivationKind::gelu));

// GELU's tanh approximation against its formula in double (Hendrycks and Gimpel 2016; PyTorch's
// GELU(approximate='tanh') gives 0.841192 at 1 and -0.158808 at -1), and its exact form x·Φ(x) within the
// approximation's error (below 1e-3 on [-4, 4]).
TEST(Gelu, ValuesOfTheTanhApproximation) {
  RowMatrix x(1, 9);
  x << -4.0f, -2.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 2.0f, 4.0f;
  RowMatrix y(1, 9);
  nn::activate(nn::ActivationKind::gelu, ConstMatrixMap(x.data(), 1, 9), MatrixMap(y.data(), 1, 9));
  for (int i = 0; i < 9; ++i) {
    const double v = x(0, i);
    const double a = std::sqrt(2.0 / std::numbers::pi);
    EXPECT_NEAR(y(0, i), 0.5 * v * (1.0 + std::tanh(a * (v + 0.044715 * v * v * v))), 1e-6) << v;
    EXPECT_NEAR(y(0, i), v * 0.5 * std::erfc(-v / std::sqrt(2.0)), 1e-3) << v;
  }
  EXPECT_NEAR(y(0, 6), 0.841192, 1e-6);
  EXPECT_NEAR(y(0, 2), -0.158808, 1e-6);
}

TEST(LayerNormGradient, MatchesFiniteDifferences) {
  test::check_layer_gradient(nn::LayerNorm("layer_normalization", {3, 5}, 1e-5), {.rows = 3, .seed = 31, .eps = 1e-3, .tol = 5e-3});
  nn::LayerNorm flat("layer_normalization", {6}, 1e-3);
  test::check_layer_gradient(flat, {.rows = 4, .seed = 32, .eps = 1e-3, .tol = 5e-3});
  flat.set_input_gradient(false);
  test::check_layer_gradient(flat, {.rows = 4, .seed = 33, .eps = 1e-3, .tol = 5e-3});
}

TEST(CausalSelfAttentionGradient, MatchesFiniteDifferences) {
  // T = 4 tokens, C = 6 channels in 2 heads of 3: the input (4, 18) holds q, k, v of every token.
  test::check_layer_gradient(nn::CausalSelfAttention("causal_self_attention", {4, 18}, 2),
                             {.rows = 2, .seed = 41, .eps = 1e-3, .tol = 5e-3});
  test::check_layer_gradient(nn::CausalSelfAttention("causal_self_attention", {3, 6}, 1),
                             {.rows = 3, .seed = 42, .input_scale = 2.0f, .eps = 1e-3, .tol = 5e-3});
}

// The definition in double, head by head: softmax over s <= t of q_t·k_s / sqrt(d), then the weighted sum of v_s.
TEST(CausalSelfAttention, EqualsTheDefinitionAndIsCausal) {
  const std::int64_t t = 5, c = 4, heads = 2, d = 2;
  nn::CausalSelfAttention attention("causal_self_attention", {t, 3 * c}, heads);
  EXPECT_EQ(attention.output_shape(), (nn::Shape{t, c}));
  attention.reserve(2);
  RowMatrix x = test::random_matrix(2, t * 3 * c, 43, 2.0f);
  const RowMatrix y = attention.forward(ConstMatrixMap(x.data(), 2, x.cols()), nn::Context::evaluation());
  for (int n = 0; n < 2; ++n) {
    for (int h = 0; h < heads; ++h) {
      for (int i = 0; i < t; ++i) {
        std::vector<double> w(static_cast<std::size_t>(i + 1));
        double top = -1e300, sum = 0;
        for (int j = 0; j <= i; ++j) {
          double dot = 0;
          for (int e = 0; e < d; ++e) dot += double(x(n, i * 3 * c + h * d + e)) * x(n, j * 3 * c + c + h * d + e);
          w[j] = dot / std::sqrt(double(d));
          top = std::max(top, w[j]);
        }
        for (auto& v : w) sum += (v = std::exp(v - top));
        for (int e = 0; e < d; ++e) {
          double expected = 0;
          for (int j = 0; j <= i; ++j) expected += w[j] / sum * x(n, j * 3 * c + 2 * c + h * d + e);
          EXPECT_NEAR(y(n, i * c + h * d + e), expected, 1e-5) << n << " " << h << " " << i << " " << e;
        }
      }
    }
  }
  // Changing token 3's q, k and v changes no output before position 3, and changes position 3's.
  for (int k = 0; k < 3 * c; ++k) x(1, 3 * 3 * c + k) += 0.5f;
  const RowMatrix changed = attention.forward(ConstMatrixMap(x.data(), 2, x.cols()), nn::Context::evaluation());
  EXPECT_EQ(changed.row(0), y.row(0));
  EXPECT_EQ(changed.block(1, 0, 1, 3 * c), y.block(1, 0, 1, 3 * c));
  EXPECT_NE(changed.block(1, 3 * c, 1, c), y.block(1, 3 * c, 1, c));
}

// At precision bf16 the six products take rounded operands: forward and backward against the formulas of the
// header in double, with Q, K, V, dY rounded to bf16, and P and dS rounded after the (fp32) softmax and its
// gradient, within 1e-4 of each sum's Σ|terms|. The same outputs at fp32 differ: the rounding is real.
TEST(CausalSelfAttention, Bf16ProductsTakeRoundedOperands) {
  const std::int64_t t = 8, c = 12, heads = 3, d = 4, rows = 3;
  const double scale = 1.0 / std::sqrt(double(d));
  const auto r16 = [](double v) { return double(base::bf16_to_float(base::float_to_bf16(static_cast<float>(v)))); };
  const RowMatrix x = test::random_matrix(rows, t * 3 * c, 44, 2.0f);
  const RowMatrix dy = test::random_matrix(rows, t * c, 45, 1.0f);
  RowMatrix y[2], dx[2];
  for (const nn::Precision precision : {nn::Precision::fp32, nn::Precision::bf16}) {
    nn::CausalSelfAttention attention("causal_self_attention", {t, 3 * c}, heads);
    attention.set_precision(precision);
    attention.reserve(rows);
    const int i = precision == nn::Precision::bf16;
    y[i] = attention.forward(ConstMatrixMap(x.data(), rows, x.cols()), nn::Context::evaluation());
    dx[i] = attention.backward(ConstMatrixMap(dy.data(), rows, dy.cols()));
  }
  EXPECT_GT((y[1] - y[0]).cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_GT((dx[1] - dx[0]).cwiseAbs().maxCoeff(), 0.0f);
  for (std::int64_t n = 0; n < rows; ++n) {
    for (std::int64_t h = 0; h < heads; ++h) {
      const auto q = [&](std::int64_t i, std::int64_t e) { return r16(x(n, i * 3 * c + h * d + e)); };
      const auto k = [&](std::int64_t i, std::int64_t e) { return r16(x(n, i * 3 * c + c + h * d + e)); };
      const auto v = [&](std::int64_t i, std::int64_t e) { return r16(x(n, i * 3 * c + 2 * c + h * d + e)); };
      const auto g = [&](std::int64_t i, std::int64_t e) { return r16(dy(n, i * c + h * d + e)); };
      std::vector<std::vector<double>> p(t, std::vector<double>(t, 0.0)), ds = p;
      for (std::int64_t i = 0; i < t; ++i) {  // P (unrounded, for dS) row by row
        double top = -1e300, sum = 0;
        for (std::int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (std::int64_t e = 0; e < d; ++e) dot += q(i, e) * k(j, e);
          p[i][j] = dot * scale;
          top = std::max(top, p[i][j]);
        }
        for (std::int64_t j = 0; j <= i; ++j) sum += (p[i][j] = std::exp(p[i][j] - top));
        for (std::int64_t j = 0; j <= i; ++j) p[i][j] /= sum;
      }
      for (std::int64_t i = 0; i < t; ++i) {  // Y = P̃·Ṽ and dS = P ∘ (dP − rowsum(dP ∘ P))·scale, dP = dỸ·Ṽᵀ
        for (std::int64_t e = 0; e < d; ++e) {
          double expected = 0, bound = 0;
          for (std::int64_t j = 0; j <= i; ++j) {
            expected += r16(p[i][j]) * v(j, e);
            bound += std::abs(r16(p[i][j]) * v(j, e));
          }
          ASSERT_NEAR(y[1](n, i * c + h * d + e), expected, 1e-4 * bound + 1e-7) << n << " " << h << " " << i;
        }
        std::vector<double> dp(static_cast<std::size_t>(i + 1));
        double dot = 0;
        for (std::int64_t j = 0; j <= i; ++j) {
          for (std::int64_t e = 0; e < d; ++e) dp[j] += g(i, e) * v(j, e);
          dot += dp[j] * p[i][j];
        }
        for (std::int64_t j = 0; j <= i; ++j) ds[i][j] = r16(p[i][j] * (dp[j] - dot) * scale);
      }
      for (std::int64_t i = 0; i < t; ++i) {  // dQ = dS̃·K̃, dK = dS̃ᵀ·Q̃, dV = P̃ᵀ·dỸ
        for (std::int64_t e = 0; e < d; ++e) {
          double dq = 0, dk = 0, dv = 0, bq = 0, bk = 0, bv = 0;
          for (std::int64_t j = 0; j < t; ++j) {
            dq += ds[i][j] * k(j, e), bq += std::abs(ds[i][j] * k(j, e));
            dk += ds[j][i] * q(j, e), bk += std::abs(ds[j][i] * q(j, e));
            dv += r16(p[j][i]) * g(j, e), bv += std::abs(r16(p[j][i]) * g(j, e));
          }
          ASSERT_NEAR(dx[1](n, i * 3 * c + h * d + e), dq, 1e-4 * bq + 1e-7) << "dq " << n << " " << h << " " << i;
          ASSERT_NEAR(dx[1](n, i * 3 * c + c + h * d + e), dk, 1e-4 * bk + 1e-7) << "dk " << n << " " << h << " " << i;
          ASSERT_NEAR(dx[1](n, i * 3 * c + 2 * c + h * d + e), dv, 1e-4 * bv + 1e-7) << "dv " << n << " " << h << " " << i;
        }
      }
    }
  }
}

// A sample's outputs and input gradient have the same bits whether it is alone or one of a rank's rows (its
// share of a global batch), at both precisions.
TEST(CausalSelfAttention, ASamplesBitsDoNotDependOnTheRowsBesideIt) {
  const std::int64_t t = 16, c = 24, heads = 3, rows = 5;
  const RowMatrix x = test::random_matrix(rows, t * 3 * c, 46, 2.0f);
  const RowMatrix dy = test::random_matrix(rows, t * c, 47, 1.0f);
  for (const nn::Precision precision : {nn::Precision::fp32, nn::Precision::bf16}) {
    nn::CausalSelfAttention attention("causal_self_attention", {t, 3 * c}, heads);
    attention.set_precision(precision);
    attention.reserve(rows);
    const RowMatrix y = attention.forward(ConstMatrixMap(x.data(), rows, x.cols()), nn::Context::evaluation());
    const RowMatrix dx = attention.backward(ConstMatrixMap(dy.data(), rows, dy.cols()));
    for (std::int64_t n = 0; n < rows; n += 2) {
      const RowMatrix y1 = attention.forward(ConstMatrixMap(x.data() + n * x.cols(), 1, x.cols()), nn::Context::evaluation());
      const RowMatrix dx1 = attention.backward(ConstMatrixMap(dy.data() + n * dy.cols(), 1, dy.cols()));
      EXPECT_EQ(y1.row(0), y.row(n)) << nn::to_string(precision) << " sample " << n;
      EXPECT_EQ(dx1.row(0), dx.row(n)) << nn::to_string(precision) << " sample " << n;
    }
  }
}

// forward_rounded and backward_rounded write the bits of the fp32 outputs rounded to bf16 (float_to_bf16),
// for a sample count whose rows do not fill the reserved buffer.
TEST(CausalSelfAttention, RoundedOutputsAreTheFp32OutputsRounded) {
  const std::int64_t t = 16, c = 24, heads = 3, rows = 3;
  const RowMatrix x = test::random_matrix(rows, t * 3 * c, 48, 2.0f);
  const RowMatrix dy = test::random_matrix(rows, t * c, 49, 1.0f);
  nn::CausalSelfAttention attention("causal_self_attention", {t, 3 * c}, heads);
  attention.set_precision(nn::Precision::bf16);
  attention.reserve(rows + 2);
  const RowMatrix y = attention.forward(ConstMatrixMap(x.data(), rows, x.cols()), nn::Context::evaluation());
  const RowMatrix dx = attention.backward(ConstMatrixMap(dy.data(), rows, dy.cols()));
  std::vector<std::uint16_t> y16(static_cast<std::size_t>(y.size())), dx16(static_cast<std::size_t>(dx.size()));
  attention.forward_rounded(ConstMatrixMap(x.data(), rows, x.cols()), y16);
  attention.backward_rounded(ConstMatrixMap(dy.data(), rows, dy.cols()), dx16);
  for (std::int64_t i = 0; i < y.size(); ++i) ASSERT_EQ(y16[i], base::float_to_bf16(y.data()[i])) << "y " << i;
  for (std::int64_t i = 0; i < dx.size(); ++i) ASSERT_EQ(dx16[i], base::float_to_bf16(dx.data()[i])) << "dx " << i;
  attention.set_precision(nn::Precision::fp32);  // fp32 has no rounded outputs
  EXPECT_THROW(attention.forward_rounded(ConstMatrixMap(x.data(), rows, x.cols()), y16), std::invalid_argument);
}

// LayerNorm::forward_rounded writes the bits of forward()'s output rounded, and leaves backward as it was.
TEST(LayerNorm, RoundedOutputIsTheFp32OutputRounded) {
  const std::int64_t rows = 3, t = 5, c = 40;
  nn::LayerNorm norm("ln", {t, c}, 1e-5);
  nn::ParameterRegistry params, buffers;
  norm.register_tensors(params, buffers);
  RowMatrix p = test::random_matrix(1, params.total(), 52, 1.0f), g = RowMatrix::Zero(1, params.total());
  norm.bind({p.data(), static_cast<std::size_t>(p.size())}, {g.data(), static_cast<std::size_t>(g.size())}, {});
  norm.reserve(rows);
  const RowMatrix x = test::random_matrix(rows, t * c, 53, 3.0f), dy = test::random_matrix(rows, t * c, 54, 1.0f);
  const RowMatrix y = norm.forward(ConstMatrixMap(x.data(), rows, x.cols()), nn::Context::evaluation());
  const RowMatrix dx = norm.backward(ConstMatrixMap(dy.data(), rows, dy.cols()));
  std::vector<std::uint16_t> y16(static_cast<std::size_t>(y.size()));
  norm.forward_rounded(ConstMatrixMap(x.data(), rows, x.cols()), y16);
  for (std::int64_t i = 0; i < y.size(); ++i) ASSERT_EQ(y16[i], base::float_to_bf16(y.data()[i])) << i;
  EXPECT_EQ(norm.backward(ConstMatrixMap(dy.data(), rows, dy.cols())), dx);
  EXPECT_THROW(norm.forward_rounded(ConstMatrixMap(x.data(), rows, x.cols()), std::span<std::uint16_t>(y16).first(7)),
               std::invalid_argument);
}

// The fused GELU passes give the bits of the fp32 pass followed by the rounding, over a length that is not a
// multiple of their block.
TEST(GeluToBf16, EqualsTheFp32PassRounded) {
  const std::int64_t n = 3001;
  const RowMatrix x = test::random_matrix(1, n, 50, 4.0f), dy = test::random_matrix(1, n, 51, 1.0f);
  RowMatrix y(1, n), dx(1, n);
  const ConstMatrixMap xm(x.data(), 1, n), dym(dy.data(), 1, n);
  nn::activate(nn::ActivationKind::gelu, xm, MatrixMap(y.data(), 1, n));
  nn::gelu_gradient(xm, dym, MatrixMap(dx.data(), 1, n));
  std::vector<std::uint16_t> y16(n), dx16(n);
  const std::span<const float> xs(x.data(), n), dys(dy.data(), n);
  nn::gelu_to_bf16(xs, y16);
  nn::gelu_gradient_to_bf16(xs, dys, dx16);
  for (std::int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(y16[i], base::float_to_bf16(y(0, i))) << i;
    ASSERT_EQ(dx16[i], base::float_to_bf16(dx(0, i))) << i;
  }
  EXPECT_THROW(nn::gelu_to_bf16(xs, std::span<std::uint16_t>(y16).first(5)), std::invalid_argument);
  EXPECT_THROW(nn::gelu_gradient_to_bf16(xs, dys.first(5), dx16), std::invalid_argument);
}

TEST(CausalSelfAttention, ShapeErrorsNameTheLayer) {
  const auto message = [](const nn::Shape& shape, std::int64_t heads) {
    try {
      nn::CausalSelfAttention("causal_self_attention", shape, heads);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({12}, 1), "layer causal_self_attention (causal_self_attention): input shape (12) is not "
                              "two-dimensional (tokens, 3 x channels)");
  EXPECT_EQ(message({4, 10}, 1), "layer causal_self_attention (causal_self_attention): input shape (4, 10): the "
                                 "last axis must hold q, k and v (a multiple of 3)");
  EXPECT_EQ(message({4, 12}, 3), "layer causal_self_attention (causal_self_attention): heads = 3 must be >= 1 and "
                                 "divide the 4 channels of input shape (4, 12)");
}

// A small GPT-like stack on token ids: embedding -> layer norm -> q, k, v -> attention -> projection -> gelu
// -> the output tied to the token table. Every parameter against finite differences of sum(logits ∘ R): the
// tied table's gradient sums its two uses (the embedding's rows and the output layer).
TEST(TransformerLayersGradient, TiedEmbeddingStackMatchesFiniteDifferences) {
  const nn::ModelSpec spec = nn::parse_model_spec(R"({"input_shape": [3], "layers": [
      {"type": "embedding", "vocabulary": 7, "dim": 4}, {"type": "layer_norm"},
      {"type": "dense", "units": 12}, {"type": "causal_self_attention", "heads": 2},
      {"type": "dense", "units": 4}, {"type": "activation", "activation": "gelu"},
      {"type": "tied_output", "vocabulary": 7}]})");
  nn::Model model = nn::build_model(spec);
  EXPECT_EQ(model.output_shape(), (nn::Shape{3, 7}));
  model.init(51);
  for (auto& p : model.parameters()) p += 0.3f * std::sin(7.0f * static_cast<float>(&p - model.parameters().data()));
  const std::int64_t rows = 2;
  model.reserve(rows);
  RowMatrix ids(rows, 3);
  ids << 1, 6, 1, 0, 3, 5;  // token 1 twice in a sample: its row of wte gets two gradients
  test::check_model_parameter_gradient(model, ids, 52);
  // The attribution pass adds no parameter gradient (the tied table's two uses included); ids get zeros.
  const RowMatrix r = test::random_matrix(rows, 21, 52);
  model.zero_gradients();
  (void)model.forward(ConstMatrixMap(ids.data(), rows, 3), nn::Context::evaluation());
  const ConstMatrixMap dx = model.input_gradient(ConstMatrixMap(r.data(), rows, 21));
  EXPECT_EQ(dx.rows(), rows);
  EXPECT_TRUE(dx.isZero(0.0f));
  for (const float g : model.gradients()) ASSERT_EQ(g, 0.0f);
}

// At bf16 the tied output's three products take the rounded operands, once each: logits = bf16(H)·bf16(wte)ᵀ,
// dwte += bf16(dY)ᵀ·bf16(H) and dH = bf16(dY)·bf16(wte), accumulated in fp32; against those sums in double,
// position by position of every sample (H of one position is its C channels, dY its V logits).
TEST(TiedOutput, Bf16ProductsTakeTheRoundedOperands) {
  const std::int64_t rows = 3, t = 4, c = 24, v = 10;
  nn::Embedding embedding("embedding", {t}, v, c);
  nn::TiedOutput output("tied_output", {t, c}, "embedding/wte:0", v);
  nn::ParameterRegistry parameters, buffers;
  embedding.register_tensors(parameters, buffers);
  output.register_tensors(parameters, buffers);
  const RowMatrix init = random_matrix(1, parameters.total(), 61);
  std::vector<float> params(init.data(), init.data() + parameters.total());
  std::vector<float> grads(static_cast<std::size_t>(parameters.total()), 0.25f);
  output.bind(params, grads, {});
  output.set_precision(nn::Precision::bf16);
  output.reserve(rows);
  const RowMatrix h = random_matrix(rows, t * c, 62, 2.0f), dy = random_matrix(rows, t * v, 63);
  const RowMatrix logits = output.forward(ConstMatrixMap(h.data(), rows, t * c), nn::Context::evaluation());
  const RowMatrix dh = output.backward(ConstMatrixMap(dy.data(), rows, t * v));
  const float* wte = params.data() + parameters.find("embedding/wte:0")->offset;  // v × c
  const float* dwte = grads.data() + parameters.find("embedding/wte:0")->offset;
  const auto r = [](float x) { return static_cast<double>(base::bf16_to_float(base::float_to_bf16(x))); };
  bool rounded = false;  // some logit differs from the unrounded product by more than fp32's error
  for (std::int64_t n = 0; n < rows; ++n) {
    for (std::int64_t s = 0; s < t; ++s) {
      for (std::int64_t j = 0; j < v; ++j) {
        double expected = 0, scale = 0, exact = 0;
        for (std::int64_t k = 0; k < c; ++k) {
          expected += r(h(n, s * c + k)) * r(wte[j * c + k]);
          scale += std::abs(r(h(n, s * c + k)) * r(wte[j * c + k]));
          exact += static_cast<double>(h(n, s * c + k)) * wte[j * c + k];
        }
        ASSERT_NEAR(logits(n, s * v + j), expected, 1e-5 * scale) << n << " " << s << " " << j;
        rounded = rounded || std::abs(logits(n, s * v + j) - exact) > 1e-5 * scale;
      }
      for (std::int64_t k = 0; k < c; ++k) {
        double expected = 0, scale = 0;
        for (std::int64_t j = 0; j < v; ++j) {
          expected += r(dy(n, s * v + j)) * r(wte[j * c + k]);
          scale += std::abs(r(dy(n, s * v + j)) * r(wte[j * c + k]));
        }
        ASSERT_NEAR(dh(n, s * c + k), expected, 1e-5 * scale) << n << " " << s << " " << k;
      }
    }
  }
  EXPECT_TRUE(rounded);
  for (std::int64_t j = 0; j < v; ++j) {
    for (std::int64_t k = 0; k < c; ++k) {
      double expected = 0.25, scale = 0.25;
      for (std::int64_t n = 0; n < rows; ++n) {
        for (std::int64_t s = 0; s < t; ++s) {
          expected += r(dy(n, s * v + j)) * r(h(n, s * c + k));
          scale += std::abs(r(dy(n, s * v + j)) * r(h(n, s * c + k)));
        }
      }
      ASSERT_NEAR(dwte[j * c + k], expected, 1e-5 * scale) << j << " " << k;
    }
  }
}

TEST(Embedding, AddsTokenAndPositionRowsAndRefusesBadIds) {
  nn::Model model = nn::build_model(nn::parse_model_spec(
      R"({"input_shape": [2], "layers": [{"type": "embedding", "vocabulary": 3, "dim": 2}]})"));
  ASSERT_EQ(model.registry().entries()[0].name, "embedding/wte:0");
  ASSERT_EQ(model.registry().entries()[1].name, "embedding/wpe:0");
  for (std::size_t i = 0; i < 10; ++i) model.parameters()[i] = static_cast<float>(i);  // wte 3 x 2, wpe 2 x 2
  model.reserve(1);
  RowMatrix ids(1, 2);
  ids << 2, 0;
  RowMatrix expected(1, 4);
  expected << 4 + 6, 5 + 7, 0 + 8, 1 + 9;
  EXPECT_EQ(RowMatrix(model.forward(ConstMatrixMap(ids.data(), 1, 2), nn::Context::evaluation())), expected);
  for (const float bad : {3.0f, -1.0f, 0.5f, std::numeric_limits<float>::quiet_NaN()}) {
    ids(0, 1) = bad;
    try {
      (void)model.forward(ConstMatrixMap(ids.data(), 1, 2), nn::Context::evaluation());
      ADD_FAILURE() << "no error for " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("layer embedding (embedding): row 0, position 1: token id"), std::string::npos)
          << e.what();
    }
  }
  try {
    (void)nn::build_model(nn::parse_model_spec(R"({"input_shape": [2, 4], "layers": [
        {"type": "tied_output", "vocabulary": 3}]})"));
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("layer tied_output (tied_output): no tensor embedding/wte:0"), std::string::npos)
        << e.what();
  }
}

// Each position of each sample normalised on its own, computed in double from the definition.
TEST(LayerNorm, NormalisesEveryPositionByItself) {
  nn::LayerNorm ln("layer_normalization", {2, 4}, 1e-5);
  nn::ParameterRegistry registry, buffers;
  ln.register_tensors(registry, buffers);
  ASSERT_EQ(registry.entries()[0].name, "layer_normalization/gamma:0");
  ASSERT_EQ(registry.entries()[1].name, "layer_normalization/beta:0");
  std::vector<float> params = {1.0f, 2.0f, 0.5f, -1.0f, 0.1f, 0.2f, 0.3f, 0.4f}, grads(8);
  ln.bind(params, grads, {});
  ln.reserve(2);
  const RowMatrix x = test::random_matrix(2, 8, 34, 3.0f);
  const auto y = ln.forward(ConstMatrixMap(x.data(), 2, 8), nn::Context::evaluation());
  for (int n = 0; n < 2; ++n) {
    for (int t = 0; t < 2; ++t) {
      double mean = 0, var = 0;
      for (int c = 0; c < 4; ++c) mean += x(n, t * 4 + c) / 4.0;
      for (int c = 0; c < 4; ++c) var += (x(n, t * 4 + c) - mean) * (x(n, t * 4 + c) - mean) / 4.0;
      for (int c = 0; c < 4; ++c) {
        const double expected = params[c] * (x(n, t * 4 + c) - mean) / std::sqrt(var + 1e-5) + params[4 + c];
        EXPECT_NEAR(y(n, t * 4 + c), expected, 1e-5);
      }
    }
  }
}

// Conv2D: valid and same padding (same with an even kernel pads asymmetrically), stride 2, odd and even
// kernels, several input and output channels, with and without bias and activation.
TEST(Conv2DGradient, MatchesFiniteDifferences) {
  using nn::Padding;
  const std::vector<std::pair<nn::Shape, nn::Conv2DSpec>> cases = {
      {{5, 5, 2}, {.filters = 3, .kernel_size = {3, 3}, .padding = Padding::valid, .activation = std::nullopt}},
      {{5, 5, 2}, {.filters = 3, .kernel_size = {3, 3}, .padding = Padding::same, .activation = std::nullopt}},
      {{6, 5, 3}, {.filters = 2, .kernel_size = {2, 2}, .padding = Padding::same, .activation = std::nullopt}},
      {{7, 6, 2}, {.filters = 4, .kernel_size = {3, 2}, .strides = {2, 2}, .padding = Padding::valid, .activation = std::nullopt}},
      {{7, 6, 2}, {.filters = 4, .kernel_size = {4, 3}, .strides = {2, 2}, .padding = Padding::same, .activation = std::nullopt}},
      {{6, 7, 1}, {.filters = 2, .kernel_size = {2, 3}, .strides = {2, 1}, .padding = Padding::same,
                   .use_bias = false, .activation = nn::ActivationKind::tanh}},
      {{5, 4, 3}, {.filters = 2, .kernel_size = {3, 3}, .strides = {1, 2}, .padding = Padding::same,
                   .activation = nn::ActivationKind::sigmoid}},
  };
  for (const auto& [shape, spec] : cases) {
    for (const bool input_gradient : {true, false}) {
      nn::Conv2D conv("conv2d", shape, spec);
      conv.set_input_gradient(input_gradient);
      SCOPED_TRACE(base::format_shape(shape) + " -> " + base::format_shape(conv.output_shape()) +
                   (input_gradient ? "" : ", no input gradient"));
      test::check_layer_gradient(conv, {.rows = 3});
    }
  }
}

// Max and average pooling with both paddings, strides equal to and different from the pool; max pooling on
// inputs spaced 0.05 apart, so that the ±0.01 steps never move an arg-max.
TEST(Pool2DGradient, MatchesFiniteDifferences) {
  using nn::Padding;
  const std::vector<std::pair<nn::Shape, nn::Pool2DFields>> cases = {
      {{4, 4, 2}, {{2, 2}, {2, 2}, Padding::valid}}, {{5, 5, 2}, {{2, 2}, {2, 2}, Padding::same}},
      {{5, 6, 3}, {{3, 3}, {2, 2}, Padding::valid}}, {{5, 6, 3}, {{3, 3}, {2, 2}, Padding::same}},
      {{6, 5, 1}, {{2, 3}, {1, 2}, Padding::same}},  {{7, 7, 2}, {{2, 2}, {3, 3}, Padding::valid}},
  };
  for (const auto& [shape, fields] : cases) {
    for (const auto kind : {nn::PoolKind::max, nn::PoolKind::average}) {
      nn::Pool2D pool("pool", kind, shape, fields);
      SCOPED_TRACE(base::format_shape(shape) + " -> " + base::format_shape(pool.output_shape()) +
                   (kind == nn::PoolKind::max ? " max" : " average"));
      test::check_layer_gradient(pool, {.rows = 3, .spacing = kind == nn::PoolKind::max ? 0.05f : 0.0f});
    }
  }
}

TEST(GlobalAvgPool2DGradient, MatchesFiniteDifferences) {
  test::check_layer_gradient(nn::GlobalAvgPool2D("global_average_pooling2d", {3, 4, 5}));
}

TEST(FlattenGradient, MatchesFiniteDifferences) { test::check_layer_gradient(nn::Flatten("flatten", {3, 2, 4})); }

TEST(LossGradient, MatchesFiniteDifferences) {
  const std::int64_t rows = 4, k = 5;
  RowMatrix z = random_matrix(rows, k, 31, 3.0f);
  const std::vector<std::int32_t> labels = {0, 4, 2, 2};
  RowMatrix g(rows, k);
  nn::softmax_cross_entropy(ConstMatrixMap(z.data(), rows, k), labels, MatrixMap(g.data(), rows, k));
  auto objective = [&] {
    return nn::softmax_cross_entropy(ConstMatrixMap(z.data(), rows, k), labels).loss;
  };
  test::expect_gradient({z.data(), static_cast<std::size_t>(z.size())}, {g.data(), static_cast<std::size_t>(g.size())},
                        objective, 1e-3, 1e-3);
}

TEST(ModelGradient, WholeMlpWithTheLossMatchesFiniteDifferences) {
  for (auto kind : {nn::ActivationKind::tanh, nn::ActivationKind::sigmoid, nn::ActivationKind::relu}) {
    nn::Model model = nn::build_model(nn::mlp_spec(6, {5, 4}, kind, 3));
    model.init(41);
    // Non-zero biases so that every parameter is exercised.
    for (const auto& p : model.registry().entries()) {
      if (!p.decay) {
        for (std::int64_t i = 0; i < p.size(); ++i) model.parameters()[p.offset + i] = 0.05f * (i % 3);
      }
    }
    const std::int64_t rows = 7;
    model.reserve(rows);
    RowMatrix x = random_matrix(rows, 6, 42);
    const std::vector<std::int32_t> labels = {0, 1, 2, 1, 0, 2, 2};
    const nn::Context context = nn::Context::evaluation();
    auto objective = [&] {
      auto logits = model.forward(ConstMatrixMap(x.data(), rows, 6), context);
      return nn::softmax_cross_entropy(logits, labels).loss;
    };
    auto logits = model.forward(ConstMatrixMap(x.data(), rows, 6), context);
    RowMatrix g(rows, 3);
    nn::softmax_cross_entropy(logits, labels, MatrixMap(g.data(), rows, 3));
    model.zero_gradients();
    model.backward(ConstMatrixMap(g.data(), rows, 3));
    std::vector<float> analytic(model.gradients().begin(), model.gradients().end());
    SCOPED_TRACE(nn::to_string(kind));
    // ReLU: a small step, so that no pre-activation crosses the kink (checked with these seeds).
    const double eps = kind == nn::ActivationKind::relu ? 1e-3 : 1e-2;
    test::expect_gradient(model.parameters(), analytic, objective, eps, 5e-3);
  }
}

// Small CNNs with the loss: every layer type on images, each one's dX feeding the layer before it, the first
// convolution without input gradient. Smooth activations (tanh) and a small step keep the loss smooth and
// the max pools' arg-max in place.
TEST(ModelGradient, WholeCnnWithTheLossMatchesFiniteDifferences) {
  const char* specs[] = {
      R"({"input_shape": [8, 7, 2], "layers": [
          {"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "tanh"},
          {"type": "max_pool2d", "pool_size": 2, "padding": "same"},
          {"type": "conv2d", "filters": 4, "kernel_size": [2, 3], "activation": "tanh"},
          {"type": "avg_pool2d", "pool_size": 2, "strides": 1},
          {"type": "flatten"}, {"type": "dense", "units": 3}]})",
      R"({"input_shape": [6, 6, 1], "layers": [
          {"type": "conv2d", "filters": 2, "kernel_size": 2, "strides": 2, "padding": "same", "use_bias": false},
          {"type": "activation", "activation": "tanh"},
          {"type": "conv2d", "filters": 3, "kernel_size": 2, "padding": "same"},
          {"type": "global_avg_pool2d"}]})",
  };
  for (const char* text : specs) {
    nn::Model model = nn::build_model(nn::parse_model_spec(text));
    SCOPED_TRACE(text);
    model.init(43);
    for (const auto& p : model.registry().entries()) {  // non-zero biases
      if (!p.decay) {
        for (std::int64_t i = 0; i < p.size(); ++i) model.parameters()[p.offset + i] = 0.05f * (i % 3);
      }
    }
    const std::int64_t rows = 4, inputs = model.input_size();
    model.reserve(rows);
    RowMatrix x = random_matrix(rows, inputs, 44);
    const std::vector<std::int32_t> labels = {0, 2, 1, 2};
    const nn::Context context = nn::Context::evaluation();
    auto objective = [&] {
      return nn::softmax_cross_entropy(model.forward(ConstMatrixMap(x.data(), rows, inputs), context), labels).loss;
    };
    const auto logits = model.forward(ConstMatrixMap(x.data(), rows, inputs), context);
    ASSERT_EQ(logits.cols(), 3);
    RowMatrix g(rows, 3);
    nn::softmax_cross_entropy(logits, labels, MatrixMap(g.data(), rows, 3));
    model.zero_gradients();
    model.backward(ConstMatrixMap(g.data(), rows, 3));
    EXPECT_FALSE(model.layers().front()->input_gradient());
    std::vector<float> analytic(model.gradients().begin(), model.gradients().end());
    test::expect_gradient(model.parameters(), analytic, objective, 1e-3, 5e-3);
  }
}

// nn::all_finite against std::isfinite element by element, for each non-finite kind at every position of
// a buffer long enough to have a vectorised body and a scalar tail, at every alignment.
TEST(AllFinite, AgreesWithIsfiniteEverywhere) {
  std::vector<float> buffer(64);
  for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<float>(i) - 20.5f;
  buffer[3] = std::numeric_limits<float>::max();
  buffer[4] = -std::numeric_limits<float>::max();
  buffer[5] = std::numeric_limits<float>::denorm_min();
  buffer[6] = -0.0f;
  EXPECT_TRUE(nn::all_finite(std::span<const float>()));
  for (std::size_t begin = 0; begin < 8; ++begin) {
    const std::span<float> view(buffer.data() + begin, 45);
    EXPECT_TRUE(nn::all_finite(view));
    for (const float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::signaling_NaN()}) {
      for (std::size_t at = 0; at < view.size(); ++at) {
        const float kept = view[at];
        view[at] = bad;
        const bool expected = std::all_of(view.begin(), view.end(), [](float v) { return std::isfinite(v); });
        ASSERT_EQ(nn::all_finite(view), expected) << "value " << bad << " at " << at << ", offset " << begin;
        ASSERT_FALSE(expected);
        view[at] = kept;
      }
    }
  }
}
