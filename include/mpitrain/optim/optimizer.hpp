#pragma once
/// @file optimizer.hpp
/// Optimizers act on flat spans of parameters and gradients with the layout of nn::ParameterRegistry,
/// and allocate their state once, at construction.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

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
  /// `adam` or `sgd`.
  [[nodiscard]] virtual std::string name() const = 0;
  /// The state buffers, for checkpoints.
  [[nodiscard]] virtual std::vector<StateBuffer> state() = 0;
  /// Steps taken so far (Adam's t).
  [[nodiscard]] std::int64_t iterations() const { return iterations_; }
  /// Restores the step counter from a checkpoint.
  void set_iterations(std::int64_t t) { iterations_ = t; }
  [[nodiscard]] double learning_rate() const { return learning_rate_; }
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
class Adam final : public Optimizer {
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

/// Options of make_optimizer (mirrors config::OptimConfig without depending on it).
struct OptimizerOptions {
  std::string name = "adam";
  double learning_rate = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7;
  double momentum = 0.0;
  bool nesterov = false;
};

/// Builds `adam` or `sgd` for @p size parameters. @throws std::invalid_argument for another name.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, std::int64_t size);

}  // namespace mpitrain::optim
