#pragma once
/// @file mlp.hpp
/// A multi-layer perceptron: Dense → activation → ... → Dense (logits). Owns one flat parameter buffer and
/// one flat gradient buffer; its dense layers are named as Keras names them (`dense`, `dense_1`, ...).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/base/range.hpp"
#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::nn {

/// Architecture of an MLP.
struct MlpSpec {
  std::int64_t inputs = 0;         ///< Features per sample (>= 1).
  std::vector<int> hidden;         ///< Hidden widths (each >= 1); may be empty (softmax regression).
  ActivationKind activation = ActivationKind::relu;  ///< Activation after each hidden Dense.
  int classes = 0;                 ///< Logits per sample K (>= 2).
  bool operator==(const MlpSpec&) const = default;
};

/// Called during backward each time a Dense layer's gradients are final (last layer first).
class GradientReadyHook {
 public:
  virtual ~GradientReadyHook() = default;
  /// @param first,count the range of the flat gradient buffer that is now final.
  virtual void gradients_ready(std::int64_t first, std::int64_t count) = 0;
};

/// The registry an MlpSpec lays out (kernel then bias per Dense layer), without building a model.
/// @throws std::invalid_argument for an invalid spec.
ParameterRegistry mlp_registry(const MlpSpec& spec);

/// A multi-layer perceptron with flat parameter and gradient buffers.
class Mlp {
 public:
  /// Builds the layers and zero-filled buffers. @throws std::invalid_argument for an invalid spec.
  explicit Mlp(MlpSpec spec);
  Mlp(const Mlp&) = delete;
  Mlp& operator=(const Mlp&) = delete;

  /// Glorot-uniform kernels, U(-l, l) with l = sqrt(6 / (inputs + outputs)) (Glorot and Bengio,
  /// AISTATS 2010, eq. 16), and zero biases, from @p seed (the same on every platform).
  void init_glorot(std::uint64_t seed);
  /// Allocates work buffers for batches of up to @p max_rows samples.
  void reserve(std::int64_t max_rows);

  /// Logits of a batch. @param x rows × inputs. @return rows × classes, valid until the next forward.
  ConstMatrixMap forward(ConstMatrixMap x);
  /// Gradients of the summed loss with respect to every parameter, written into grads().
  /// @param grad_logits rows × classes, from the loss, for the batch of the last forward.
  /// @param hook if given, told as each Dense layer's gradients become final (last layer first).
  void backward(ConstMatrixMap grad_logits, GradientReadyHook* hook = nullptr);

  /// lambda · Σ ||W||² over the tensors with decay (kernels).
  [[nodiscard]] double l2_penalty(double lambda) const;
  /// grads += 2 · lambda · W over the tensors with decay.
  void add_l2_gradient(double lambda, std::span<float> grads) const;

  [[nodiscard]] std::span<float> parameters() { return params_; }
  [[nodiscard]] std::span<const float> parameters() const { return params_; }
  [[nodiscard]] std::span<float> gradients() { return grads_; }
  [[nodiscard]] const ParameterRegistry& registry() const { return registry_; }
  [[nodiscard]] const MlpSpec& spec() const { return spec_; }
  [[nodiscard]] const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

 private:
  MlpSpec spec_;
  std::vector<std::unique_ptr<Layer>> layers_;
  ParameterRegistry registry_;
  std::vector<float> params_;  // registry_.total()
  std::vector<float> grads_;   // registry_.total()
  std::vector<base::Range> grad_ranges_;  // per layer: its range of the gradient buffer (empty: none)
};

}  // namespace mpitrain::nn
