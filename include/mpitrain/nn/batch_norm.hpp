#pragma once
/// @file batch_norm.hpp
/// Batch normalization (Ioffe and Szegedy, ICML 2015) over every axis but the last (the channels), with
/// statistics synchronized over the whole global batch, as Keras's `BatchNormalization(synchronized=True)`.

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// Batch normalization of a per-sample shape (..., C): channels last, output shape = input shape. For a
/// batch of N samples of shape (H, W, C) each channel is normalised over the M = N·H·W values it holds; for a
/// one-dimensional input (C) over the N samples.
///
/// Tensors (Keras's order and names): parameters `<name>/gamma:0` (C, ones) and `<name>/beta:0` (C, zeros),
/// without weight decay; buffers `<name>/moving_mean:0` (C, zeros) and `<name>/moving_variance:0` (C, ones),
/// saved in checkpoints, neither trained nor reduced.
///
/// Training forward: per channel the sums Σx, Σx² and the count M, in double, over the whole global batch
/// (summed over every replica through Context::statistics, or over these rows when it is null): μ = Σx / M,
/// σ² = max(Σx² / M - μ², 0) (the biased variance, as Keras), x̂ = (x - μ) / sqrt(σ² + ε), y = γ x̂ + β.
/// The moving statistics are then updated from the same global μ and σ² (so identically on every replica):
/// moving = moving · momentum + batch · (1 - momentum) (Keras: `moving -= (moving - batch) · (1 - momentum)`,
/// with the biased variance: its fused path removes the Bessel correction that TensorFlow's fused kernel
/// applies, "to be consistent with non-fused batch norm", keras/layers/normalization/batch_normalization.py,
/// `_fused_batch_norm`). They are left unchanged when the global batch is empty or its statistics are not
/// finite. Evaluation forward: y = γ (x - moving_mean) / sqrt(moving_variance + ε) + β.
///
/// Backward of a training pass (the gradient of the global objective, summed over every replica's rows):
/// per channel the global sums Σdy and Σdy·x̂ (a second sum through the same Context::statistics), then
/// dx = γ / sqrt(σ² + ε) · (dy - Σdy / M - x̂ · Σdy·x̂ / M). The parameter gradients added are this replica's
/// share, dγ += Σ_rows dy·x̂ and dβ += Σ_rows dy, which the gradient reducer sums over replicas like every
/// other gradient. Backward of an evaluation pass: dx = dy · γ / sqrt(moving_variance + ε), same dγ and dβ.
/// Without input_gradient() the second sum is skipped (on every replica alike: the model's structure).
class BatchNorm final : public Layer {
 public:
  /// @param name layer name (`batch_normalization`, `batch_normalization_1`, ...: Keras's). @param shape input and output shape, channels
  /// last. @param momentum of the moving statistics, in [0, 1). @param epsilon added to the variance, > 0.
  /// @throws std::invalid_argument naming the layer for a momentum or epsilon out of range or a dimension
  ///         below 1.
  BatchNorm(std::string name, const Shape& shape, double momentum, double epsilon);
  /// Channels: the last dimension of the shape.
  [[nodiscard]] std::int64_t channels() const { return channels_; }
  void register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) override;
  void bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) override;
  void reserve(std::int64_t max_rows) override;
  /// @throws whatever Context::statistics->sum throws.
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  /// @throws whatever the forward's Context::statistics->sum throws.
  ConstMatrixMap backward(ConstMatrixMap dy) override;

 private:
  using RowArrayf = Eigen::Array<float, 1, Eigen::Dynamic>;

  // Training: the global per-channel sums of x and x² and the count into sums_, count_, mean_, inv_std_, and
  // the moving statistics' update.
  void batch_moments(ConstMatrixMap x);

  double momentum_;
  double epsilon_;
  std::int64_t channels_;   // C
  std::int64_t positions_;  // values of a channel per sample: features / C
  std::int64_t gamma_offset_ = 0, beta_offset_ = 0, mean_offset_ = 0, variance_offset_ = 0;
  float* gamma_ = nullptr;            // C
  float* beta_ = nullptr;             // C
  float* gamma_grad_ = nullptr;       // C
  float* beta_grad_ = nullptr;        // C
  float* moving_mean_ = nullptr;      // C
  float* moving_variance_ = nullptr;  // C
  bool training_ = false;                          // the last forward normalised with batch statistics
  const BatchStatistics* statistics_ = nullptr;    // the last forward's
  std::int64_t rows_ = 0;                          // rows of the last forward
  double count_ = 0.0;                             // M of the last training forward (global)
  std::vector<double> sums_;   // 2C + 1: Σx, Σx² per channel and M (forward); Σdy, Σdy·x̂ (backward)
  RowArrayf mean_;             // C: the μ used by the last forward
  RowArrayf inv_std_;          // C: 1 / sqrt(σ² + ε) of the last forward
  RowArrayf scale_;            // C: γ · inv_std_ (backward)
  RowArrayf dy_mean_;          // C: Σdy / M (backward)
  RowArrayf dyx_mean_;         // C: Σdy·x̂ / M (backward)
  RowMatrix x_hat_;            // max_rows × features
  RowMatrix y_;                // max_rows × features
  RowMatrix dx_;               // max_rows × features (0 × features without input gradient)
};

}  // namespace mpitrain::nn
