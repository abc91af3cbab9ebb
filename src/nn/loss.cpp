#include "mpitrain/nn/loss.hpp"

#include <cmath>

namespace mpitrain::nn {

namespace {

// One row: returns the loss and whether the arg-max equals the label; writes softmax into prob if given.
double row_loss(const float* z, std::int64_t k, std::int32_t label, float* prob, bool& correct) {
  const std::int64_t best = argmax(std::span<const float>(z, static_cast<std::size_t>(k)));
  const float zmax = z[best];
  double sum = 0.0;
  for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j]) - zmax);
  if (prob != nullptr) {
    for (std::int64_t j = 0; j < k; ++j) {
      prob[j] = static_cast<float>(std::exp(static_cast<double>(z[j]) - zmax) / sum);
    }
  }
  correct = best == label;
  return std::log(sum) + zmax - static_cast<double>(z[label]);
}

}  // namespace

std::int64_t argmax(std::span<const float> values) {
  std::int64_t best = 0;
  for (std::size_t j = 1; j < values.size(); ++j) {
    if (values[j] > values[static_cast<std::size_t>(best)]) best = static_cast<std::int64_t>(j);
  }
  return best;
}

LossSums softmax_cross_entropy(ConstMatrixMap logits, std::span<const std::int32_t> labels,
                               MatrixMap grad_logits) {
  LossSums sums;
  const std::int64_t k = logits.cols();
  for (std::int64_t i = 0; i < logits.rows(); ++i) {
    bool correct = false;
    float* g = grad_logits.data() + i * k;
    sums.loss += row_loss(logits.data() + i * k, k, labels[i], g, correct);
    g[labels[i]] -= 1.0f;
    sums.correct += correct ? 1 : 0;
  }
  sums.count = logits.rows();
  return sums;
}

LossSums softmax_cross_entropy(ConstMatrixMap logits, std::span<const std::int32_t> labels,
                               std::span<double> per_sample) {
  LossSums sums;
  const std::int64_t k = logits.cols();
  for (std::int64_t i = 0; i < logits.rows(); ++i) {
    bool correct = false;
    const double loss = row_loss(logits.data() + i * k, k, labels[i], nullptr, correct);
    if (!per_sample.empty()) per_sample[i] = loss;
    sums.loss += loss;
    sums.correct += correct ? 1 : 0;
  }
  sums.count = logits.rows();
  return sums;
}

void softmax(ConstMatrixMap logits, MatrixMap probabilities) {
  const std::int64_t k = logits.cols();
  for (std::int64_t i = 0; i < logits.rows(); ++i) {
    bool unused = false;
    row_loss(logits.data() + i * k, k, 0, probabilities.data() + i * k, unused);
  }
}

}  // namespace mpitrain::nn
