#pragma once
/// @file task.hpp
/// A task owns the loss and the metrics of a model's outputs. Its targets are integers, one or more per
/// sample: one class label per sample for classification; for language modelling T next-token ids per
/// sample, scored per token. Every sum is additive, so that per-rank and per-chunk
/// sums can be added across ranks in a fixed order.

#include <cstdint>
#include <span>
#include <string>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/nn/loss.hpp"

namespace mpitrain::nn {

/// Loss and metrics of a model's outputs against integer targets. The outputs of a batch are rows ×
/// (targets_per_sample() · classes()) logits, rows are samples; target t of sample i is
/// targets[i · targets_per_sample() + t], in [0, classes()).
class Task {
 public:
  virtual ~Task() = default;
  /// `classification`, ...
  [[nodiscard]] virtual std::string name() const = 0;
  /// K, the logits per target (the classes, or the vocabulary size).
  [[nodiscard]] virtual int classes() const = 0;
  /// Targets per sample: 1 for classification, T tokens for language modelling.
  [[nodiscard]] virtual std::int64_t targets_per_sample() const { return 1; }
  /// Checks that a model whose output sample has shape @p output_shape fits this task.
  /// @throws std::invalid_argument naming both shapes.
  virtual void check_output_shape(const base::Shape& output_shape) const = 0;
  /// The summed loss of a batch and its gradient with respect to the outputs.
  /// @param outputs rows × outputs per sample. @param targets rows · targets_per_sample() entries.
  /// @param grad_outputs rows × outputs per sample: receives d(summed loss)/d outputs (not divided by
  ///        the batch size: the trainer averages over the global batch after the allreduce).
  /// @return the sums over the batch; count = targets scored.
  virtual LossSums loss(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                        base::MatrixMap grad_outputs) const = 0;
  /// The loss without gradient. @param per_target if not empty, one entry per target receiving its loss.
  virtual LossSums evaluate(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                            std::span<double> per_target = {}) const = 0;
  /// The predicted target of each target position: the arg-max logit (ties: the lowest index).
  /// @param predicted rows · targets_per_sample() entries.
  virtual void predict(base::ConstMatrixMap outputs, std::span<std::int32_t> predicted) const = 0;
  /// The probability of every class at every target position (softmax of the logits), same shape as
  /// @p outputs.
  virtual void probabilities(base::ConstMatrixMap outputs, base::MatrixMap probabilities) const = 0;
};

/// One label per sample among K classes; the model outputs K logits per sample. Loss: softmax
/// cross-entropy (loss.hpp, Keras SparseCategoricalCrossentropy(from_logits=True)); metrics: accuracy and
/// the confusion matrix (add_confusion).
class ClassificationTask final : public Task {
 public:
  /// @throws std::invalid_argument for classes < 2.
  explicit ClassificationTask(int classes);
  [[nodiscard]] std::string name() const override { return "classification"; }
  [[nodiscard]] int classes() const override { return classes_; }
  /// @throws std::invalid_argument unless @p output_shape is (K).
  void check_output_shape(const base::Shape& output_shape) const override;
  LossSums loss(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                base::MatrixMap grad_outputs) const override;
  LossSums evaluate(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                    std::span<double> per_target = {}) const override;
  void predict(base::ConstMatrixMap outputs, std::span<std::int32_t> predicted) const override;
  void probabilities(base::ConstMatrixMap outputs, base::MatrixMap probabilities) const override;

 private:
  int classes_;
};

/// Next-token prediction over a context of T tokens from a vocabulary of V (byte-level: V = 256). The model
/// outputs (T, V) logits per sample, row-major: the logits of position t are values [t·V, (t + 1)·V) of the
/// sample's row; target t is the token that follows position t. Loss: softmax cross-entropy (loss.hpp) of
/// every position, computed on the (rows·T) × V view of the outputs and summed; LossSums::count is the
/// tokens scored (rows·T) and `correct` the positions whose arg-max logit is the target, so the trainer's
/// division by the global count gives the mean loss per token, as PyTorch's F.cross_entropy(logits.view(-1,
/// V), targets.view(-1)) with its default mean.
class LanguageModelTask final : public Task {
 public:
  /// @throws std::invalid_argument for context < 1 or vocabulary < 2.
  LanguageModelTask(std::int64_t context, int vocabulary);
  [[nodiscard]] std::string name() const override { return "language_model"; }
  /// V.
  [[nodiscard]] int classes() const override { return vocabulary_; }
  /// T.
  [[nodiscard]] std::int64_t targets_per_sample() const override { return context_; }
  /// @throws std::invalid_argument unless @p output_shape is (T, V).
  void check_output_shape(const base::Shape& output_shape) const override;
  /// @param outputs rows × T·V logits. @param targets rows·T token ids in [0, V).
  /// @param grad_outputs rows × T·V: softmax − onehot per position (not divided by the token count).
  /// @return loss summed over the rows·T positions (nats); count = rows·T. Computed in float (one
  /// vectorised exp per logit; evaluate() is in double, as the classifier's loss), so the training loss may
  /// differ from evaluate()'s in the last digits.
  LossSums loss(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                base::MatrixMap grad_outputs) const override;
  /// @param per_target if not empty, rows·T entries: each position's loss (nats).
  LossSums evaluate(base::ConstMatrixMap outputs, std::span<const std::int32_t> targets,
                    std::span<double> per_target = {}) const override;
  /// @param predicted rows·T entries: each position's arg-max token.
  void predict(base::ConstMatrixMap outputs, std::span<std::int32_t> predicted) const override;
  /// Softmax over the V logits of each position.
  void probabilities(base::ConstMatrixMap outputs, base::MatrixMap probabilities) const override;

 private:
  // The (rows·T) × V view of rows × T·V outputs. @throws std::invalid_argument for another width.
  [[nodiscard]] base::ConstMatrixMap per_token(base::ConstMatrixMap outputs) const;
  std::int64_t context_;
  int vocabulary_;
};

/// Bits per byte of a byte-level model: the mean loss per token (nats) / ln 2 (a token is one byte).
[[nodiscard]] double bits_per_byte(double loss_per_token);
/// Perplexity: exp(mean loss per token in nats).
[[nodiscard]] double perplexity(double loss_per_token);

/// Adds one count per target to a K × K confusion matrix (row-major: row = true class, column =
/// predicted class). @param targets, predicted the same number of entries, each in [0, @p classes).
/// @param confusion classes² entries. @throws std::invalid_argument for a size mismatch or a class
/// outside [0, classes).
void add_confusion(std::span<const std::int32_t> targets, std::span<const std::int32_t> predicted, int classes,
                   std::span<std::int64_t> confusion);

}  // namespace mpitrain::nn
