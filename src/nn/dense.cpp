#include "mpitrain/nn/dense.hpp"

#include <stdexcept>
#include <type_traits>

#include "mpitrain/base/float16.hpp"

namespace mpitrain::nn {

namespace {
// The output shape (the input's with its last axis replaced by units), after checking the arguments: the
// messages name the layer and the shape.
Shape dense_output(const std::string& name, const Shape& input_shape, std::int64_t units) {
  if (input_shape.empty()) {
    throw std::invalid_argument("layer " + name + " (dense): input shape " + base::format_shape(input_shape) +
                                " has no axis");
  }
  if (units < 1) {
    throw std::invalid_argument("layer " + name + " (dense): units must be >= 1, got " + std::to_string(units));
  }
  Shape out = input_shape;
  out.back() = units;
  return out;
}
}  // namespace

Dense::Dense(std::string name, const Shape& input_shape, std::int64_t units)
    : Layer(name, input_shape, dense_output(name, input_shape, units)),
      features_(input_shape.back()),
      units_(units),
      positions_(inputs() / features_) {}

void Dense::register_tensors(ParameterRegistry& parameters, ParameterRegistry&) {
  kernel_offset_ = parameters.add(name(), name() + "/kernel:0", {features_, units_},
                                  InitRule::glorot_uniform(features_, units_), true).offset;
  bias_offset_ = parameters.add(name(), name() + "/bias:0", {units_}, InitRule::zeros(), false).offset;
}

void Dense::bind(std::span<float> parameters, std::span<float> gradients, std::span<float>) {
  kernel_ = parameters.data() + kernel_offset_;
  bias_ = parameters.data() + bias_offset_;
  kernel_grad_ = gradients.data() + kernel_offset_;
  bias_grad_ = gradients.data() + bias_offset_;
}

void Dense::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs());
  if (input_gradient() && dx_.rows() < max_rows) dx_.resize(max_rows, inputs());
  products_.reserve(max_rows * positions_, features_, units_, precision());
}

ConstMatrixMap Dense::forward(ConstMatrixMap x, const Context&) {
  if (precision() == Precision::bf16) {  // the bias added by the product (forward_rounded)
    base::round_to_bf16({x.data(), static_cast<std::size_t>(x.rows() * inputs())}, rounded_input(x.rows()));
    return forward_rounded(x.rows());
  }
  rows_ = x.rows();
  input_ = x.data();
  Eigen::Map<const Eigen::RowVectorXf> b(bias_, units_);
  MatrixMap y(y_.data(), rows_ * positions_, units_);  // one row per position of every sample
  products_.forward(ConstMatrixMap(x.data(), rows_ * positions_, features_), kernel_, y);
  y.rowwise() += b;
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap Dense::backward(ConstMatrixMap dy) {
  const std::int64_t m = rows_ * positions_;
  ConstMatrixMap x(input_, m, features_);
  ConstMatrixMap g(dy.data(), m, units_);
  products_.backward(x, g, kernel_, parameter_gradient() ? kernel_grad_ : nullptr,
                     input_gradient() ? dx_.data() : nullptr);
  if (parameter_gradient()) add_bias_gradient(dy.data());
  return {dx_.data(), input_gradient() ? rows_ : 0, inputs()};
}

template <class T>
void Dense::add_bias_gradient(const T* dy) {
  // Row by row, not dy.colwise().sum(): Eigen's vectorised reduction peels a head whose length depends
  // on the run-time address alignment, which changed the last bit from run to run and between ranks.
  Eigen::Map<Eigen::RowVectorXf> db(bias_grad_, units_);
  const std::int64_t m = rows_ * positions_;
  for (std::int64_t i = 0; i < m; ++i) {
    if constexpr (std::is_same_v<T, float>) {
      db += Eigen::Map<const Eigen::RowVectorXf>(dy + i * units_, units_);
    } else {
      const T* row = dy + i * units_;
      for (std::int64_t j = 0; j < units_; ++j) db[j] += base::bf16_to_float(row[j]);
    }
  }
}

std::span<std::uint16_t> Dense::rounded_input(std::int64_t rows) {
  return products_.rounded_input(rows * positions_);
}

ConstMatrixMap Dense::forward_rounded(std::int64_t rows) {
  rows_ = rows;
  input_ = nullptr;  // x exists only rounded, in products_
  products_.forward_rounded(rows_ * positions_, kernel_, MatrixMap(y_.data(), rows_ * positions_, units_), bias_);
  return {y_.data(), rows_, outputs()};
}

std::span<std::uint16_t> Dense::rounded_output_gradient() { return products_.rounded_output_gradient(); }

ConstMatrixMap Dense::backward_rounded() {
  products_.backward_rounded(parameter_gradient() ? kernel_grad_ : nullptr, input_gradient() ? dx_.data() : nullptr);
  if (parameter_gradient()) add_bias_gradient(products_.rounded_output_gradient().data());
  return {dx_.data(), input_gradient() ? rows_ : 0, inputs()};
}

std::int64_t Dense::flops_per_sample() const {
  const std::int64_t product = 2 * positions_ * features_ * units_;
  return product * (input_gradient() ? 3 : 2);
}

}  // namespace mpitrain::nn
