#include "mpitrain/nn/model.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>

#include "mpitrain/base/random.hpp"
#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/batch_norm.hpp"
#include "mpitrain/nn/conv2d.hpp"
#include "mpitrain/nn/dense.hpp"
#include "mpitrain/nn/layer_norm.hpp"
#include "mpitrain/nn/causal_self_attention.hpp"
#include "mpitrain/nn/embedding.hpp"
#include "mpitrain/nn/dropout.hpp"
#include "mpitrain/nn/flatten.hpp"
#include "mpitrain/nn/pooling.hpp"
#include "mpitrain/nn/transformer_block.hpp"

namespace mpitrain::nn {

namespace {

// The factory: one overload per LayerSpec alternative.
std::unique_ptr<Layer> make_layer(const DenseSpec& s, std::string name, const Shape& input) {
  return std::make_unique<Dense>(std::move(name), input, s.units);
}
std::unique_ptr<Layer> make_layer(const ActivationSpec& s, std::string name, const Shape& input) {
  return std::make_unique<Activation>(std::move(name), s.kind, input);
}
std::unique_ptr<Layer> make_layer(const DropoutSpec& s, std::string name, const Shape& input) {
  return std::make_unique<Dropout>(std::move(name), s.rate, input);
}
std::unique_ptr<Layer> make_layer(const BatchNormSpec& s, std::string name, const Shape& input) {
  return std::make_unique<BatchNorm>(std::move(name), input, s.momentum, s.epsilon);
}
std::unique_ptr<Layer> make_layer(const LayerNormSpec& s, std::string name, const Shape& input) {
  return std::make_unique<LayerNorm>(std::move(name), input, s.epsilon);
}
std::unique_ptr<Layer> make_layer(const CausalSelfAttentionSpec& s, std::string name, const Shape& input) {
  return std::make_unique<CausalSelfAttention>(std::move(name), input, s.heads);
}
std::unique_ptr<Layer> make_layer(const EmbeddingSpec& s, std::string name, const Shape& input) {
  return std::make_unique<Embedding>(std::move(name), input, s.vocabulary, s.dim);
}
std::unique_ptr<Layer> make_layer(const TiedOutputSpec& s, std::string name, const Shape& input) {
  return std::make_unique<TiedOutput>(std::move(name), input, s.embedding + "/wte:0", s.vocabulary);
}
std::unique_ptr<Layer> make_layer(const TransformerBlockSpec& s, std::string name, const Shape& input) {
  return std::make_unique<TransformerBlock>(std::move(name), input, s.heads, s.epsilon);
}
std::unique_ptr<Layer> make_layer(const Conv2DSpec& s, std::string name, const Shape& input) {
  return std::make_unique<Conv2D>(std::move(name), input, s);
}
std::unique_ptr<Layer> make_layer(const MaxPool2DSpec& s, std::string name, const Shape& input) {
  return std::make_unique<Pool2D>(std::move(name), PoolKind::max, input, s);
}
std::unique_ptr<Layer> make_layer(const AvgPool2DSpec& s, std::string name, const Shape& input) {
  return std::make_unique<Pool2D>(std::move(name), PoolKind::average, input, s);
}
std::unique_ptr<Layer> make_layer(const GlobalAvgPool2DSpec&, std::string name, const Shape& input) {
  return std::make_unique<GlobalAvgPool2D>(std::move(name), input);
}
std::unique_ptr<Layer> make_layer(const FlattenSpec&, std::string name, const Shape& input) {
  return std::make_unique<Flatten>(std::move(name), input);
}

// The prefix of a layer's name: Keras's class-derived name where the spec gives one, else its `type`.
template <class Spec>
constexpr std::string_view keras_name(const Spec&) {
  if constexpr (requires { Spec::keras_name; }) {
    return Spec::keras_name;
  } else {
    return Spec::type;
  }
}

// The layers of a spec with their tensors registered, before any buffer exists.
struct Layers {
  std::vector<std::unique_ptr<Layer>> layers;
  ParameterRegistry parameters;
  ParameterRegistry buffers;
};

Layers build_layers(const ModelSpec& spec) {
  if (spec.input_shape.empty()) throw std::invalid_argument("model spec: input_shape has no dimension");
  try {
    (void)base::element_count(spec.input_shape);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("model spec: input_shape: ") + e.what());
  }
  if (spec.layers.empty()) throw std::invalid_argument("model spec: no layer");
  Layers out;
  std::map<std::string_view, int> seen;  // per Keras name: layers so far, for Keras-style names
  std::set<std::string> names;           // the layers' names so far
  Shape shape = spec.input_shape;
  bool earlier_parameters = false;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    try {
      auto layer = std::visit(
          [&](const auto& s) {
            using Spec = std::decay_t<decltype(s)>;
            const int n = seen[keras_name(s)]++;
            std::string name(keras_name(s));
            if constexpr (requires { Spec::dotted_index; }) {
              name.append(".").append(std::to_string(n));
            } else if (n > 0) {
              name.append("_").append(std::to_string(n));
            }
            if (i < spec.names.size() && !spec.names[i].empty()) name = spec.names[i];
            if (!names.insert(name).second) throw std::invalid_argument("two layers are named '" + name + "'");
            return make_layer(s, std::move(name), shape);
          },
          spec.layers[i]);
      const std::int64_t before = out.parameters.total();
      layer->register_tensors(out.parameters, out.buffers);
      // dx is needed only when some earlier layer has parameters to train.
      layer->set_input_gradient(earlier_parameters);
      earlier_parameters = earlier_parameters || out.parameters.total() > before;
      shape = layer->output_shape();
      out.layers.push_back(std::move(layer));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("model spec: layer " + std::to_string(i) + ": " + e.what());
    }
  }
  if (out.parameters.total() == 0) throw std::invalid_argument("model spec: the model has no trainable parameter");
  return out;
}

}  // namespace

Model::Model(ModelSpec spec) : spec_(std::move(spec)) {
  Layers built = build_layers(spec_);
  layers_ = std::move(built.layers);
  registry_ = std::move(built.parameters);
  buffer_registry_ = std::move(built.buffers);
  params_.assign(static_cast<std::size_t>(registry_.total()), 0.0f);
  grads_.assign(static_cast<std::size_t>(registry_.total()), 0.0f);
  buffers_.assign(static_cast<std::size_t>(buffer_registry_.total()), 0.0f);
  for (auto& layer : layers_) layer->bind(params_, grads_, buffers_);
  // Fusion: a max pooling right after a relu convolution applies relu's gradient mask itself, and the
  // convolution skips its pass over the mask (Pool2D::set_relu_before): the same gradients, one pass less
  // over the largest activation of a CNN.
  for (std::size_t i = 0; i + 1 < layers_.size(); ++i) {
    auto* conv = dynamic_cast<Conv2D*>(layers_[i].get());
    auto* pool = dynamic_cast<Pool2D*>(layers_[i + 1].get());
    if (conv != nullptr && pool != nullptr && conv->activation() == ActivationKind::relu &&
        pool->kind() == PoolKind::max) {
      pool->set_relu_before(conv);
      conv->set_relu_gradient_by_next_layer(true);
    }
  }
  // Backward finishes the layers last to first; a layer's gradients are final once its backward returns.
  ready_group_.assign(layers_.size(), -1);
  for (std::size_t i = layers_.size(); i-- > 0;) {
    std::vector<base::Range> ranges;
    for (const auto& p : registry_.entries()) {
      if (p.layer == layers_[i]->name()) ranges.push_back({p.offset, p.offset + p.size()});
    }
    if (ranges.empty()) continue;
    std::sort(ranges.begin(), ranges.end(), [](const base::Range& a, const base::Range& b) { return a.begin < b.begin; });
    std::vector<base::Range> merged{ranges.front()};
    for (std::size_t r = 1; r < ranges.size(); ++r) {
      if (ranges[r].begin == merged.back().end) {
        merged.back().end = ranges[r].end;
      } else {
        merged.push_back(ranges[r]);
      }
    }
    ready_group_[i] = static_cast<std::ptrdiff_t>(ready_order_.size());
    ready_order_.push_back(std::move(merged));
  }
}

void Model::init(std::uint64_t seed) {
  base::SplitMix64 rng(seed);
  for (const auto& p : registry_.entries()) {
    initialize(std::span<float>(params_).subspan(static_cast<std::size_t>(p.offset), static_cast<std::size_t>(p.size())),
         p.init, rng);
  }
  for (const auto& b : buffer_registry_.entries()) {
    initialize(std::span<float>(buffers_).subspan(static_cast<std::size_t>(b.offset), static_cast<std::size_t>(b.size())),
         b.init, rng);
  }
}

void Model::zero_gradients() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

void Model::set_precision(Precision precision) {
  for (auto& layer : layers_) layer->set_precision(precision);
  if (reserved_rows_ > 0) {
    for (auto& layer : layers_) layer->reserve(reserved_rows_);  // the bf16 copies, sized again
  }
}

void Model::reserve(std::int64_t max_rows) {
  for (auto& layer : layers_) layer->reserve(max_rows);
  reserved_rows_ = std::max(reserved_rows_, max_rows);
}

ConstMatrixMap Model::forward(ConstMatrixMap x, const Context& context) {
  if (x.cols() != input_size()) {
    throw std::invalid_argument("model forward: the input has " + std::to_string(x.cols()) +
                                " features per sample, the model needs " + std::to_string(input_size()) + " " +
                                base::format_shape(input_shape()));
  }
  if (x.rows() > reserved_rows_) {
    throw std::invalid_argument("model forward: a batch of " + std::to_string(x.rows()) + " rows, but only " +
                                std::to_string(reserved_rows_) + " are reserved");
  }
  rows_ = x.rows();
  const float* data = x.data();
  std::int64_t cols = x.cols();
  for (auto& layer : layers_) {
    ConstMatrixMap y = layer->forward(ConstMatrixMap(data, rows_, cols), context);
    data = y.data();
    cols = y.cols();
  }
  return {data, rows_, cols};
}

namespace {
void check_output_gradient(ConstMatrixMap grad_output, std::int64_t rows, std::int64_t outputs, const char* pass) {
  if (grad_output.rows() != rows || grad_output.cols() != outputs) {
    throw std::invalid_argument(std::string("model ") + pass + ": the output gradient is " +
                                std::to_string(grad_output.rows()) + " x " + std::to_string(grad_output.cols()) +
                                ", the last forward gave " + std::to_string(rows) + " x " + std::to_string(outputs));
  }
}
}  // namespace

void Model::backward(ConstMatrixMap grad_output, GradientReadyHook* hook) {
  check_output_gradient(grad_output, rows_, output_size(), "backward");
  const float* data = grad_output.data();
  std::int64_t cols = grad_output.cols();
  for (std::size_t i = layers_.size(); i-- > 0;) {
    ConstMatrixMap dx = layers_[i]->backward(ConstMatrixMap(data, rows_, cols));
    if (hook != nullptr && ready_group_[i] >= 0) {
      hook->gradients_ready(ready_order_[static_cast<std::size_t>(ready_group_[i])]);
    }
    if (!layers_[i]->input_gradient()) break;  // no earlier layer has parameters
    data = dx.data();
    cols = dx.cols();
  }
}

ConstMatrixMap Model::input_gradient(ConstMatrixMap grad_output) {
  check_output_gradient(grad_output, rows_, output_size(), "input gradient");
  if (!every_input_gradient_) {
    for (auto& layer : layers_) layer->set_input_gradient(true);
    if (reserved_rows_ > 0) {
      for (auto& layer : layers_) layer->reserve(reserved_rows_);  // the first layer's dx, sized once
    }
    every_input_gradient_ = true;
  }
  struct ParameterGradientsOff {  // restored even when a layer throws
    std::vector<std::unique_ptr<Layer>>& layers;
    explicit ParameterGradientsOff(std::vector<std::unique_ptr<Layer>>& l) : layers(l) {
      for (auto& layer : layers) layer->set_parameter_gradient(false);
    }
    ~ParameterGradientsOff() {
      for (auto& layer : layers) layer->set_parameter_gradient(true);
    }
    ParameterGradientsOff(const ParameterGradientsOff&) = delete;
    ParameterGradientsOff& operator=(const ParameterGradientsOff&) = delete;
  } off(layers_);
  const float* data = grad_output.data();
  std::int64_t cols = grad_output.cols();
  for (std::size_t i = layers_.size(); i-- > 0;) {
    ConstMatrixMap dx = layers_[i]->backward(ConstMatrixMap(data, rows_, cols));
    data = dx.data();
    cols = dx.cols();
  }
  return {data, rows_, cols};
}

std::int64_t Model::flops_per_sample() const {
  std::int64_t flops = 0;
  for (const auto& layer : layers_) flops += layer->flops_per_sample();
  return flops;
}

const Shape& Model::output_shape() const { return layers_.back()->output_shape(); }

std::int64_t Model::input_size() const { return layers_.front()->inputs(); }

std::int64_t Model::output_size() const { return layers_.back()->outputs(); }

Model build_model(const ModelSpec& spec) { return Model(spec); }

ParameterRegistry registry_of(const ModelSpec& spec) { return build_layers(spec).parameters; }

ParameterRegistry buffer_registry_of(const ModelSpec& spec) { return build_layers(spec).buffers; }

}  // namespace mpitrain::nn
