#pragma once
/// @file causal_self_attention.hpp
/// Causal multi-head scaled dot-product self-attention (Vaswani et al., "Attention Is All You Need", 2017,
/// eq. 1 and section 3.2.2; the masked form of GPT-2's `attn`), without parameters: the fused QKV projection
/// before it and the output projection after it are `dense` layers on the sequence's last axis.

#include <cstdint>

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// From (T, 3C) to (T, C) per sample. Each position t of the input holds [q_t | k_t | v_t], C values each
/// (the layout of GPT-2's c_attn output); head h of H takes channels h·d .. (h+1)·d − 1 of each, d = C / H.
/// Per sample and head, with Q, K, V the T × d matrices: S = Q Kᵀ / sqrt(d), S[t, s] = −∞ for s > t (a
/// position attends to itself and the ones before it only), P = softmax of each row of S, Y = P V, written
/// to channels h·d .. of the output. Backward: dV = Pᵀ dY, dP = dY Vᵀ, dS = P ∘ (dP − rowsum(dP ∘ P)),
/// dQ = dS K / sqrt(d), dK = dSᵀ Q / sqrt(d). The products run in fp32 (Eigen) at either precision().
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

 private:
  std::int64_t tokens_;    // T
  std::int64_t channels_;  // C
  std::int64_t heads_;     // H
  std::int64_t head_size_; // d = C / H
  std::int64_t rows_ = 0;
  const float* input_ = nullptr;  // rows_ × (T·3C), the last forward's x
  RowMatrix y_;                   // max_rows × (T·C)
  RowMatrix probabilities_;       // max_rows × (H·T·T): P of every sample and head, row-major T × T each
  RowMatrix dp_;                  // T × T: dP, then dS, of one head
  RowMatrix dx_;                  // max_rows × (T·3C) (0 rows without input gradient)
};

}  // namespace mpitrain::nn
