#pragma once
/// @file layer.hpp
/// The layer interface and the context of a forward pass. Activations are row-major rows × features
/// (base/tensor.hpp): rows are samples, features the product of the per-sample shape, channels last.

#include <cstdint>
#include <span>
#include <string>

#include <Eigen/Core>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/nn/batch_statistics.hpp"
#include "mpitrain/nn/matmul.hpp"
#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::nn {

using base::ConstMatrixMap;
using base::MatrixMap;
using base::RowMatrix;
using base::Shape;

/// Whether a forward pass trains (dropout active, batch statistics) or evaluates (deterministic).
enum class Mode { training, evaluation };

/// What a forward pass knows besides its input. Anything random in a layer (a dropout mask) is drawn from
/// (seed, step, the sample's global index, the layer), never from a per-rank stream, so that a sample gets
/// the same mask at any world size.
struct Context {
  Mode mode = Mode::evaluation;  ///< Training or evaluation.
  std::uint64_t seed = 0;        ///< The run's seed for randomness inside layers.
  std::int64_t step = 0;         ///< The global step (optimizer steps done), so that masks differ by step.
  /// The global index of each row's sample in the data set (one entry per row of the batch, from the
  /// sampler's slice), or empty when the rows have none (a layer that draws randomness then throws).
  std::span<const std::int64_t> sample_indices;
  /// Sums a layer's batch statistics over every replica of the step (the global batch), or null: this
  /// batch alone (one rank, unit tests). Must outlive the backward pass that follows the forward.
  const BatchStatistics* statistics = nullptr;

  /// A training pass over rows whose global sample indices are @p indices, with batch statistics summed
  /// through @p statistics (null: over these rows alone).
  static Context training(std::uint64_t seed, std::int64_t step, std::span<const std::int64_t> indices,
                          const BatchStatistics* statistics = nullptr) {
    return {Mode::training, seed, step, indices, statistics};
  }
  /// An evaluation pass (deterministic: no randomness, running statistics).
  static Context evaluation() { return {}; }
};

/// A differentiable layer from a per-sample input shape to a per-sample output shape.
///
/// Contract: register_tensors, then bind, then reserve before the first forward. backward(dy) needs the
/// forward() of the same batch just before it and may read the input that forward saw (the caller keeps it
/// alive). backward ADDS the gradients of this layer's parameters, summed over the rows of the batch, into
/// the gradient buffer given to bind(): the model zeroes that buffer once per step, so that two backward
/// calls (micro-batches, a tied weight used twice) accumulate. Steady-state forward and backward allocate
/// no memory.
class Layer {
 public:
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  /// Name, unique in the model, e.g. `dense_1` or `activation`; prefix of its tensors' names.
  [[nodiscard]] const std::string& name() const { return name_; }
  /// Shape of one input sample.
  [[nodiscard]] const Shape& input_shape() const { return input_shape_; }
  /// Shape of one output sample.
  [[nodiscard]] const Shape& output_shape() const { return output_shape_; }
  /// Input features per sample: the product of input_shape().
  [[nodiscard]] std::int64_t inputs() const { return inputs_; }
  /// Output features per sample: the product of output_shape().
  [[nodiscard]] std::int64_t outputs() const { return outputs_; }

  /// Adds this layer's trained tensors to @p parameters and its saved-but-untrained tensors to @p buffers
  /// (default: none of either).
  virtual void register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers);
  /// Points the layer at its tensors in the model's flat buffers, laid out by register_tensors
  /// (@p parameters and @p gradients by the parameter registry, @p buffers by the buffer registry).
  virtual void bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers);
  /// Allocates work memory for batches of up to @p max_rows samples.
  virtual void reserve(std::int64_t max_rows) = 0;
  /// y = f(x). @param x rows × inputs(). @return rows × outputs(), valid until the next forward.
  virtual ConstMatrixMap forward(ConstMatrixMap x, const Context& context) = 0;
  /// Adds the parameter gradients and returns dx. @param dy rows × outputs() (rows as in the last forward).
  /// @return dx, rows × inputs(), valid until the next backward; 0 × inputs() when input_gradient() is off.
  virtual ConstMatrixMap backward(ConstMatrixMap dy) = 0;
  /// Floating-point operations of the products of one sample's forward and backward pass: 2·m·n·k per
  /// product of an m × k and a k × n matrix, with m = 1 sample, counting the input gradient only when
  /// input_gradient() is on. Element-wise work is not counted (0 for an activation).
  [[nodiscard]] virtual std::int64_t flops_per_sample() const { return 0; }

  /// Whether backward computes dx (default true). The model turns it off where no earlier layer has
  /// parameters (the first Dense layer's input is the data: nobody reads that gradient, and dX = dY·Wᵀ is
  /// a third of the layer's backward FLOPs). Call before reserve().
  void set_input_gradient(bool needed) { input_gradient_ = needed; }
  /// See set_input_gradient.
  [[nodiscard]] bool input_gradient() const { return input_gradient_; }
  /// Whether backward adds the parameter gradients (default true). Model::input_gradient turns it off for
  /// one backward pass: attributions need d output / d input only, and the weight-gradient products
  /// (dW += Xᵀ·dY, a convolution's backward-weights, batch norm's dγ and dβ) are skipped.
  void set_parameter_gradient(bool needed) { parameter_gradient_ = needed; }
  /// See set_parameter_gradient.
  [[nodiscard]] bool parameter_gradient() const { return parameter_gradient_; }
  /// The element type of the inputs of this layer's matrix products (default fp32; layers without products
  /// ignore it). Call before reserve().
  void set_precision(Precision precision) { precision_ = precision; }
  /// See set_precision.
  [[nodiscard]] Precision precision() const { return precision_; }

 protected:
  /// @throws std::invalid_argument naming the layer for an empty name or a shape with a dimension below 1.
  Layer(std::string name, Shape input_shape, Shape output_shape);

 private:
  std::string name_;
  Shape input_shape_;
  Shape output_shape_;
  std::int64_t inputs_;
  std::int64_t outputs_;
  bool input_gradient_ = true;
  bool parameter_gradient_ = true;
  Precision precision_ = Precision::fp32;
};

}  // namespace mpitrain::nn
