#pragma once
/// @file optimizer.hpp
/// Optimizers act on flat spans of parameters and gradients with the layout of nn::ParameterRegistry,
/// and allocate their state once, at construction.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/config/config.hpp"
#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::optim {

/// A named state buffer of an optimizer (e.g. Adam's `m`), with the parameter buffer's layout.
struct StateBuffer {
  std::string name;          ///< `m`, `v` or `velocity`.
  std::span<float> values;   ///< As many floats as parameters.
};

/// An optimizer over a flat parameter buffer.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// One update. @param params n floats, updated in place. @param grads n floats, the gradient of the
  /// mean loss (already averaged over the global batch). @throws std::invalid_argument for a size mismatch.
  virtual void step(std::span<float> params, std::span<const float> grads) = 0;
  /// `adam`, `adamw` or `sgd`.
  [[nodiscard]] virtual std::string name() const = 0;
  /// The state buffers, for checkpoints.
  [[nodiscard]] virtual std::vector<StateBuffer> state() = 0;
  /// Steps taken so far (Adam's t).
  [[nodiscard]] std::int64_t iterations() const { return iterations_; }
  /// Restores the step counter from a checkpoint.
  void set_iterations(std::int64_t t) { iterations_ = t; }
  /// The rate the next step() uses (the scheduled rate of the step: see schedule.hpp).
  [[nodiscard]] double learning_rate() const { return learning_rate_; }
  /// Sets the rate of the following steps (called before each step with the schedule's rate).
  void set_learning_rate(double lr) { learning_rate_ = lr; }

 protected:
  explicit Optimizer(double lr) : learning_rate_(lr) {}
  std::int64_t iterations_ = 0;
  double learning_rate_;
};

/// Stochastic gradient descent with optional momentum, in Keras's form (Sutskever et al., ICML 2013):
/// velocity = momentum·velocity - lr·g; param += velocity; Nesterov: param += momentum·velocity - lr·g.
/// With momentum 0: param -= lr·g.
class Sgd final : public Optimizer {
 public:
  /// @param size parameter count. @param momentum in [0, 1).
  Sgd(std::int64_t size, double learning_rate, double momentum, bool nesterov);
  void step(std::span<float> params, std::span<const float> grads) override;
  [[nodiscard]] std::string name() const override { return "sgd"; }
  [[nodiscard]] std::vector<StateBuffer> state() override;

 private:
  double momentum_;
  bool nesterov_;
  std::vector<float> velocity_;  // size
};

/// Adam (Kingma and Ba, ICLR 2015, Algorithm 1 with the efficient form of section 2, as in Keras):
/// t += 1; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
/// lr_t = lr·sqrt(1-β2^t)/(1-β1^t); param -= lr_t·m / (sqrt(v) + ε).
class Adam : public Optimizer {
 public:
  /// @param size parameter count.
  Adam(std::int64_t size, double learning_rate, double beta1, double beta2, double epsilon);
  void step(std::span<float> params, std::span<const float> grads) override;
  [[nodiscard]] std::string name() const override { return "adam"; }
  [[nodiscard]] std::vector<StateBuffer> state() override;

 private:
  double beta1_;
  double beta2_;
  double epsilon_;
  std::vector<float> m_;  // size
  std::vector<float> v_;  // size
};

/// AdamW (Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, Algorithm 2), in
/// PyTorch's form: before the Adam update, W ← W · (1 − lr · weight_decay) on the tensors the registry flags
/// for decay (decay_weights in weight_decay.hpp), lr being the step's scheduled rate (not Adam's
/// bias-corrected lr_t); then the Adam update above. With weight_decay 0 it is Adam, bit for bit.
class AdamW final : public Adam {
 public:
  /// @param registry the parameter layout (its total is the size; its decay flags the mask); must outlive
  /// this object. @param weight_decay the decoupled coefficient (>= 0; PyTorch's default is 0.01).
  AdamW(const nn::ParameterRegistry& registry, double learning_rate, double beta1, double beta2, double epsilon,
        double weight_decay);
  void step(std::span<float> params, std::span<const float> grads) override;
  [[nodiscard]] std::string name() const override { return "adamw"; }

 private:
  const nn::ParameterRegistry& registry_;
  double weight_decay_;
};

/// Builds the optimizer optim.name (`adam`, `adamw` or `sgd`) with the other optim.* keys, for the
/// parameters of @p registry (which must outlive the optimizer). The learning rate is optim.learning_rate
/// until set_learning_rate. @throws std::invalid_argument for another name.
std::unique_ptr<Optimizer> make_optimizer(const config::OptimConfig& options, const nn::ParameterRegistry& registry);

/// The L2 coefficient lambda that optim.weight_decay means for optim.name: weight_decay for `adam` and `sgd`
/// (an L2 penalty on the loss, as Keras's kernel_regularizer), 0 for `adamw` (which decays the weights
/// itself, decoupled from the gradient).
[[nodiscard]] double l2_coefficient(const config::OptimConfig& options);

}  // namespace mpitrain::optim
