#pragma once
/// @file layer_norm.hpp
/// Layer normalization over the last axis (Ba, Kiros and Hinton, "Layer Normalization", 2016; Keras
/// `LayerNormalization(axis=-1)`, PyTorch `nn.LayerNorm(C)`, GPT-2's ln_1, ln_2, ln_f).

#include <cstdint>
#include <span>

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// For an input of shape (..., C), each position's C values (one token of a (T, C) sequence, a whole
/// sample when the input is (C)) are normalised on their own: with μ and σ² their mean and biased variance,
/// x̂ = (x − μ) / sqrt(σ² + ε) and y = γ ∘ x̂ + β. γ (gain, ones) and β (bias, zeros) have C entries each and
/// no weight decay (Keras names `NAME/gamma:0`, `NAME/beta:0`). No statistics cross samples or positions:
/// results do not depend on the batch. Backward (per position, g = dy ∘ γ): dγ += Σ dy ∘ x̂, dβ += Σ dy,
/// dx = (g − mean(g) − x̂ · mean(g ∘ x̂)) / sqrt(σ² + ε). Sums are in float (as PyTorch's CPU kernel), in 16
/// lanes whose order depends on C alone, not on the values' addresses: results do not depend on the batch,
/// the rank or the run.
class LayerNorm final : public Layer {
 public:
  /// @param name layer name (`layer_normalization`, ...). @param shape (..., C), input and output.
  /// @param epsilon added to the variance, > 0 (GPT-2 and PyTorch: 1e-5; Keras: 1e-3).
  /// @throws std::invalid_argument naming the layer for an empty shape or an epsilon that is not > 0.
  LayerNorm(std::string name, const Shape& shape, double epsilon);
  void register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) override;
  void bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) override;
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  /// forward() with y rounded to bf16 (base::float_to_bf16) into @p y16 (rows × inputs(): a consumer's bf16
  /// input, such as the next dense layer's LinearProducts::rounded_input) instead of the fp32 output, which
  /// is then not written; backward() is unchanged. @throws std::invalid_argument when @p y16 is too small.
  void forward_rounded(ConstMatrixMap x, std::span<std::uint16_t> y16);
  ConstMatrixMap backward(ConstMatrixMap dy) override;

 private:
  double epsilon_;
  std::int64_t channels_;         // C
  std::int64_t positions_;        // inputs() / C
  std::int64_t gamma_offset_ = 0;
  std::int64_t beta_offset_ = 0;
  float* gamma_ = nullptr;        // C
  float* beta_ = nullptr;         // C
  float* gamma_grad_ = nullptr;   // C
  float* beta_grad_ = nullptr;    // C
  std::int64_t rows_ = 0;
  RowMatrix y_;                   // max_rows × (positions·C)
  RowMatrix x_hat_;               // max_rows × (positions·C), the last forward's x̂
  RowMatrix inv_std_;             // max_rows × positions, 1 / sqrt(σ² + ε) of the last forward
  RowMatrix dx_;                  // max_rows × (positions·C) (0 rows without input gradient)
  Eigen::ArrayXf row_;            // C: one position's y before forward_rounded rounds it

  template <class Out>
  void normalize(ConstMatrixMap x, Out* y);  // forward's work, y fp32 (y_) or bf16
};

}  // namespace mpitrain::nn
