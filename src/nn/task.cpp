#include "mpitrain/nn/task.hpp"

#include "mpitrain/base/fixed_order_sum.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace mpitrain::nn {

ClassificationTask::ClassificationTask(int classes) : classes_(classes) {
  if (classes < 2) throw std::invalid_argument("classification: classes must be >= 2, got " + std::to_string(classes));
}

void ClassificationTask::check_output_shape(const base::Shape& output_shape) const {
  if (output_shape != base::Shape{classes_}) {
    throw std::invalid_argument("classification into " + std::to_string(classes_) + " classes needs model outputs " +
                                base::format_shape(base::Shape{classes_}) + " per sample, the model gives " +
                                base::format_shape(output_shape));
  }
}

LossSums ClassificationTask::loss(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                                  base::MatrixMap grad_outputs) const {
  return softmax_cross_entropy(outputs, targets, grad_outputs);
}

LossSums ClassificationTask::evaluate(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                                      std::span<double> per_target) const {
  return softmax_cross_entropy(outputs, targets, per_target);
}

void ClassificationTask::predict(base::ConstMatrixMap outputs, std::span<std::int32_t> predicted) const {
  const std::int64_t k = outputs.cols();
  for (std::int64_t i = 0; i < outputs.rows(); ++i) {
    predicted[static_cast<std::size_t>(i)] =
        static_cast<std::int32_t>(argmax(std::span<const float>(outputs.data() + i * k, static_cast<std::size_t>(k))));
  }
}

void ClassificationTask::probabilities(base::ConstMatrixMap outputs, base::MatrixMap probabilities) const {
  softmax(outputs, probabilities);
}

LanguageModelTask::LanguageModelTask(std::int64_t context, int vocabulary)
    : context_(context), vocabulary_(vocabulary) {
  if (context < 1 || vocabulary < 2) {
    throw std::invalid_argument("language model: context must be >= 1 and vocabulary >= 2, got " +
                                std::to_string(context) + " and " + std::to_string(vocabulary));
  }
}

void LanguageModelTask::check_output_shape(const base::Shape& output_shape) const {
  const base::Shape want{context_, vocabulary_};
  if (output_shape != want) {
    throw std::invalid_argument("a language model over " + std::to_string(context_) + " tokens of a vocabulary of " +
                                std::to_string(vocabulary_) + " needs model outputs " + base::format_shape(want) +
                                " per sample (logits per position), the model gives " +
                                base::format_shape(output_shape));
  }
}

base::ConstMatrixMap LanguageModelTask::per_token(base::ConstMatrixMap outputs) const {
  if (outputs.cols() != context_ * vocabulary_) {
    throw std::invalid_argument("language model: outputs of " + std::to_string(outputs.cols()) +
                                " values per sample, expected T·V = " + std::to_string(context_ * vocabulary_));
  }
  return {outputs.data(), outputs.rows() * context_, vocabulary_};
}

LossSums LanguageModelTask::loss(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                                 base::MatrixMap grad_outputs) const {
  // In float with Eigen's vectorised exp, one exp per logit (softmax_cross_entropy, the classifier's, takes two
  // in double: at 256 logits per token that was a tenth of a GPT step); the sum of each row in a fixed order.
  const base::ConstMatrixMap logits = per_token(outputs);
  const std::int64_t v = logits.cols();
  LossSums sums;
  for (std::int64_t i = 0; i < logits.rows(); ++i) {
    const Eigen::Map<const Eigen::ArrayXf> z(logits.data() + i * v, v);
    Eigen::Map<Eigen::ArrayXf> g(grad_outputs.data() + i * v, v);
    const std::int64_t best = argmax(std::span<const float>(z.data(), static_cast<std::size_t>(v)));
    const float top = z[best];
    g = (z - top).exp();
    const float total = base::fixed_order_sum(v, [&](std::int64_t k) { return g[k]; });
    const std::int32_t label = targets[static_cast<std::size_t>(i)];
    sums.loss += static_cast<double>(std::log(total)) + top - z[label];
    sums.correct += best == label ? 1 : 0;
    g *= 1.0f / total;
    g[label] -= 1.0f;
  }
  sums.count = logits.rows();
  return sums;
}

LossSums LanguageModelTask::evaluate(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                                     std::span<double> per_target) const {
  return softmax_cross_entropy(per_token(outputs), targets, per_target);
}

void LanguageModelTask::predict(base::ConstMatrixMap outputs, std::span<std::int32_t> predicted) const {
  ClassificationTask(vocabulary_).predict(per_token(outputs), predicted);
}

void LanguageModelTask::probabilities(base::ConstMatrixMap outputs, base::MatrixMap probabilities) const {
  const base::ConstMatrixMap logits = per_token(outputs);
  softmax(logits, base::MatrixMap(probabilities.data(), logits.rows(), logits.cols()));
}

double bits_per_byte(double loss_per_token) { return loss_per_token / std::numbers::ln2; }

double perplexity(double loss_per_token) { return std::exp(loss_per_token); }

void add_confusion(std::span<const std::int32_t> targets, std::span<const std::int32_t> predicted, int classes,
                   std::span<std::int64_t> confusion) {
  if (targets.size() != predicted.size() ||
      confusion.size() != static_cast<std::size_t>(classes) * static_cast<std::size_t>(classes)) {
    throw std::invalid_argument("add_confusion: " + std::to_string(targets.size()) + " targets, " +
                                std::to_string(predicted.size()) + " predictions, " +
                                std::to_string(confusion.size()) + " cells for " + std::to_string(classes) +
                                " classes");
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] < 0 || targets[i] >= classes || predicted[i] < 0 || predicted[i] >= classes) {
      throw std::invalid_argument("add_confusion: target " + std::to_string(targets[i]) + " or prediction " +
                                  std::to_string(predicted[i]) + " outside [0, " + std::to_string(classes) + ")");
    }
    ++confusion[static_cast<std::size_t>(targets[i]) * static_cast<std::size_t>(classes) +
                static_cast<std::size_t>(predicted[i])];
  }
}

}  // namespace mpitrain::nn
