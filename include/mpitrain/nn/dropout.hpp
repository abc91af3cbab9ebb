#pragma once
/// @file dropout.hpp
/// Inverted dropout (Srivastava et al., "Dropout: a simple way to prevent neural networks from overfitting",
/// JMLR 2014; Keras `Dropout`): in training each element is dropped with probability `rate` and the kept
/// ones are scaled by 1 / (1 - rate), so that evaluation is the identity.

#include <cstdint>
#include <string>

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// Dropout on any per-sample shape (output shape = input shape), no tensors.
///
/// The mask is a pure function, drawn from no per-rank stream and holding no state: element e (0-based,
/// row-major within the sample) of the sample whose global index is i is dropped in the training forward
/// of global step s when the e-th value u of SplitMix64(base::keyed_seed({seed, s, i, layer key})) drawn by
/// uniform_float() (24 bits) is below rate; the layer key is keyed_seed of the bytes of the layer's name.
/// A sample is thus dropped alike on whichever rank holds it, and a resumed run draws the same masks.
/// Training forward: Y = X ∘ M with M = 0 (dropped) or 1 / (1 - rate) (kept), computed in float.
/// Backward: dX = dY ∘ M of the last forward. Evaluation: Y = X, dX = dY. Rate 0 is the identity.
class Dropout final : public Layer {
 public:
  /// @param name layer name (`dropout`, `dropout_1`, ...). @param rate the probability of dropping, in
  /// [0, 1). @param shape input and output shape.
  /// @throws std::invalid_argument naming the layer for a rate outside [0, 1) or a dimension below 1.
  Dropout(std::string name, double rate, const Shape& shape);
  /// The probability of dropping an element.
  [[nodiscard]] double rate() const { return rate_; }
  void reserve(std::int64_t max_rows) override;
  /// @throws std::invalid_argument naming the layer when a training pass does not give one global sample
  ///         index per row (Context::sample_indices).
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;

 private:
  double rate_;
  std::uint64_t key_;      // keyed_seed of the name's bytes
  bool masked_ = false;    // the last forward applied a mask (training with rate > 0)
  std::int64_t rows_ = 0;  // rows of the last forward
  RowMatrix mask_;         // max_rows × features: 0 or 1 / (1 - rate)
  RowMatrix y_;            // max_rows × features
  RowMatrix dx_;           // max_rows × features (0 × features without input gradient)
};

}  // namespace mpitrain::nn
