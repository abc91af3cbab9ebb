#include "mpitrain/nn/mlp.hpp"

#include <cmath>
#include <stdexcept>

#include "mpitrain/base/random.hpp"
#include "mpitrain/nn/dense.hpp"

namespace mpitrain::nn {

namespace {

void check_spec(const MlpSpec& spec) {
  if (spec.inputs < 1) throw std::invalid_argument("MLP: inputs must be >= 1");
  if (spec.classes < 2) throw std::invalid_argument("MLP: classes must be >= 2");
  for (int h : spec.hidden) {
    if (h < 1) throw std::invalid_argument("MLP: hidden widths must be >= 1");
  }
}

std::string dense_name(std::size_t index) {
  return index == 0 ? std::string("dense") : "dense_" + std::to_string(index);
}

// The layers of a spec, in order; Dense layers named as Keras names them.
std::vector<std::unique_ptr<Layer>> build_layers(const MlpSpec& spec) {
  check_spec(spec);
  std::vector<std::unique_ptr<Layer>> layers;
  std::int64_t width = spec.inputs;
  std::size_t dense_index = 0;
  for (int h : spec.hidden) {
    layers.push_back(std::make_unique<Dense>(dense_name(dense_index++), width, h));
    layers.push_back(std::make_unique<Activation>(spec.activation, h));
    width = h;
  }
  layers.push_back(std::make_unique<Dense>(dense_name(dense_index), width, spec.classes));
  // The first layer's input is the data: its gradient is never read.
  static_cast<Dense&>(*layers.front()).set_input_gradient(false);
  return layers;
}

}  // namespace

ParameterRegistry mlp_registry(const MlpSpec& spec) {
  ParameterRegistry registry;
  for (auto& layer : build_layers(spec)) layer->register_parameters(registry);
  return registry;
}

Mlp::Mlp(MlpSpec spec) : spec_(std::move(spec)), layers_(build_layers(spec_)) {
  for (auto& layer : layers_) layer->register_parameters(registry_);
  params_.assign(static_cast<std::size_t>(registry_.total()), 0.0f);
  grads_.assign(static_cast<std::size_t>(registry_.total()), 0.0f);
  for (auto& layer : layers_) layer->bind(params_, grads_);
  // Each Dense layer's kernel and bias are adjacent in the registry: one range per layer.
  grad_ranges_.resize(layers_.size());
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    for (const auto& p : registry_.entries()) {
      if (p.layer != layers_[i]->name()) continue;
      if (grad_ranges_[i].size() == 0) grad_ranges_[i].begin = p.offset;
      grad_ranges_[i].end = p.offset + p.size();
    }
  }
}

void Mlp::init_glorot(std::uint64_t seed) {
  base::SplitMix64 rng(seed);
  for (const auto& p : registry_.entries()) {
    float* w = params_.data() + p.offset;
    if (!p.decay) {  // biases
      std::fill(w, w + p.size(), 0.0f);
      continue;
    }
    const float limit = static_cast<float>(std::sqrt(6.0 / static_cast<double>(p.rows + p.cols)));
    for (std::int64_t i = 0; i < p.size(); ++i) w[i] = (2.0f * rng.uniform_float() - 1.0f) * limit;
  }
}

void Mlp::reserve(std::int64_t max_rows) {
  for (auto& layer : layers_) layer->reserve(max_rows);
}

ConstMatrixMap Mlp::forward(ConstMatrixMap x) {
  if (x.cols() != spec_.inputs) {
    throw std::invalid_argument("MLP forward: input has " + std::to_string(x.cols()) +
                                " features, the model needs " + std::to_string(spec_.inputs));
  }
  const float* data = x.data();
  std::int64_t cols = x.cols();
  for (auto& layer : layers_) {
    ConstMatrixMap y = layer->forward(ConstMatrixMap(data, x.rows(), cols));
    data = y.data();
    cols = y.cols();
  }
  return {data, x.rows(), cols};
}

void Mlp::backward(ConstMatrixMap grad_logits, GradientReadyHook* hook) {
  const float* data = grad_logits.data();
  std::int64_t cols = grad_logits.cols();
  for (std::size_t i = layers_.size(); i-- > 0;) {
    ConstMatrixMap dx = layers_[i]->backward(ConstMatrixMap(data, grad_logits.rows(), cols));
    data = dx.data();
    cols = dx.cols();
    if (hook != nullptr && grad_ranges_[i].size() > 0) {
      hook->gradients_ready(grad_ranges_[i].begin, grad_ranges_[i].size());
    }
  }
}

double Mlp::l2_penalty(double lambda) const {
  if (lambda == 0.0) return 0.0;
  double sum = 0.0;
  for (const auto& p : registry_.entries()) {
    if (!p.decay) continue;
    // A plain loop in double: the same sum at any address alignment (see Dense::backward).
    const float* w = params_.data() + p.offset;
    for (std::int64_t i = 0; i < p.size(); ++i) sum += static_cast<double>(w[i]) * w[i];
  }
  return lambda * sum;
}

void Mlp::add_l2_gradient(double lambda, std::span<float> grads) const {
  if (lambda == 0.0) return;
  const float scale = static_cast<float>(2.0 * lambda);
  for (const auto& p : registry_.entries()) {
    if (!p.decay) continue;
    Eigen::Map<const Eigen::VectorXf> w(params_.data() + p.offset, p.size());
    Eigen::Map<Eigen::VectorXf> g(grads.data() + p.offset, p.size());
    g += scale * w;
  }
}

}  // namespace mpitrain::nn
