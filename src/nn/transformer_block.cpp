#include "mpitrain/nn/transformer_block.hpp"

#include <stdexcept>

namespace mpitrain::nn {

namespace {
// (T, C) or a clear error naming the block.
Shape checked_sequence(const std::string& name, const Shape& shape) {
  if (shape.size() != 2) {
    throw std::invalid_argument("layer " + name + " (transformer_block): the input must be a sequence (T, C), got " +
                                base::format_shape(shape));
  }
  return shape;
}
}  // namespace

TransformerBlock::TransformerBlock(std::string name, const Shape& input_shape, std::int64_t heads, double epsilon)
    : Layer(name, checked_sequence(name, input_shape), input_shape) {
  const std::int64_t t = input_shape[0], c = input_shape[1];
  ln_1_ = std::make_unique<LayerNorm>(name + ".ln_1", input_shape, epsilon);
  c_attn_ = std::make_unique<Dense>(name + ".attn.c_attn", input_shape, 3 * c);
  attention_ = std::make_unique<CausalSelfAttention>(name + ".attn", Shape{t, 3 * c}, heads);
  attn_proj_ = std::make_unique<Dense>(name + ".attn.c_proj", input_shape, c);
  ln_2_ = std::make_unique<LayerNorm>(name + ".ln_2", input_shape, epsilon);
  c_fc_ = std::make_unique<Dense>(name + ".mlp.c_fc", input_shape, 4 * c);
  gelu_ = std::make_unique<Activation>(name + ".mlp.gelu", ActivationKind::gelu, Shape{t, 4 * c});
  mlp_proj_ = std::make_unique<Dense>(name + ".mlp.c_proj", Shape{t, 4 * c}, c);
  layers_ = {ln_1_.get(), c_attn_.get(), attention_.get(), attn_proj_.get(),
             ln_2_.get(), c_fc_.get(),   gelu_.get(),      mlp_proj_.get()};
}

void TransformerBlock::register_tensors(ParameterRegistry& parameters, ParameterRegistry& buffers) {
  // The sub-layers lay their tensors out from 0 in registries of their own; the block appends them to the
  // model's under its own name, so that bind() can hand each sub-layer the model's buffers from the block's
  // first float on.
  ParameterRegistry own_parameters, own_buffers;
  for (Layer* layer : layers_) layer->register_tensors(own_parameters, own_buffers);
  parameter_offset_ = parameters.total();
  buffer_offset_ = buffers.total();
  for (const ParameterInfo& p : own_parameters.entries()) {
    // GPT-2's initialisation: every kernel normal(0, 0.02) (Dense alone uses Glorot's).
    const InitRule init = p.decay ? InitRule::normal(0.02) : p.init;
    parameters.add(name(), p.name, p.shape, init, p.decay);
  }
  for (const ParameterInfo& b : own_buffers.entries()) buffers.add(name(), b.name, b.shape, b.init, b.decay);
}

void TransformerBlock::bind(std::span<float> parameters, std::span<float> gradients, std::span<float> buffers) {
  const auto p = static_cast<std::size_t>(parameter_offset_);
  const auto b = static_cast<std::size_t>(buffer_offset_);
  for (Layer* layer : layers_) layer->bind(parameters.subspan(p), gradients.subspan(p), buffers.subspan(b));
}

void TransformerBlock::pass_switches() {
  for (Layer* layer : layers_) {
    layer->set_precision(precision());
    layer->set_parameter_gradient(parameter_gradient());
  }
  ln_1_->set_input_gradient(input_gradient());
}

void TransformerBlock::reserve(std::int64_t max_rows) {
  pass_switches();
  for (Layer* layer : layers_) layer->reserve(max_rows);
  if (h_.rows() < max_rows) {
    h_.resize(max_rows, outputs());
    y_.resize(max_rows, outputs());
    dh_.resize(max_rows, outputs());
  }
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

namespace {
// Runs layers [first, last) forward (or backward, last to first) from @p in; the result stays valid as
// long as the last layer's output (or dx) buffer.
ConstMatrixMap forward_through(const std::vector<Layer*>& layers, std::size_t first, std::size_t last, ConstMatrixMap in,
                               const Context& context) {
  const float* data = in.data();
  std::int64_t rows = in.rows(), cols = in.cols();
  for (std::size_t i = first; i < last; ++i) {
    const ConstMatrixMap y = layers[i]->forward(ConstMatrixMap(data, rows, cols), context);
    data = y.data();
    cols = y.cols();
  }
  return {data, rows, cols};
}
ConstMatrixMap backward_through(const std::vector<Layer*>& layers, std::size_t first, std::size_t last, ConstMatrixMap dy) {
  const float* data = dy.data();
  std::int64_t rows = dy.rows(), cols = dy.cols();
  for (std::size_t i = last; i-- > first;) {
    const ConstMatrixMap dx = layers[i]->backward(ConstMatrixMap(data, rows, cols));
    data = dx.data();
    rows = dx.rows();
    cols = dx.cols();
  }
  return {data, rows, cols};
}
}  // namespace

ConstMatrixMap TransformerBlock::forward(ConstMatrixMap x, const Context& context) {
  rows_ = x.rows();
  if (precision() == Precision::bf16) return forward_bf16(x);
  const ConstMatrixMap a = forward_through(layers_, 0, 4, x, context);  // the attention branch
  h_.topRows(rows_).noalias() = x + a;
  const ConstMatrixMap m = forward_through(layers_, 4, layers_.size(), ConstMatrixMap(h_.data(), rows_, outputs()), context);
  y_.topRows(rows_).noalias() = h_.topRows(rows_) + m;
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap TransformerBlock::backward(ConstMatrixMap dy) {
  pass_switches();
  if (precision() == Precision::bf16) return backward_bf16(dy);
  const ConstMatrixMap dm = backward_through(layers_, 4, layers_.size(), dy);  // through the MLP branch
  dh_.topRows(rows_).noalias() = dy + dm;
  const ConstMatrixMap da = backward_through(layers_, 0, 4, ConstMatrixMap(dh_.data(), rows_, outputs()));
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  dx_.topRows(rows_).noalias() = dh_.topRows(rows_) + da;
  return {dx_.data(), rows_, inputs()};
}

namespace {
std::span<const float> all(ConstMatrixMap m) { return {m.data(), static_cast<std::size_t>(m.size())}; }
}  // namespace

ConstMatrixMap TransformerBlock::forward_bf16(ConstMatrixMap x) {
  ln_1_->forward_rounded(x, c_attn_->rounded_input(rows_));
  const ConstMatrixMap qkv = c_attn_->forward_rounded(rows_);
  attention_->forward_rounded(qkv, attn_proj_->rounded_input(rows_));
  h_.topRows(rows_).noalias() = x + attn_proj_->forward_rounded(rows_);
  ln_2_->forward_rounded(ConstMatrixMap(h_.data(), rows_, outputs()), c_fc_->rounded_input(rows_));
  const ConstMatrixMap u = c_fc_->forward_rounded(rows_);  // GELU's input, kept by c_fc until its next forward
  gelu_input_ = u.data();
  gelu_to_bf16(all(u), mlp_proj_->rounded_input(rows_));
  y_.topRows(rows_).noalias() = h_.topRows(rows_) + mlp_proj_->forward_rounded(rows_);
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap TransformerBlock::backward_bf16(ConstMatrixMap dy) {
  const ConstMatrixMap u(gelu_input_, rows_, c_fc_->outputs());
  const ConstMatrixMap dg = mlp_proj_->backward(dy);  // d(gelu(u))
  gelu_gradient_to_bf16(all(u), all(dg), c_fc_->rounded_output_gradient());
  dh_.topRows(rows_).noalias() = dy + ln_2_->backward(c_fc_->backward_rounded());
  attention_->backward_rounded(attn_proj_->backward(ConstMatrixMap(dh_.data(), rows_, outputs())),
                               c_attn_->rounded_output_gradient());
  const ConstMatrixMap da = ln_1_->backward(c_attn_->backward_rounded());
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  dx_.topRows(rows_).noalias() = dh_.topRows(rows_) + da;
  return {dx_.data(), rows_, inputs()};
}

std::int64_t TransformerBlock::flops_per_sample() const {
  std::int64_t flops = 0;
  for (const Layer* layer : layers_) flops += layer->flops_per_sample();
  return flops;
}

}  // namespace mpitrain::nn
