#include "mpitrain/nn/dense.hpp"

#include <stdexcept>

namespace mpitrain::nn {

Dense::Dense(std::string name, std::int64_t inputs, std::int64_t outputs)
    : name_(std::move(name)), inputs_(inputs), outputs_(outputs) {
  if (inputs < 1 || outputs < 1) throw std::invalid_argument("Dense " + name_ + ": sizes must be >= 1");
}

void Dense::register_parameters(ParameterRegistry& registry) {
  kernel_offset_ = registry.add(name_, name_ + "/kernel:0", inputs_, outputs_, true).offset;
  bias_offset_ = registry.add(name_, name_ + "/bias:0", 1, outputs_, false).offset;
}

void Dense::bind(std::span<float> params, std::span<float> grads) {
  kernel_ = params.data() + kernel_offset_;
  bias_ = params.data() + bias_offset_;
  kernel_grad_ = grads.data() + kernel_offset_;
  bias_grad_ = grads.data() + bias_offset_;
}

void Dense::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) y_.resize(max_rows, outputs_);
  if (input_gradient_ && dx_.rows() < max_rows) dx_.resize(max_rows, inputs_);
}

ConstMatrixMap Dense::forward(ConstMatrixMap x) {
  rows_ = x.rows();
  input_ = x.data();
  Eigen::Map<const RowMatrix> w(kernel_, inputs_, outputs_);
  Eigen::Map<const Eigen::RowVectorXf> b(bias_, outputs_);
  MatrixMap y(y_.data(), rows_, outputs_);
  y.noalias() = x * w;
  y.rowwise() += b;
  return {y_.data(), rows_, outputs_};
}

ConstMatrixMap Dense::backward(ConstMatrixMap dy) {
  ConstMatrixMap x(input_, rows_, inputs_);
  Eigen::Map<const RowMatrix> w(kernel_, inputs_, outputs_);
  MatrixMap dw(kernel_grad_, inputs_, outputs_);
  Eigen::Map<Eigen::RowVectorXf> db(bias_grad_, outputs_);
  if (rows_ == 0) {
    dw.setZero();
    db.setZero();
  } else {
    dw.noalias() = x.transpose() * dy;
    // Row by row, not dy.colwise().sum(): Eigen's vectorised reduction peels a head whose length depends
    // on the run-time address alignment, which changed the last bit from run to run and between ranks.
    db = dy.row(0);
    for (std::int64_t i = 1; i < rows_; ++i) db += dy.row(i);
  }
  if (!input_gradient_) return {dx_.data(), 0, inputs_};
  MatrixMap dx(dx_.data(), rows_, inputs_);
  dx.noalias() = dy * w.transpose();
  return {dx_.data(), rows_, inputs_};
}

}  // namespace mpitrain::nn
