// nn::Model::input_gradient (for attributions): d output / d input of an MLP and a small CNN covering every
// layer type (dense, activations, conv2d, max and average pooling, global average pooling, flatten,
// batch_norm with running statistics, dropout) against central finite differences of the model's own
// forward pass; it adds no parameter gradient, and a training backward after it gives the parameter
// gradients it gave before, bit for bit.
#include <gtest/gtest.h>

#include <vector>

#include "common/gradient_check.hpp"
#include "mpitrain/nn/model.hpp"

namespace mpitrain::nn {
namespace {

using base::ConstMatrixMap;
using base::RowMatrix;

ModelSpec mlp() {
  return parse_model_spec(R"({"input_shape": [6], "layers": [
      {"type": "dense", "units": 8}, {"type": "activation", "activation": "tanh"}, {"type": "batch_norm"},
      {"type": "dropout", "rate": 0.3}, {"type": "dense", "units": 5}, {"type": "activation", "activation": "sigmoid"},
      {"type": "dense", "units": 3}]})");
}

ModelSpec cnn() {
  return parse_model_spec(R"({"input_shape": [8, 8, 2], "layers": [
      {"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "tanh"},
      {"type": "batch_norm"}, {"type": "max_pool2d", "pool_size": 2},
      {"type": "conv2d", "filters": 4, "kernel_size": 2},
      {"type": "avg_pool2d", "pool_size": 1}, {"type": "dropout", "rate": 0.5}, {"type": "flatten"},
      {"type": "dense", "units": 3}]})");
}

// A relu convolution followed by a max pooling: the pair the model fuses (the pool applies relu's mask).
ModelSpec cnn_fused() {
  return parse_model_spec(R"({"input_shape": [6, 6, 1], "layers": [
      {"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": "same", "activation": "relu"},
      {"type": "max_pool2d", "pool_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 3}]})");
}

ModelSpec cnn_global_pool() {
  return parse_model_spec(R"({"input_shape": [5, 5, 1], "layers": [
      {"type": "conv2d", "filters": 3, "kernel_size": 3, "activation": "tanh"}, {"type": "global_avg_pool2d"},
      {"type": "dense", "units": 2}]})");
}

// A model with seeded parameters and non-trivial running statistics (variances in [0.5, 1.5)).
Model prepared(const ModelSpec& spec, std::int64_t rows) {
  Model model(spec);
  model.init(5);
  const RowMatrix noise = test::random_matrix(1, std::max<std::int64_t>(model.buffers().size(), 1), 9, 0.5f);
  for (std::size_t i = 0; i < model.buffers().size(); ++i) model.buffers()[i] = 1.0f + noise.data()[i];
  model.reserve(rows);
  return model;
}

void check_input_gradient(const ModelSpec& spec, double eps, double tol) {
  const std::int64_t rows = 3;
  Model model = prepared(spec, rows);
  RowMatrix x = test::random_matrix(rows, model.input_size(), 21);
  const RowMatrix r = test::random_matrix(rows, model.output_size(), 22);
  (void)model.forward(ConstMatrixMap(x.data(), rows, x.cols()), Context::evaluation());
  const ConstMatrixMap dx = model.input_gradient(ConstMatrixMap(r.data(), rows, r.cols()));
  ASSERT_EQ(dx.rows(), rows);
  ASSERT_EQ(dx.cols(), model.input_size());
  const std::vector<float> analytic(dx.data(), dx.data() + dx.size());
  for (const float g : model.gradients()) ASSERT_EQ(g, 0.0f) << "input_gradient added a parameter gradient";
  const auto objective = [&] {
    const ConstMatrixMap y = model.forward(ConstMatrixMap(x.data(), rows, x.cols()), Context::evaluation());
    return y.cast<double>().cwiseProduct(r.cast<double>()).sum();
  };
  test::expect_gradient(std::span<float>(x.data(), static_cast<std::size_t>(x.size())), analytic, objective, eps, tol);
}

TEST(InputGradient, MlpMatchesFiniteDifferences) { check_input_gradient(mlp(), 1e-2, 2e-3); }

TEST(InputGradient, CnnMatchesFiniteDifferences) { check_input_gradient(cnn(), 1e-3, 5e-3); }

TEST(InputGradient, FusedReluConvolutionAndMaxPoolingMatchFiniteDifferences) {
  check_input_gradient(cnn_fused(), 1e-3, 5e-3);
}

// The Transformer's layers on a (T, C) sequence: layer norm, dense on the last axis, causal attention, gelu.
TEST(InputGradient, SequenceLayersMatchFiniteDifferences) {
  check_input_gradient(parse_model_spec(R"({"input_shape": [4, 6], "layers": [
      {"type": "layer_norm"}, {"type": "dense", "units": 18}, {"type": "causal_self_attention", "heads": 2},
      {"type": "dense", "units": 6}, {"type": "activation", "activation": "gelu"}, {"type": "dense", "units": 3}]})"),
                       1e-3, 5e-3);
}

TEST(InputGradient, GlobalPoolingCnnMatchesFiniteDifferences) { check_input_gradient(cnn_global_pool(), 1e-2, 2e-3); }

// Training's numbers do not change: the parameter gradients of a training step are the same, bit for bit,
// whether or not input_gradient ran before it (it turns every layer's dx on for good).
TEST(InputGradient, LeavesTrainingGradientsUnchanged) {
  for (const ModelSpec& spec : {mlp(), cnn(), cnn_fused()}) {
    const std::int64_t rows = 4;
    const RowMatrix x = test::random_matrix(rows, Model(spec).input_size(), 31);
    const std::vector<std::int64_t> indices{0, 1, 2, 3};
    const auto training_gradients = [&](Model& model) {
      model.zero_gradients();
      const ConstMatrixMap y =
          model.forward(ConstMatrixMap(x.data(), rows, x.cols()), Context::training(3, 1, indices));
      const RowMatrix r = test::random_matrix(rows, y.cols(), 32);
      model.backward(ConstMatrixMap(r.data(), rows, r.cols()));
      return std::vector<float>(model.gradients().begin(), model.gradients().end());
    };
    Model plain = prepared(spec, rows);
    Model explained = prepared(spec, rows);
    (void)explained.forward(ConstMatrixMap(x.data(), rows, x.cols()), Context::evaluation());
    const RowMatrix ones = RowMatrix::Ones(rows, explained.output_size());
    (void)explained.input_gradient(ConstMatrixMap(ones.data(), rows, ones.cols()));
    EXPECT_EQ(training_gradients(plain), training_gradients(explained));
    EXPECT_TRUE(explained.layers().front()->input_gradient());
  }
}

TEST(InputGradient, RefusesAMisshapenOutputGradient) {
  Model model = prepared(mlp(), 2);
  const RowMatrix x = test::random_matrix(2, 6, 1);
  (void)model.forward(ConstMatrixMap(x.data(), 2, 6), Context::evaluation());
  const RowMatrix wrong = RowMatrix::Zero(2, 4);
  try {
    (void)model.input_gradient(ConstMatrixMap(wrong.data(), 2, 4));
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "model input gradient: the output gradient is 2 x 4, the last forward gave 2 x 3");
  }
}

}  // namespace
}  // namespace mpitrain::nn
