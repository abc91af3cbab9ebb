#pragma once
/// @file dense.hpp
/// Fully connected layer y = x W + b (Keras `Dense` without activation).

#include <memory>

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// Dense layer. Kernel W is inputs × outputs (row-major, the Keras kernel layout), bias b has outputs
/// entries. Forward: Y = X W + 1 bᵀ. Backward: dW = Xᵀ dY, db = 1ᵀ dY (column sums), dX = dY Wᵀ.
class Dense final : public Layer {
 public:
  /// @param name layer name (`dense`, `dense_1`, ...), prefix of its parameter names.
  /// @throws std::invalid_argument when inputs or outputs < 1.
  Dense(std::string name, std::int64_t inputs, std::int64_t outputs);
  [[nodiscard]] std::string name() const override { return name_; }
  [[nodiscard]] std::int64_t inputs() const override { return inputs_; }
  [[nodiscard]] std::int64_t outputs() const override { return outputs_; }
  void register_parameters(ParameterRegistry& registry) override;
  void bind(std::span<float> params, std::span<float> grads) override;
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;
  /// Whether backward computes dX (default true). nn::Mlp turns it off for its first layer, whose input
  /// is the data: nobody reads that gradient, and dX = dY·Wᵀ is a third of the layer's backward FLOPs
  /// (for 784-256-128-10, 28% of a whole training step's). When off, backward returns an empty
  /// (0 × inputs) map and reserve() allocates no dX buffer.
  void set_input_gradient(bool needed) { input_gradient_ = needed; }

 private:
  std::string name_;
  std::int64_t inputs_;
  std::int64_t outputs_;
  std::int64_t kernel_offset_ = 0;  // within the buffers given to bind
  std::int64_t bias_offset_ = 0;
  float* kernel_ = nullptr;         // inputs × outputs
  float* bias_ = nullptr;           // outputs
  float* kernel_grad_ = nullptr;    // inputs × outputs
  float* bias_grad_ = nullptr;      // outputs
  const float* input_ = nullptr;    // rows_ × inputs, the last forward's x
  std::int64_t rows_ = 0;
  bool input_gradient_ = true;
  RowMatrix y_;                     // max_rows × outputs
  RowMatrix dx_;                    // max_rows × inputs (0 × inputs without input gradient)
};

}  // namespace mpitrain::nn
