#include "mpitrain/nn/sampling.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

#include "mpitrain/base/random.hpp"
#include "mpitrain/nn/loss.hpp"

namespace mpitrain::nn {

namespace {
constexpr std::uint64_t sampling_key = 0x53616d706c654279;  // "SampleBy": apart from other keyed draws
}  // namespace

void check_sampling_options(const SamplingOptions& options, std::int64_t vocabulary) {
  if (!std::isfinite(options.temperature) || options.temperature < 0.0) {
    throw std::invalid_argument(
        fmt::format("temperature {} must be a finite number >= 0 (0: greedy arg-max)", options.temperature));
  }
  if (options.top_k < 0 || options.top_k > vocabulary) {
    throw std::invalid_argument(fmt::format("top-k {} is outside [0, {}] (0: every token; {}: the vocabulary V)",
                                            options.top_k, vocabulary, vocabulary));
  }
}

std::vector<double> sampling_probabilities(std::span<const float> logits, const SamplingOptions& options) {
  const auto v = static_cast<std::int64_t>(logits.size());
  if (v == 0) throw std::invalid_argument("sampling: no logits");
  check_sampling_options(options, v);
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i])) throw std::invalid_argument(fmt::format("sampling: logit {} is {}", i, logits[i]));
  }
  std::vector<double> p(logits.size(), 0.0);
  if (options.temperature == 0.0) {
    p[static_cast<std::size_t>(argmax(logits))] = 1.0;
    return p;
  }
  // The k-th largest logit: every logit below it is left out.
  float threshold = *std::ranges::min_element(logits);
  if (options.top_k > 0) {
    std::vector<float> sorted(logits.begin(), logits.end());
    std::ranges::nth_element(sorted, sorted.begin() + (options.top_k - 1), std::greater<>());
    threshold = sorted[static_cast<std::size_t>(options.top_k - 1)];
  }
  const double m = *std::ranges::max_element(logits);
  double sum = 0.0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] < threshold) continue;
    p[i] = std::exp((static_cast<double>(logits[i]) - m) / options.temperature);
    sum += p[i];
  }
  for (double& x : p) x /= sum;  // sum >= 1: the largest logit contributes exp(0)
  return p;
}

double sampling_uniform(std::uint64_t seed, std::int64_t position) {
  return base::SplitMix64(base::keyed_seed({sampling_key, seed, static_cast<std::uint64_t>(position)}))
      .uniform_double();
}

std::int64_t sample_token(std::span<const float> logits, const SamplingOptions& options, std::int64_t position) {
  const std::vector<double> p = sampling_probabilities(logits, options);
  if (options.temperature == 0.0) return argmax(logits);
  const double u = sampling_uniform(options.seed, position);
  double cumulative = 0.0;
  std::int64_t last_possible = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0.0) continue;
    cumulative += p[i];
    last_possible = static_cast<std::int64_t>(i);
    if (u < cumulative) return last_possible;
  }
  return last_possible;  // u within rounding of 1 above the summed probabilities
}

}  // namespace mpitrain::nn
