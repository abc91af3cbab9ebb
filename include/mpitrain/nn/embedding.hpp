#pragma once
/// @file embedding.hpp
/// Token and learned position embeddings of a sequence of token ids (GPT-2's wte and wpe; Radford et al.
/// 2019), and the output layer tied to the token embedding (logits = h · wteᵀ, Press and Wolf, "Using the
/// Output Embedding to Improve Language Models", 2017).

#include <cstdint>
#include <string>
#include <vector>

#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/linear_products.hpp"

namespace mpitrain::nn {

/// From (T) token ids to (T, C): y[t] = wte[x_t] + wpe[t]. The ids arrive as floats holding integers in
/// [0, V) (the data stage's rows; a byte-level model has V = 256). Tensors `NAME/wte:0` (V × C) and
/// `NAME/wpe:0` (T × C), normal(0, 0.02) as GPT-2, with weight decay (2-D). Backward adds dy_t into row x_t of
/// dwte (a token seen twice adds twice) and row t of dwpe; ids have no gradient (dx is zeros when asked for).
class Embedding final : public Layer {
 public:
  /// @param name layer name (`embedding`, ...). @param input_shape (T). @param vocabulary V. @param dim C.
  /// @throws std::invalid_argument naming the layer and the shape for an input that is not (T) or V, C < 1.
  Embedding(std::string name, const Shape& input_shape, std::int64_t vocabulary, std::int64_t dim);
  void register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) override;
  void bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) override;
  void reserve(std::int64_t max_rows) override;
  /// @throws std::invalid_argument naming the layer, the sample's row, the position and the value when an id
  ///         is not an integer in [0, V).
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;

 private:
  std::int64_t tokens_;       // T
  std::int64_t vocabulary_;   // V
  std::int64_t dim_;          // C
  std::int64_t wte_offset_ = 0;
  std::int64_t wpe_offset_ = 0;
  float* wte_ = nullptr;      // V × C
  float* wpe_ = nullptr;      // T × C
  float* wte_grad_ = nullptr; // V × C
  float* wpe_grad_ = nullptr; // T × C
  std::int64_t rows_ = 0;
  std::vector<std::int32_t> ids_;  // max_rows × T: the last forward's ids
  RowMatrix y_;               // max_rows × (T·C)
  RowMatrix dx_;              // max_rows × T, zeros (0 rows without input gradient)
};

/// The output layer tied to an Embedding's token table: from (T, C) to (T, V), logits[t] = h[t] · wteᵀ,
/// with no tensor of its own (GPT-2's lm_head). With H the (rows·T) × C view of the batch (one row per token
/// position) and dY the (rows·T) × V view of the logits' gradient, its backward adds dwte += dYᵀ·H (V × C)
/// into the embedding's gradient (which the embedding's own backward adds to as well) and returns
/// dH = dY·wte. The three products run through LinearProducts (WeightLayout::outputs_by_inputs, W = wte) at
/// the layer's precision(): at bf16, H and wte are rounded once in forward and dY once in backward.
class TiedOutput final : public Layer {
 public:
  /// @param name layer name (`tied_output`). @param input_shape (T, C). @param table the token table's
  /// tensor name (`embedding/wte:0`), registered by an earlier layer.
  /// @throws std::invalid_argument naming the layer and the shape for an input that is not (T, C).
  TiedOutput(std::string name, const Shape& input_shape, std::string table, std::int64_t vocabulary);
  /// Registers nothing: finds @p table in @p parameters. @throws std::invalid_argument naming the layer
  /// and the tensor when it is missing or not V × C.
  void register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) override;
  void bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) override;
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;
  /// 2·T·C·V for the logits and for dwte, and for dH when input_gradient() is on.
  [[nodiscard]] std::int64_t flops_per_sample() const override;

 private:
  std::string table_;
  std::int64_t tokens_;       // T
  std::int64_t dim_;          // C
  std::int64_t vocabulary_;   // V
  std::int64_t table_offset_ = -1;
  const float* wte_ = nullptr;  // V × C
  float* wte_grad_ = nullptr;   // V × C
  const float* input_ = nullptr;  // rows_ × (T·C), the last forward's h
  std::int64_t rows_ = 0;
  RowMatrix y_;               // max_rows × (T·V)
  RowMatrix dx_;              // max_rows × (T·C) (0 rows without input gradient)
  LinearProducts products_;   // rows·T × C → rows·T × V, W = wte
};

}  // namespace mpitrain::nn
