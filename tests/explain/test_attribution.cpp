// The gradient attributions against independent computations: the quadrature weights against tables worked
// by hand; integrated gradients on the paper's toy function (Sundararajan et al. 2017, section 3) and on a
// single dense layer (exactly w ⊙ (x − x′)); saliency and gradient × input against central finite
// differences of the softmax probability (an MLP and a small CNN); the completeness gap of a trained MLP at
// 500 steps; SmoothGrad's noise keyed by the global sample index.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "common/gradient_check.hpp"
#include "mpitrain/explain/attribution.hpp"
#include "mpitrain/explain/quadrature.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/model.hpp"

namespace mpitrain::explain {
namespace {

using base::ConstMatrixMap;
using base::MatrixMap;
using base::RowMatrix;

void expect_rule(QuadratureRule rule, int n, const std::vector<double>& alphas, const std::vector<double>& weights) {
  const Quadrature q = quadrature(rule, n);
  ASSERT_EQ(q.alphas.size(), alphas.size()) << to_string(rule) << " " << n;
  for (std::size_t i = 0; i < alphas.size(); ++i) {
    EXPECT_NEAR(q.alphas[i], alphas[i], 1e-14) << to_string(rule) << " n=" << n << " point " << i;
    EXPECT_NEAR(q.weights[i], weights[i], 1e-14) << to_string(rule) << " n=" << n << " weight " << i;
  }
}

// Gauss–Legendre on [-1, 1] (Abramowitz and Stegun, table 25.4), mapped to [0, 1]: α = (1 + x)/2, w/2.
TEST(Quadrature, GaussLegendreAgainstTables) {
  const double r3 = 1.0 / std::sqrt(3.0);
  expect_rule(QuadratureRule::gauss_legendre, 2, {0.5 - 0.5 * r3, 0.5 + 0.5 * r3}, {0.5, 0.5});
  const double r35 = std::sqrt(0.6);
  expect_rule(QuadratureRule::gauss_legendre, 3, {0.5 - 0.5 * r35, 0.5, 0.5 + 0.5 * r35},
              {5.0 / 18, 8.0 / 18, 5.0 / 18});
  const double inner = std::sqrt(3.0 / 7 - 2.0 / 7 * std::sqrt(6.0 / 5)),
               outer = std::sqrt(3.0 / 7 + 2.0 / 7 * std::sqrt(6.0 / 5));
  const double w_inner = (18 + std::sqrt(30.0)) / 36, w_outer = (18 - std::sqrt(30.0)) / 36;
  expect_rule(QuadratureRule::gauss_legendre, 4,
              {0.5 - 0.5 * outer, 0.5 - 0.5 * inner, 0.5 + 0.5 * inner, 0.5 + 0.5 * outer},
              {w_outer / 2, w_inner / 2, w_inner / 2, w_outer / 2});
}

TEST(Quadrature, RiemannRulesAgainstTables) {
  expect_rule(QuadratureRule::riemann_left, 2, {0.0, 0.5}, {0.5, 0.5});
  expect_rule(QuadratureRule::riemann_right, 3, {1.0 / 3, 2.0 / 3, 1.0}, {1.0 / 3, 1.0 / 3, 1.0 / 3});
  expect_rule(QuadratureRule::riemann_middle, 4, {0.125, 0.375, 0.625, 0.875}, {0.25, 0.25, 0.25, 0.25});
  expect_rule(QuadratureRule::riemann_trapezoid, 2, {0.0, 1.0}, {0.5, 0.5});
  expect_rule(QuadratureRule::riemann_trapezoid, 3, {0.0, 0.5, 1.0}, {0.25, 0.5, 0.25});
  expect_rule(QuadratureRule::riemann_trapezoid, 4, {0.0, 1.0 / 3, 2.0 / 3, 1.0}, {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6});
  // Many points: Gauss–Legendre integrates α^7 exactly from 4 points on, and its weights sum to 1.
  const Quadrature q = quadrature(QuadratureRule::gauss_legendre, 500);
  double sum = 0.0, seventh = 0.0;
  for (std::size_t i = 0; i < q.alphas.size(); ++i) {
    sum += q.weights[i];
    seventh += q.weights[i] * std::pow(q.alphas[i], 7);
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_NEAR(seventh, 1.0 / 8, 1e-12);
}

TEST(Quadrature, RefusesStepsOutOfRange) {
  EXPECT_THROW((void)quadrature(QuadratureRule::gauss_legendre, 0), std::invalid_argument);
  EXPECT_THROW((void)quadrature(QuadratureRule::riemann_trapezoid, 1), std::invalid_argument);
  try {
    (void)quadrature(QuadratureRule::riemann_left, 10001);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "--steps 10001: must be in [1, 10000] for the riemann_left rule");
  }
  try {
    (void)parse_method("integrated_gradient");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("--method integrated_gradient: unknown method")) << e.what();
  }
  EXPECT_TRUE(parse_method("smoothgrad:gradient_x_input").smoothgrad);
  EXPECT_THROW((void)parse_method("smoothgrad:smoothgrad:saliency"), std::invalid_argument);
  EXPECT_THROW((void)parse_target("10", 10), std::invalid_argument);
  EXPECT_THROW((void)parse_target("-1", 10), std::invalid_argument);
  EXPECT_EQ(parse_target("9", 10).fixed_class, 9);
}

// Runs an Attributor over the rows of @p x; returns the attributions and fills the per-row outputs.
struct Attributed {
  RowMatrix a;
  std::vector<double> values, base_values, gaps;
};
Attributed attribute(nn::Model& model, const AttributionOptions& options, const RowMatrix& x,
                     const std::vector<std::int32_t>& targets, std::vector<float> baseline = {},
                     std::int64_t first_index = 0) {
  if (baseline.empty()) baseline.assign(static_cast<std::size_t>(x.cols()), 0.0f);
  model.reserve(x.rows());
  Attributor attributor(model, options, std::move(baseline));
  Attributed out{RowMatrix(x.rows(), x.cols()), {}, {}, {}};
  const auto n = static_cast<std::size_t>(x.rows());
  out.values.resize(n);
  out.base_values.resize(n);
  out.gaps.resize(n);
  attributor.attribute(ConstMatrixMap(x.data(), x.rows(), x.cols()), targets, first_index,
                       MatrixMap(out.a.data(), x.rows(), x.cols()), out.values, out.base_values, out.gaps);
  return out;
}

// f(x1, x2) = ReLU(ReLU(x1) − 1 − ReLU(x2)) at (3, 1) from the baseline 0: IG gives [1.5, −0.5], the paper's
// example (the gradient there is [1, −1], and x ⊙ ∇f is [3, −1]). Along the path f = ReLU(2α − 1): the
// integrand steps at α = ½, which both symmetric rules with an even point count integrate exactly.
TEST(IntegratedGradients, ThePapersToyFunction) {
  for (const auto rule : {QuadratureRule::gauss_legendre, QuadratureRule::riemann_middle}) {
    nn::Model model(nn::parse_model_spec(R"({"input_shape": [2], "layers": [
        {"type": "activation", "activation": "relu"}, {"type": "dense", "units": 1},
        {"type": "activation", "activation": "relu"}]})"));
    const std::vector<float> kernel_and_bias{1.0f, -1.0f, -1.0f};  // kernel (2, 1), then bias
    std::copy(kernel_and_bias.begin(), kernel_and_bias.end(), model.parameters().begin());
    RowMatrix x(1, 2);
    x << 3.0f, 1.0f;
    AttributionOptions o;
    o.method.method = Method::integrated_gradients;
    o.output = TargetOutput::logit;
    o.rule = rule;
    const Attributed r = attribute(model, o, x, {0});
    EXPECT_NEAR(r.a(0, 0), 1.5, 1e-6) << to_string(rule);
    EXPECT_NEAR(r.a(0, 1), -0.5, 1e-6) << to_string(rule);
    EXPECT_NEAR(r.values[0], 1.0, 1e-7);       // f(3, 1) = ReLU(3 − 1 − 1)
    EXPECT_NEAR(r.base_values[0], 0.0, 1e-7);  // f(0, 0) = ReLU(−1)
    EXPECT_NEAR(r.gaps[0], 0.0, 1e-6);
  }
}

// A single dense layer's logit k is linear: IG = w_k ⊙ (x − x′) whatever the rule, and completeness is exact.
TEST(IntegratedGradients, DenseLogitIsWeightTimesDifference) {
  nn::Model model(nn::parse_model_spec(R"({"input_shape": [7], "layers": [{"type": "dense", "units": 3}]})"));
  model.init(3);
  const RowMatrix bias = test::random_matrix(1, 3, 4);
  std::copy(bias.data(), bias.data() + 3, model.parameters().begin() + 21);
  const RowMatrix x = test::random_matrix(5, 7, 5, 2.0f);
  const RowMatrix b = test::random_matrix(1, 7, 6);
  const std::vector<float> baseline(b.data(), b.data() + 7);
  const std::vector<std::int32_t> targets{0, 1, 2, 2, 1};
  for (const auto rule :
       {QuadratureRule::gauss_legendre, QuadratureRule::riemann_trapezoid, QuadratureRule::riemann_left}) {
    AttributionOptions o;
    o.method.method = Method::integrated_gradients;
    o.output = TargetOutput::logit;
    o.rule = rule;
    o.steps = 7;
    const Attributed r = attribute(model, o, x, targets, baseline);
    for (std::int64_t i = 0; i < 5; ++i) {
      const int k = targets[static_cast<std::size_t>(i)];
      for (std::int64_t j = 0; j < 7; ++j) {
        const double w = model.parameters()[static_cast<std::size_t>(j * 3 + k)];
        const double expected = w * (static_cast<double>(x(i, j)) - baseline[static_cast<std::size_t>(j)]);
        EXPECT_NEAR(r.a(i, j), expected, 1e-6 * std::max(1.0, std::abs(expected))) << to_string(rule);
      }
      EXPECT_NEAR(r.gaps[static_cast<std::size_t>(i)], 0.0, 1e-5);
    }
  }
}

// The softmax probability of class c, summed over the rows with their targets, in double from the logits.
double summed_probability(nn::Model& model, const RowMatrix& x, const std::vector<std::int32_t>& targets) {
  const ConstMatrixMap z = model.forward(ConstMatrixMap(x.data(), x.rows(), x.cols()), nn::Context::evaluation());
  double total = 0.0;
  for (std::int64_t i = 0; i < z.rows(); ++i) {
    double norm = 0.0;
    for (std::int64_t j = 0; j < z.cols(); ++j) norm += std::exp(static_cast<double>(z(i, j)));
    total += std::exp(static_cast<double>(z(i, targets[static_cast<std::size_t>(i)]))) / norm;
  }
  return total;
}

void check_against_finite_differences(const std::string& spec, double eps, double tol) {
  nn::Model model(nn::parse_model_spec(spec));
  model.init(8);
  RowMatrix x = test::random_matrix(3, model.input_size(), 9);
  const std::vector<std::int32_t> targets{0, 2, 1};
  AttributionOptions o;
  o.method.method = Method::gradient_x_input;
  const Attributed gxi = attribute(model, o, x, targets);
  o.method.method = Method::saliency;
  const Attributed saliency = attribute(model, o, x, targets);
  for (std::int64_t e = 0; e < x.size(); ++e) {
    float& v = x.data()[e];
    const float saved = v;
    v = saved + static_cast<float>(eps);
    const double up = summed_probability(model, x, targets);
    v = saved - static_cast<float>(eps);
    const double down = summed_probability(model, x, targets);
    v = saved;
    const double numeric = (up - down) / (2 * eps);
    EXPECT_NEAR(saliency.a.data()[e], std::abs(numeric), tol * std::max(1.0, std::abs(numeric))) << "element " << e;
    EXPECT_NEAR(gxi.a.data()[e], saved * numeric, tol * std::max(1.0, std::abs(saved * numeric))) << "element " << e;
  }
}

TEST(Saliency, MlpMatchesFiniteDifferencesOfTheProbability) {
  check_against_finite_differences(R"({"input_shape": [6], "layers": [{"type": "dense", "units": 8},
      {"type": "activation", "activation": "tanh"}, {"type": "dense", "units": 3}]})", 1e-2, 1e-3);
}

TEST(Saliency, CnnMatchesFiniteDifferencesOfTheProbability) {
  check_against_finite_differences(R"({"input_shape": [6, 6, 1], "layers": [
      {"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": "same", "activation": "tanh"},
      {"type": "avg_pool2d", "pool_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 3}]})", 1e-2, 1e-3);
}

// An MLP trained here (full-batch gradient descent on three Gaussian blobs) explained with 500 points: the
// completeness gap Σa − (f(x) − f(0)) of the probability is below 0.07 for every sample.
TEST(IntegratedGradients, CompletenessOnATrainedMlp) {
  const std::int64_t n = 300, f = 10;
  nn::Model model(nn::parse_model_spec(R"({"input_shape": [10], "layers": [{"type": "dense", "units": 16},
      {"type": "activation", "activation": "relu"}, {"type": "dense", "units": 16},
      {"type": "activation", "activation": "relu"}, {"type": "dense", "units": 3}]})"));
  model.init(12);
  model.reserve(n);
  RowMatrix x = test::random_matrix(n, f, 13);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % 3);
    x(i, i % 3) += 2.0f;  // class k: feature k shifted
  }
  RowMatrix grad(n, 3);
  double first_loss = 0.0, last_loss = 0.0;
  for (int step = 0; step < 300; ++step) {
    model.zero_gradients();
    const ConstMatrixMap z = model.forward(ConstMatrixMap(x.data(), n, f), nn::Context::evaluation());
    const nn::LossSums s = nn::softmax_cross_entropy(z, labels, MatrixMap(grad.data(), n, 3));
    (step == 0 ? first_loss : last_loss) = s.loss / n;
    model.backward(ConstMatrixMap(grad.data(), n, 3));
    for (std::size_t p = 0; p < model.parameters().size(); ++p)
      model.parameters()[p] -= 0.5f / n * model.gradients()[p];
  }
  ASSERT_LT(last_loss, 0.5 * first_loss) << "the MLP did not train";
  AttributionOptions o;
  o.method.method = Method::integrated_gradients;
  o.steps = 500;
  const RowMatrix explained = x.topRows(40);
  const std::vector<std::int32_t> targets(labels.begin(), labels.begin() + 40);
  const Attributed r = attribute(model, o, explained, targets);
  double worst = 0.0;
  for (const double gap : r.gaps) worst = std::max(worst, std::abs(gap));
  EXPECT_LT(worst, 0.07);
  // The same gap, recomputed here from the attributions and the two outputs.
  for (std::int64_t i = 0; i < 40; ++i) {
    const double total = r.a.row(i).cast<double>().sum();
    EXPECT_NEAR(r.gaps[static_cast<std::size_t>(i)],
                total - (r.values[static_cast<std::size_t>(i)] - r.base_values[static_cast<std::size_t>(i)]), 1e-5);
  }
}

// SmoothGrad: a row's noise is keyed by its global index, not its place in a chunk: row 3 of a chunk that
// starts at sample 100 gets what sample 103 alone gets. Noise 0 gives the method itself.
TEST(SmoothGrad, NoiseKeyedByTheGlobalSampleIndex) {
  nn::Model model(nn::parse_model_spec(R"({"input_shape": [5], "layers": [{"type": "dense", "units": 6},
      {"type": "activation", "activation": "tanh"}, {"type": "dense", "units": 3}]})"));
  model.init(2);
  const RowMatrix x = test::random_matrix(6, 5, 3);
  const std::vector<std::int32_t> targets{0, 1, 2, 0, 1, 2};
  AttributionOptions o;
  o.method = parse_method("smoothgrad:saliency");
  o.samples = 4;
  o.seed = 77;
  const Attributed chunk = attribute(model, o, x, targets, {}, 100);
  const RowMatrix row3 = x.middleRows(3, 1);
  const Attributed alone = attribute(model, o, row3, {0}, {}, 103);
  for (std::int64_t j = 0; j < 5; ++j) EXPECT_EQ(chunk.a(3, j), alone.a(0, j));
  const Attributed shifted = attribute(model, o, row3, {0}, {}, 104);
  EXPECT_NE(shifted.a(0, 0), alone.a(0, 0)) << "the index does not key the noise";
  o.noise = 0.0;
  const Attributed noiseless = attribute(model, o, x, targets);
  o.method = parse_method("saliency");
  const Attributed plain = attribute(model, o, x, targets);
  for (std::int64_t e = 0; e < x.size(); ++e) EXPECT_FLOAT_EQ(noiseless.a.data()[e], plain.a.data()[e]);
}

}  // namespace
}  // namespace mpitrain::explain
