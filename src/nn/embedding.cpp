#include "mpitrain/nn/embedding.hpp"

#include <cmath>
#include <stdexcept>

namespace mpitrain::nn {

namespace {
Shape embedding_output(const std::string& name, const Shape& input, std::int64_t vocabulary, std::int64_t dim) {
  const std::string layer = "layer " + name + " (embedding): ";
  if (input.size() != 1) {
    throw std::invalid_argument(layer + "input shape " + base::format_shape(input) + " is not (tokens)");
  }
  if (vocabulary < 1 || dim < 1) {
    throw std::invalid_argument(layer + "vocabulary and dim must be >= 1, got " + std::to_string(vocabulary) + " and " +
                                std::to_string(dim));
  }
  return {input[0], dim};
}

Shape tied_output(const std::string& name, const Shape& input, std::int64_t vocabulary) {
  if (input.size() != 2) {
    throw std::invalid_argument("layer " + name + " (tied_output): input shape " + base::format_shape(input) +
                                " is not (tokens, channels)");
  }
  return {input[0], vocabulary};
}
}  // namespace

Embedding::Embedding(std::string name, const Shape& input_shape, std::int64_t vocabulary, std::int64_t dim)
    : Layer(name, input_shape, embedding_output(name, input_shape, vocabulary, dim)),
      tokens_(input_shape[0]),
      vocabulary_(vocabulary),
      dim_(dim) {}

void Embedding::register_tensors(ParameterRegistry& parameters, ParameterRegistry&) {
  wte_offset_ = parameters.add(name(), name() + "/wte:0", {vocabulary_, dim_}, InitRule::normal(0.02), true).offset;
  wpe_offset_ = parameters.add(name(), name() + "/wpe:0", {tokens_, dim_}, InitRule::normal(0.02), true).offset;
}

void Embedding::bind(std::span<float> parameters, std::span<float> gradients, std::span<float>) {
  wte_ = parameters.data() + wte_offset_;
  wpe_ = parameters.data() + wpe_offset_;
  wte_grad_ = gradients.data() + wte_offset_;
  wpe_grad_ = gradients.data() + wpe_offset_;
}

void Embedding::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  if (ids_.size() < static_cast<std::size_t>(max_rows * tokens_)) ids_.resize(static_cast<std::size_t>(max_rows * tokens_));
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
}

ConstMatrixMap Embedding::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  for (std::int64_t n = 0; n < rows_; ++n) {
    for (std::int64_t t = 0; t < tokens_; ++t) {
      const float value = x(n, t);
      if (!(value >= 0.0f && value < static_cast<float>(vocabulary_)) || value != std::floor(value)) {
        throw std::invalid_argument("layer " + name() + " (embedding): row " + std::to_string(n) + ", position " +
                                    std::to_string(t) + ": token id " + std::to_string(value) +
                                    " is not an integer in [0, " + std::to_string(vocabulary_) + ")");
      }
      const auto id = static_cast<std::int32_t>(value);
      ids_[static_cast<std::size_t>(n * tokens_ + t)] = id;
      float* out = y_.data() + n * outputs() + t * dim_;
      const float* token = wte_ + id * dim_;
      const float* position = wpe_ + t * dim_;
      for (std::int64_t c = 0; c < dim_; ++c) out[c] = token[c] + position[c];
    }
  }
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap Embedding::backward(ConstMatrixMap dy) {
  for (std::int64_t n = 0; parameter_gradient() && n < rows_; ++n) {
    for (std::int64_t t = 0; t < tokens_; ++t) {
      const float* g = dy.data() + n * outputs() + t * dim_;
      float* token = wte_grad_ + ids_[static_cast<std::size_t>(n * tokens_ + t)] * dim_;
      float* position = wpe_grad_ + t * dim_;
      for (std::int64_t c = 0; c < dim_; ++c) {
        token[c] += g[c];
        position[c] += g[c];
      }
    }
  }
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  dx_.topRows(rows_).setZero();
  return {dx_.data(), rows_, inputs()};
}

TiedOutput::TiedOutput(std::string name, const Shape& input_shape, std::string table, std::int64_t vocabulary)
    : Layer(name, input_shape, tied_output(name, input_shape, vocabulary)),
      table_(std::move(table)),
      tokens_(input_shape[0]),
      dim_(input_shape[1]),
      vocabulary_(vocabulary),
      products_(WeightLayout::outputs_by_inputs) {}

void TiedOutput::register_tensors(ParameterRegistry& parameters, ParameterRegistry&) {
  const auto entry = parameters.find(table_);
  if (!entry) {
    throw std::invalid_argument("layer " + name() + " (tied_output): no tensor " + table_ +
                                " in an earlier layer to tie the output to");
  }
  if (entry->shape != std::vector<std::int64_t>{vocabulary_, dim_}) {
    throw std::invalid_argument("layer " + name() + " (tied_output): tensor " + table_ + " has shape " +
                                base::format_shape(entry->shape) + ", the output needs (" + std::to_string(vocabulary_) +
                                ", " + std::to_string(dim_) + ")");
  }
  table_offset_ = entry->offset;
}

void TiedOutput::bind(std::span<float> parameters, std::span<float> gradients, std::span<float>) {
  wte_ = parameters.data() + table_offset_;
  wte_grad_ = gradients.data() + table_offset_;
}

void TiedOutput::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
  products_.reserve(max_rows * tokens_, dim_, vocabulary_, precision());
}

ConstMatrixMap TiedOutput::forward(ConstMatrixMap x, const Context&) {
  rows_ = x.rows();
  input_ = x.data();
  // One row per token position of every sample: (rows·T) × C times wteᵀ (C × V).
  products_.forward(ConstMatrixMap(x.data(), rows_ * tokens_, dim_), wte_,
                    MatrixMap(y_.data(), rows_ * tokens_, vocabulary_));
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap TiedOutput::backward(ConstMatrixMap dy) {
  const std::int64_t m = rows_ * tokens_;
  products_.backward(ConstMatrixMap(input_, m, dim_), ConstMatrixMap(dy.data(), m, vocabulary_), wte_,
                     parameter_gradient() ? wte_grad_ : nullptr, input_gradient() ? dx_.data() : nullptr);
  return {dx_.data(), input_gradient() ? rows_ : 0, inputs()};
}

std::int64_t TiedOutput::flops_per_sample() const {
  const std::int64_t product = 2 * tokens_ * dim_ * vocabulary_;
  return product * (input_gradient() ? 3 : 2);
}

}  // namespace mpitrain::nn
