#pragma once
/// @file transformer_block.hpp
/// One pre-LayerNorm Transformer block of GPT-2 (Radford et al., "Language Models are Unsupervised
/// Multitask Learners", 2019; the layout of nanoGPT's Block): a residual causal self-attention branch and
/// a residual 4x MLP branch with GELU (tanh approximation), on sequences (T, C).

#include <cstdint>
#include <memory>
#include <vector>

#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/causal_self_attention.hpp"
#include "mpitrain/nn/dense.hpp"
#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/layer_norm.hpp"

namespace mpitrain::nn {

/// For an input x of shape (T, C) (rows are samples, each a sequence of T positions of C features):
///
///     h = x + c_proj(attention(c_attn(ln_1(x))))      attention: causal, H heads (causal_self_attention.hpp)
///     y = h + mlp.c_proj(gelu(mlp.c_fc(ln_2(h))))      c_fc: C to 4C, mlp.c_proj: 4C to C
///
/// built from the project's layers (LayerNorm, Dense on the last axis, CausalSelfAttention, Activation),
/// whose tensors carry GPT-2's names under the block's name NAME (`h.0`, `h.1`, ...):
/// `NAME.ln_1/gamma:0` and `/beta:0` (C), `NAME.attn.c_attn/kernel:0` (C, 3C) and `/bias:0` (3C),
/// `NAME.attn.c_proj/kernel:0` (C, C) and `/bias:0`, `NAME.ln_2/...`, `NAME.mlp.c_fc/kernel:0` (C, 4C) and
/// `/bias:0` (4C), `NAME.mlp.c_proj/kernel:0` (4C, C) and `/bias:0`. A kernel is (in, out): y = x·W, the
/// layout of GPT-2's Conv1D weight (PyTorch's nn.Linear weight is its transpose). Initialisation as GPT-2:
/// kernels normal(0, 0.02) (Dense's rule for a layer inside a block), biases 0, LayerNorm gains 1; kernels
/// decay, the rest does not. In the registry every tensor belongs to the block (one gradient group).
/// Backward: the residual sums pass dy through unchanged, dh = dy + d(MLP branch)/dh, dx = dh + d(attention
/// branch)/dx.
///
/// At precision bf16 every input of a product is rounded once, and by the layer that computes it, as it
/// writes it: the layer norms, the attention and GELU write their outputs straight into the next dense layer's
/// bf16 input (and GELU and the attention their input gradients into the dense layer's bf16 dY), so no fp32
/// copy is written and read back for rounding (LinearProducts::rounded_input). The numbers are those of the
/// unfused layers at bf16 (each sub-layer's own tests), except that the biases of c_attn and mlp.c_fc sum
/// their gradient from the rounded dY, as PyTorch's autocast does for every linear layer.
class TransformerBlock final : public Layer {
 public:
  /// @param name the block's name, prefix of its tensors' names. @param input_shape (T, C).
  /// @param heads H >= 1, dividing C. @param epsilon the LayerNorms' epsilon (> 0; GPT-2: 1e-5).
  /// @throws std::invalid_argument naming the layer for a shape that is not (T, C), or H not dividing C.
  TransformerBlock(std::string name, const Shape& input_shape, std::int64_t heads, double epsilon);
  void register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) override;
  void bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) override;
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;
  /// The products of its four Dense layers and of the attention (per sample).
  [[nodiscard]] std::int64_t flops_per_sample() const override;

 private:
  // Sub-layers share the block's switches (input gradient of ln_1, parameter gradients, precision).
  void pass_switches();
  // forward and backward at bf16, with the fusions above.
  ConstMatrixMap forward_bf16(ConstMatrixMap x);
  ConstMatrixMap backward_bf16(ConstMatrixMap dy);

  std::unique_ptr<LayerNorm> ln_1_;
  std::unique_ptr<Dense> c_attn_;
  std::unique_ptr<CausalSelfAttention> attention_;
  std::unique_ptr<Dense> attn_proj_;
  std::unique_ptr<LayerNorm> ln_2_;
  std::unique_ptr<Dense> c_fc_;
  std::unique_ptr<Activation> gelu_;
  std::unique_ptr<Dense> mlp_proj_;
  std::vector<Layer*> layers_;         // the eight above, in forward order
  std::int64_t parameter_offset_ = 0;  // the block's first float in the model's flat buffers
  std::int64_t buffer_offset_ = 0;
  std::int64_t rows_ = 0;
  const float* gelu_input_ = nullptr;  // bf16: c_fc's output of the last forward (GELU's backward needs it)
  RowMatrix h_;   // rows × T·C: x + the attention branch
  RowMatrix y_;   // rows × T·C: h + the MLP branch
  RowMatrix dh_;  // rows × T·C
  RowMatrix dx_;  // rows × T·C (when input_gradient())
};

}  // namespace mpitrain::nn
