#pragma once
/// @file activation.hpp
/// Element-wise activations as parameter-free layers.

#include "mpitrain/nn/layer.hpp"

namespace mpitrain::nn {

/// Which element-wise function.
enum class ActivationKind { relu, tanh, sigmoid };

/// Parses `relu`, `tanh` or `sigmoid`. @throws std::invalid_argument for another name.
ActivationKind parse_activation(const std::string& name);
/// The name of @p kind.
std::string to_string(ActivationKind kind);

/// y = f(x) element-wise, with f' from the output: relu' = [y > 0], tanh' = 1 - y², sigmoid' = y(1 - y).
class Activation final : public Layer {
 public:
  /// @param features width of input and output (>= 1).
  Activation(ActivationKind kind, std::int64_t features);
  [[nodiscard]] std::string name() const override { return to_string(kind_); }
  [[nodiscard]] std::int64_t inputs() const override { return features_; }
  [[nodiscard]] std::int64_t outputs() const override { return features_; }
  void register_parameters(ParameterRegistry&) override {}
  void bind(std::span<float>, std::span<float>) override {}
  void reserve(std::int64_t max_rows) override;
  ConstMatrixMap forward(ConstMatrixMap x) override;
  ConstMatrixMap backward(ConstMatrixMap dy) override;

 private:
  ActivationKind kind_;
  std::int64_t features_;
  std::int64_t rows_ = 0;
  RowMatrix y_;   // max_rows × features
  RowMatrix dx_;  // max_rows × features
};

}  // namespace mpitrain::nn
