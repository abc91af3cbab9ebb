#pragma once
/// @file causal_self_attention.hpp
/// Causal multi-head scaled dot-product self-attention (Vaswani et al., "Attention Is All You Need", 2017,
/// eq. 1 and section 3.2.2; the masked form of GPT-2's `attn`), without parameters: the fused QKV projection
/// before it and the output projection after it are `dense` layers on the sequence's last axis.

#include <cstdint>
#include <span>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/matmul.hpp"

namespace mpitrain::nn {

/// From (T, 3C) to (T, C) per sample. Each position t of the input holds [q_t | k_t | v_t], C values each
/// (the layout of GPT-2's c_attn output); head h of H takes channels h·d .. (h+1)·d − 1 of each, d = C / H.
/// Per sample and head, with Q, K, V the T × d matrices: S = Q Kᵀ / sqrt(d), S[t, s] = −∞ for s > t (a
/// position attends to itself and the ones before it only), P = softmax of each row of S, Y = P V, written
/// to channels h·d .. of the output. Backward: dV = Pᵀ dY, dP = dY Vᵀ, dS = P ∘ (dP − rowsum(dP ∘ P)),
/// dQ = dS K / sqrt(d), dK = dSᵀ Q / sqrt(d). Each of the six products runs over every (sample, head) pair at
/// once (BatchedMatrixProduct, oneDNN, on strided views: no copies per head). At precision() bf16 their
/// operands Q, K, V, P, dY and dS are rounded to bf16 and they accumulate in fp32 (PyTorch's CPU autocast runs
/// attention's batched products in bf16 likewise); the softmax and its gradient stay in fp32.
class CausalSelfAttention final : public Layer {
 public:
  /// @param name layer name (`causal_self_attention`, ...). @param input_shape (T, 3C). @param heads H.
  /// @throws std::invalid_argument naming the layer and the shape when the input is not two-dimensional,
  ///         its last axis is not a multiple of 3, or C is not a multiple of H (or H < 1).
  CausalSelfAttention(std::string name, const Shape& input_shape, std::int64_t heads);
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;
  /// 2·T²·C for each of Q Kᵀ and P V (every head together, the masked half counted too, as the products
  /// compute it), and for each of dP, dV, dQ, dK when input_gradient() is on.
  [[nodiscard]] std::int64_t flops_per_sample() const override;

  /// forward() with Y rounded to bf16 by its product into @p y16 (rows × T·C: a consumer's bf16 input, such
  /// as the next dense layer's LinearProducts::rounded_input) instead of the fp32 output; the output map of
  /// forward() is then not written. @throws std::invalid_argument when precision() is not bf16 or @p y16 is
  /// too small.
  void forward_rounded(ConstMatrixMap x, std::span<std::uint16_t> y16);
  /// backward() with dX rounded to bf16 into @p dx16 (rows × T·3C, e.g. the previous dense layer's
  /// LinearProducts::rounded_output_gradient). @throws std::invalid_argument as forward_rounded;
  /// std::logic_error without input_gradient().
  void backward_rounded(ConstMatrixMap dy, std::span<std::uint16_t> dx16);

 private:
  std::int64_t tokens_;    // T
  std::int64_t channels_;  // C
  std::int64_t heads_;     // H
  std::int64_t head_size_; // d = C / H
  std::int64_t rows_ = 0;
  RowMatrix y_;                   // max_rows × (T·C)
  RowMatrix probabilities_;       // max_rows × (H·T·T): S, then P, of every sample and head, T × T each
  RowMatrix dp_;                  // max_rows × (H·T·T): dP, then dS (0 rows without input gradient)
  RowMatrix dx_;                  // max_rows × (T·3C) (0 rows without input gradient)
  // The last forward's Q, K and V (then dY in backward) in head-major blocks (to_head_major in the .cpp):
  // fp32 copies, or at bf16 rounded copies; only the precision's pair is sized.
  RowMatrix qkv32_, dy32_;                 // max_rows × (T·3C), max_rows × (T·C)
  base::Bf16Matrix qkv16_, dy16_;          // likewise, bf16
  base::Bf16Matrix probabilities16_;       // bf16: max_rows × (H·T·T), P rounded (forward), then dS (backward)
  BatchedMatrixProduct scores_, values_;                        // S = Q·Kᵀ, Y = P·V
  BatchedMatrixProduct value_gradient_, probability_gradient_;  // dV = Pᵀ·dY, dP = dY·Vᵀ
  BatchedMatrixProduct query_gradient_, key_gradient_;          // dQ = dS·K, dK = dSᵀ·Q

  [[nodiscard]] MatrixBatch head_major() const;                    // Q, K, V or dY: T × d, dense
  [[nodiscard]] MatrixBatch square() const;                        // S, P, dP, dS: T × T, dense
  [[nodiscard]] MatrixBatch in_sequence(std::int64_t width) const; // T × d of a rows × (T·width) buffer
  // The forward with Y written to @p y (fp32, or at bf16 rounded by oneDNN), and the backward likewise.
  template <class Out>
  void attend(ConstMatrixMap x, Out* y);
  template <class Out>
  void attend_backward(ConstMatrixMap dy, Out* dx);
};

}  // namespace mpitrain::nn
