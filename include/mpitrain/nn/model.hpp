#pragma once
/// @file model.hpp
/// The generic model: a sequence of layers built from a ModelSpec, with one flat parameter buffer, one flat
/// gradient buffer and one flat buffer of buffers (statistics saved but not trained), each laid out by a
/// named registry (parameters.hpp). Activations are rows × features, rows are samples (base/tensor.hpp).

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mpitrain/base/range.hpp"
#include "mpitrain/nn/layer.hpp"
#include "mpitrain/nn/model_spec.hpp"
#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::nn {

/// Told during Model::backward each time a group of gradients is final (for the bucketed allreduce).
class GradientReadyHook {
 public:
  virtual ~GradientReadyHook() = default;
  /// @param ranges one group of Model::ready_order(): ranges of the flat gradient buffer (floats) that
  ///        backward will not touch again in this step.
  virtual void gradients_ready(std::span<const base::Range> ranges) = 0;
};

/// A model with flat buffers. Movable (the layers' views stay valid), not copyable.
class Model {
 public:
  /// Builds the layers of @p spec and zero-filled buffers (call init()); no work memory until reserve().
  /// @throws std::invalid_argument naming the layer index and shapes for an invalid spec, or when the
  ///         model has no layer or no trainable parameter.
  explicit Model(ModelSpec spec);
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  /// Fills every tensor by its registry's InitRule, parameters in registry order and then buffers, from
  /// one SplitMix64 stream seeded with @p seed (the same values on every platform and rank). glorot_uniform
  /// draws (2u - 1)·l per element with u = SplitMix64::uniform_float() and l = float(sqrt(6 / (fan_in +
  /// fan_out))); zeros and ones draw nothing; normal draws Box–Muller pairs from two 53-bit uniforms each.
  /// For an MLP these are the values the MLP has always been initialised with (tests/nn/test_model.cpp).
  void init(std::uint64_t seed);
  /// Sets the gradient buffer to zero: once per step, before backward (which adds).
  void zero_gradients();
  /// Allocates every layer's work memory for batches of up to @p max_rows samples.
  void reserve(std::int64_t max_rows);
  /// Sets the element type of the inputs of every layer's matrix products (default fp32; matmul.hpp).
  /// Parameters, gradients and buffers stay fp32. Resizes the work memory if reserve() came first.
  void set_precision(Precision precision);

  /// The outputs (logits) of a batch.
  /// @param x rows × input_size(). @param context mode, seed, sample indices.
  /// @return rows × output_size(), valid until the next forward.
  /// @throws std::invalid_argument naming both widths when x has the wrong number of columns, or when x
  ///         has more rows than reserve() allowed for.
  ConstMatrixMap forward(ConstMatrixMap x, const Context& context);
  /// ADDS the gradients of the summed loss with respect to every parameter into gradients().
  /// @param grad_output rows × output_size(): d loss / d outputs for the batch of the last forward.
  /// @param hook if given, told each group of ready_order() as it becomes final, in that order.
  /// @throws std::invalid_argument when grad_output's shape differs from the last forward's output.
  void backward(ConstMatrixMap grad_output, GradientReadyHook* hook = nullptr);

  /// d output / d input of the last forward, without parameter gradients: every layer's backward runs with
  /// Layer::set_parameter_gradient(false) (no weight-gradient products; gradients() is left unchanged), and
  /// the first layer returns its dx. For attributions (saliency, integrated gradients): call after a
  /// forward in evaluation mode, with @p grad_output the gradient of the explained scalar per row (e.g. a
  /// one-hot row for one logit). The first call turns on every layer's input gradient for good and sizes
  /// its memory for the rows reserved so far (one allocation; backward then also computes the first
  /// layer's dx, which nobody reads: the parameter gradients are unchanged).
  /// @param grad_output rows × output_size(), rows as in the last forward.
  /// @return rows × input_size(): row i is d (Σ_j grad_output(i, j)·output(i, j)) / d input row i, valid
  ///         until the next backward or input_gradient.
  /// @throws std::invalid_argument when grad_output's shape differs from the last forward's output.
  ConstMatrixMap input_gradient(ConstMatrixMap grad_output);

  /// The order in which backward makes the gradients final: one group per layer with parameters, last
  /// layer first, each group the layer's ranges of the gradient buffer (adjacent tensors merged into one
  /// range). Every gradient element is in exactly one group. The one source of truth for the reducers.
  [[nodiscard]] const std::vector<std::vector<base::Range>>& ready_order() const { return ready_order_; }
  /// Floating-point operations of one sample's forward and backward products (Layer::flops_per_sample
  /// summed over the layers: 2·m·n·k per product).
  [[nodiscard]] std::int64_t flops_per_sample() const;

  [[nodiscard]] std::span<float> parameters() { return params_; }
  [[nodiscard]] std::span<const float> parameters() const { return params_; }
  [[nodiscard]] std::span<float> gradients() { return grads_; }
  [[nodiscard]] std::span<const float> gradients() const { return grads_; }
  [[nodiscard]] std::span<float> buffers() { return buffers_; }
  [[nodiscard]] std::span<const float> buffers() const { return buffers_; }
  /// The trained tensors: layout of parameters() and gradients().
  [[nodiscard]] const ParameterRegistry& registry() const { return registry_; }
  /// The saved but untrained tensors (running statistics): layout of buffers().
  [[nodiscard]] const ParameterRegistry& buffer_registry() const { return buffer_registry_; }
  /// The spec the model was built from.
  [[nodiscard]] const ModelSpec& spec() const { return spec_; }
  /// The layers in forward order.
  [[nodiscard]] const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  /// Shape of one input sample (the spec's input_shape).
  [[nodiscard]] const Shape& input_shape() const { return spec_.input_shape; }
  /// Shape of one output sample (the last layer's).
  [[nodiscard]] const Shape& output_shape() const;
  /// Input features per sample.
  [[nodiscard]] std::int64_t input_size() const;
  /// Output features per sample (logits).
  [[nodiscard]] std::int64_t output_size() const;

 private:
  ModelSpec spec_;
  std::vector<std::unique_ptr<Layer>> layers_;
  ParameterRegistry registry_;
  ParameterRegistry buffer_registry_;
  std::vector<float> params_;   // registry_.total()
  std::vector<float> grads_;    // registry_.total()
  std::vector<float> buffers_;  // buffer_registry_.total()
  std::vector<std::vector<base::Range>> ready_order_;
  std::vector<std::ptrdiff_t> ready_group_;  // per layer: its group in ready_order_, or -1 (no parameters)
  std::int64_t rows_ = 0;                    // rows of the last forward
  std::int64_t reserved_rows_ = 0;           // the largest reserve()
  bool every_input_gradient_ = false;        // every layer computes dx (after the first input_gradient)
};

/// Builds the model @p spec describes. @throws std::invalid_argument as Model::Model.
Model build_model(const ModelSpec& spec);

/// The parameter registry of @p spec's model (names, shapes, offsets, init rules, decay flags) without
/// allocating any buffer or work memory: for readers that check a file against a spec.
/// @throws std::invalid_argument as Model::Model.
ParameterRegistry registry_of(const ModelSpec& spec);

/// The buffer registry of @p spec's model, likewise. @throws std::invalid_argument as Model::Model.
ParameterRegistry buffer_registry_of(const ModelSpec& spec);

}  // namespace mpitrain::nn
