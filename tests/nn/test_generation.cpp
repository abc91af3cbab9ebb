// Sampling (temperature, top-k, the keyed draw) against softmax probabilities computed here, and byte
// generation with a small causal model against a hand-written arg-max loop over Model::forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpitrain/nn/generation.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/sampling.hpp"

namespace mpitrain::nn {
namespace {

// softmax(z / T) over the k largest logits (z assumed distinct), 0 elsewhere, written out plainly.
std::vector<double> expected_probabilities(const std::vector<float>& z, double temperature, std::size_t k) {
  std::vector<std::size_t> order(z.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return z[a] > z[b]; });
  if (k == 0) k = z.size();
  std::vector<double> p(z.size(), 0.0);
  double sum = 0.0;
  for (std::size_t r = 0; r < k; ++r) sum += std::exp(z[order[r]] / temperature);
  for (std::size_t r = 0; r < k; ++r) p[order[r]] = std::exp(z[order[r]] / temperature) / sum;
  return p;
}

GenerationOptions generation(std::int64_t tokens, std::int64_t context = 0, SamplingOptions sampling = {}) {
  GenerationOptions options;
  options.tokens = tokens;
  options.context = context;
  options.sampling = sampling;
  return options;
}

std::string error_of(const auto& fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

const std::vector<float> logits{1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 2.5f, 0.0f, 1.5f};

TEST(Sampling, TemperatureZeroIsArgMaxAndSmallTemperaturesTendToIt) {
  for (std::int64_t position = 0; position < 200; ++position) {
    EXPECT_EQ(sample_token(logits, {0.0, 0, 7}, position), 4);
    EXPECT_EQ(sample_token(logits, {1e-3, 0, 7}, position), 4);  // the next logit is 500 temperatures lower
  }
  const std::vector<float> tie{0.5f, 2.0f, 2.0f};
  EXPECT_EQ(sample_token(tie, {0.0, 0, 1}, 0), 1);  // ties: the lowest index
  EXPECT_EQ(sampling_probabilities(logits, {0.0, 0, 0}), std::vector<double>({0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(Sampling, ProbabilitiesAreTheSoftmaxOfTheTopK) {
  for (const double t : {0.5, 1.0, 2.0}) {
    for (const std::int64_t k : {0, 1, 3, 8}) {
      const std::vector<double> got = sampling_probabilities(logits, {t, k, 0});
      const std::vector<double> want = expected_probabilities(logits, t, static_cast<std::size_t>(k));
      for (std::size_t i = 0; i < logits.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-15) << "T " << t << " k " << k;
    }
  }
  // Ties with the k-th largest logit are kept.
  const std::vector<double> p = sampling_probabilities(std::vector<float>{1.0f, 3.0f, 3.0f, 2.0f}, {1.0, 1, 0});
  EXPECT_EQ(p, std::vector<double>({0.0, 0.5, 0.5, 0.0}));
}

// Pearson's chi-square of counts against probabilities over the categories with p > 0; a category with
// p = 0 must have no count.
double chi_square(const std::vector<int>& counts, const std::vector<double>& p, int draws) {
  double chi = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " is outside the top-k";
      continue;
    }
    const double e = p[i] * draws;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

TEST(Sampling, FrequenciesOfManyDrawsFollowTheTemperedTopKSoftmax) {
  constexpr int draws = 40000;
  struct Case {
    double temperature;
    std::int64_t k;
    double limit;  // the chi-square quantile at 1 - 1e-6 for k - 1 (or 7) degrees of freedom
  };
  for (const Case c : {Case{1.0, 0, 40.5}, Case{0.7, 4, 30.7}, Case{2.0, 2, 23.9}}) {
    std::vector<int> counts(logits.size(), 0);
    for (std::int64_t position = 0; position < draws; ++position) {
      ++counts[static_cast<std::size_t>(sample_token(logits, {c.temperature, c.k, 11}, position))];
    }
    const double chi = chi_square(counts, expected_probabilities(logits, c.temperature, static_cast<std::size_t>(c.k)),
                                  draws);
    EXPECT_LT(chi, c.limit) << "T " << c.temperature << " k " << c.k;
  }
}

TEST(Sampling, TheDrawIsTheInverseDistributionOfTheKeyedUniform) {
  const std::vector<double> p = expected_probabilities(logits, 0.8, 5);
  for (std::int64_t position = 0; position < 2000; ++position) {
    const double u = sampling_uniform(3, position);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    std::size_t want = 0;
    double cumulative = p[0];
    while (u >= cumulative || p[want] == 0.0) cumulative += p[++want];
    EXPECT_EQ(sample_token(logits, {0.8, 5, 3}, position), static_cast<std::int64_t>(want)) << "u " << u;
  }
}

TEST(Sampling, SameSeedAndPositionSameTokenOtherSeedsDiffer) {
  int differ = 0;
  for (std::int64_t position = 0; position < 100; ++position) {
    EXPECT_EQ(sample_token(logits, {1.0, 0, 5}, position), sample_token(logits, {1.0, 0, 5}, position));
    EXPECT_EQ(sampling_uniform(5, position), sampling_uniform(5, position));
    differ += sample_token(logits, {1.0, 0, 5}, position) != sample_token(logits, {1.0, 0, 6}, position);
  }
  EXPECT_GT(differ, 30);  // two independent draws from p agree with probability sum p_i^2 < 0.3
}

TEST(Sampling, BadOptionsAndLogitsAreNamed) {
  EXPECT_NE(error_of([] { (void)sample_token(logits, {-0.5, 0, 0}, 0); }).find("temperature -0.5"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)sample_token(logits, {NAN, 0, 0}, 0); }).find("temperature nan"), std::string::npos);
  EXPECT_NE(error_of([] { (void)sample_token(logits, {1.0, 9, 0}, 0); }).find("top-k 9 is outside [0, 8]"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)sample_token(logits, {1.0, -1, 0}, 0); }).find("top-k -1"), std::string::npos);
  EXPECT_NE(error_of([] { (void)sample_token(std::vector<float>{0.0f, INFINITY}, {1.0, 0, 0}, 0); })
                .find("logit 1 is inf"),
            std::string::npos);
}

// The block-free GPT stack of the brief: embedding -> layer norm -> q|k|v -> attention -> projection -> tied
// output, T = 8, C = 8, 2 heads, V = 256, its parameters multiplied by @p scale (GPT-2's initialisation
// gives nearly equal logits; 40 makes one byte stand out at each step).
Model small_language_model(std::uint64_t seed, float scale) {
  Model model = build_model(parse_model_spec(R"({"input_shape": [8], "layers": [
      {"type": "embedding", "vocabulary": 256, "dim": 8}, {"type": "layer_norm"},
      {"type": "dense", "units": 24}, {"type": "causal_self_attention", "heads": 2},
      {"type": "dense", "units": 8}, {"type": "tied_output", "vocabulary": 256}]})"));
  model.init(seed);
  for (float& w : model.parameters()) w *= scale;
  return model;
}

// Greedy decoding written out: window the last min(L, n) bytes, pad with @p pad, arg-max at the last one.
std::string argmax_loop(Model& model, std::string sequence, std::int64_t tokens, std::int64_t context, float pad) {
  const std::size_t start = sequence.size();
  model.reserve(1);
  for (std::int64_t i = 0; i < tokens; ++i) {
    const std::size_t w = std::min(sequence.size(), static_cast<std::size_t>(context));
    std::vector<float> x(8, pad);
    for (std::size_t t = 0; t < w; ++t) x[t] = static_cast<unsigned char>(sequence[sequence.size() - w + t]);
    const ConstMatrixMap y = model.forward(ConstMatrixMap(x.data(), 1, 8), Context::evaluation());
    int best = 0;
    for (int v = 1; v < 256; ++v) {
      if (y(0, static_cast<Eigen::Index>((w - 1) * 256 + v)) > y(0, static_cast<Eigen::Index>((w - 1) * 256 + best))) {
        best = v;
      }
    }
    sequence.push_back(static_cast<char>(best));
  }
  return sequence.substr(start);
}

TEST(Generation, GreedyEqualsAnArgMaxLoopOverForward) {
  Model model = small_language_model(3, 40.0f);
  for (const std::int64_t context : {8, 5}) {
    GenerationOptions options = generation(24, context, {0.0, 0, 0});
    const std::string got = generate_bytes(model, "In the beginning", options);
    EXPECT_EQ(got.size(), 24u);
    EXPECT_EQ(got, argmax_loop(model, "In the beginning", 24, context, 120.0f)) << "context " << context;
    // Only the window counts: the prompt's last L bytes alone give the same bytes.
    EXPECT_EQ(got, generate_bytes(model, std::string("In the beginning").substr(16 - context), options));
  }
}

TEST(Generation, SameSeedSameBytesOtherSeedOtherBytesAndPaddingDoesNotMatter) {
  Model model = small_language_model(4, 1.0f);
  GenerationOptions options = generation(40, 0, {1.0, 0, 21});
  const std::string a = generate_bytes(model, "abc", options);
  EXPECT_EQ(a, generate_bytes(model, "abc", options));
  options.padding = 255;  // causal: the padding after the window changes nothing
  EXPECT_EQ(a, generate_bytes(model, "abc", options));
  options.sampling.seed = 22;
  EXPECT_NE(a, generate_bytes(model, "abc", options));
  // top-k 1 is greedy whatever the seed.
  options.sampling = {1.0, 1, 22};
  EXPECT_EQ(generate_bytes(model, "abc", options), generate_bytes(model, "abc", generation(40, 0, {0.0, 0, 0})));
  // The empty prompt starts from '\n'.
  EXPECT_EQ(generate_bytes(model, "", options), generate_bytes(model, "\n", options));
  EXPECT_EQ(generate_bytes(model, "abc", generation(0)), "");
}

TEST(Generation, BadOptionsAndModelsAreNamed) {
  Model model = small_language_model(5, 1.0f);
  EXPECT_NE(error_of([&] { (void)generate_bytes(model, "a", generation(3, 9)); })
                .find("context 9 is outside [1, T] with T = 8"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)generate_bytes(model, "a", generation(3, 0, {1.0, 257, 0})); })
                .find("top-k 257 is outside [0, 256]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)generate_bytes(model, "a", generation(3, 0, {-1.0, 0, 0})); })
                .find("temperature -1"),
            std::string::npos);
  Model classifier = build_model(mlp_spec(784, {16}, ActivationKind::relu, 10));
  EXPECT_NE(error_of([&] { (void)generate_bytes(classifier, "a", generation(3)); })
                .find("maps (784) to (10) per sample, not (T) token ids to (T, V) logits"),
            std::string::npos);
  Model small_vocabulary = build_model(parse_model_spec(R"({"input_shape": [4], "layers": [
      {"type": "embedding", "vocabulary": 16, "dim": 4}, {"type": "tied_output", "vocabulary": 16}]})"));
  EXPECT_NE(error_of([&] { (void)generate_bytes(small_vocabulary, "a", generation(3)); }).find("(T, V) = (4, 16)"),
            std::string::npos);
}

}  // namespace
}  // namespace mpitrain::nn
