#pragma once
/// @file sampling.hpp
/// Drawing the next token from one position's logits: temperature, top-k, and one uniform draw keyed by
/// (seed, position) from base/random.hpp's counter-based SplitMix64, so that the same seed gives the same
/// tokens on any rank and in any run (Holtzman et al., "The Curious Case of Neural Text Degeneration", 2020,
/// section 3, for temperature and top-k sampling; Fan, Lewis and Dauphin 2018 for top-k).

#include <cstdint>
#include <span>
#include <vector>

namespace mpitrain::nn {

/// How a token is drawn from a row of V logits.
struct SamplingOptions {
  /// T >= 0: the logits are divided by T before the softmax (T < 1 sharpens, T > 1 flattens); T = 0 is
  /// greedy decoding, the arg-max logit (ties: the lowest index), with no draw.
  double temperature = 1.0;
  /// k in [0, V]: only the logits >= the k-th largest take part (ties with the k-th largest are kept, as
  /// nanoGPT's and Hugging Face's top-k do, so more than k tokens may remain); 0 keeps every token.
  std::int64_t top_k = 0;
  /// With the position, keys the uniform draw (sampling_uniform).
  std::uint64_t seed = 0;
};

/// Checks @p options for logits of @p vocabulary (V) entries.
/// @throws std::invalid_argument naming `temperature` and its value when it is negative or not finite, or
///         `top-k`, its value and V when it is outside [0, V].
void check_sampling_options(const SamplingOptions& options, std::int64_t vocabulary);

/// The distribution sample_token draws from, in double: p_i = exp((z_i − m) / T) / Σ_j exp((z_j − m) / T)
/// over the kept tokens i, j (top_k), 0 for the others, with m the largest logit; for T = 0 the one-hot
/// vector of the arg-max (ties: the lowest index).
/// @param logits V finite values (one position's row of a (T, V) output).
/// @throws std::invalid_argument as check_sampling_options, for empty logits, or naming the index and value
///         of a logit that is not finite.
[[nodiscard]] std::vector<double> sampling_probabilities(std::span<const float> logits,
                                                         const SamplingOptions& options);

/// The uniform in [0, 1) of the draw at @p position: SplitMix64(keyed_seed({key, seed, position}))
/// .uniform_double(), a pure function of (seed, position) (key: a constant that keeps these draws apart
/// from the project's other keyed streams).
[[nodiscard]] double sampling_uniform(std::uint64_t seed, std::int64_t position);

/// Draws one token from @p logits: the smallest i with u < p_0 + ... + p_i (the inverse of the cumulative
/// distribution, summed in index order in double), p = sampling_probabilities(logits, options) and
/// u = sampling_uniform(options.seed, position); a token of probability 0 is never drawn. For T = 0 the
/// arg-max, without a draw.
/// @param position the draw's counter, e.g. the index of the generated token.
/// @return the token's index in [0, V).
/// @throws std::invalid_argument as sampling_probabilities.
[[nodiscard]] std::int64_t sample_token(std::span<const float> logits, const SamplingOptions& options,
                                        std::int64_t position);

}  // namespace mpitrain::nn
