#pragma once
/// @file loss.hpp
/// Softmax cross-entropy on integer labels from logits (Keras `SparseCategoricalCrossentropy(from_logits=True)`).
/// For one sample with logits z (K entries) and label y: loss = logsumexp(z) - z_y, computed with the
/// max subtracted for stability; d loss / d z = softmax(z) - onehot(y) (Bishop, PRML 2006, eq. 4.109).

#include <cstdint>
#include <span>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::nn {

using base::ConstMatrixMap;
using base::MatrixMap;

/// Sums over a batch, so that per-rank sums can be added across ranks.
struct LossSums {
  double loss = 0.0;          ///< Sum of per-sample losses (nats).
  std::int64_t correct = 0;   ///< Samples whose arg-max logit equals the label (ties: lowest index).
  std::int64_t count = 0;     ///< Samples.
};

/// Loss and gradient of a batch.
/// @param logits rows × K. @param labels rows entries in [0, K).
/// @param grad_logits rows × K, receives softmax - onehot per row (not divided by the batch size).
/// @return the sums over the rows.
LossSums softmax_cross_entropy(base::ConstMatrixMap logits, std::span<const std::int32_t> labels,
                               base::MatrixMap grad_logits);

/// Loss without gradient. @param per_sample if not empty, rows entries receiving each sample's loss.
LossSums softmax_cross_entropy(base::ConstMatrixMap logits, std::span<const std::int32_t> labels,
                               std::span<double> per_sample = {});

/// Row-wise softmax of @p logits (rows × K) into @p probabilities (rows × K).
void softmax(base::ConstMatrixMap logits, base::MatrixMap probabilities);

/// The index of the largest of @p values (ties: the lowest index; a NaN is never larger, so a NaN at
/// index 0 stays the answer). @p values must not be empty.
[[nodiscard]] std::int64_t argmax(std::span<const float> values);

}  // namespace mpitrain::nn
