// nn::ModelSpec: the MLP of the [model] keys, JSON round trips and the errors of bad JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/model_spec.hpp"

using namespace mpitrain;

namespace {

std::string error_of(const std::string& text) {
  try {
    (void)nn::parse_model_spec(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(MlpSpec, DenseAndActivationAlternateWithTheLogitsLast) {
  const nn::ModelSpec spec = nn::mlp_spec(784, {256, 128}, nn::ActivationKind::tanh, 10);
  const nn::ModelSpec expected{{784},
                               {nn::DenseSpec{256}, nn::ActivationSpec{nn::ActivationKind::tanh}, nn::DenseSpec{128},
                                nn::ActivationSpec{nn::ActivationKind::tanh}, nn::DenseSpec{10}}};
  EXPECT_EQ(spec, expected);
  EXPECT_EQ(nn::mlp_spec(4, {}, nn::ActivationKind::relu, 3), (nn::ModelSpec{{4}, {nn::DenseSpec{3}}}));
  EXPECT_NE(spec, nn::mlp_spec(784, {256, 128}, nn::ActivationKind::relu, 10));
  EXPECT_THROW((void)nn::mlp_spec(0, {}, nn::ActivationKind::relu, 3), std::invalid_argument);
  EXPECT_THROW((void)nn::mlp_spec(4, {0}, nn::ActivationKind::relu, 3), std::invalid_argument);
  EXPECT_THROW((void)nn::mlp_spec(4, {}, nn::ActivationKind::relu, 1), std::invalid_argument);
}

TEST(ModelSpecJson, ReadsTheDocumentedForm) {
  const std::string text = R"({
    "input_shape": [28, 28, 1],
    "layers": [
      {"type": "activation", "activation": "sigmoid"},
      {"units": 5, "type": "dense"}
    ]
  })";
  const nn::ModelSpec expected{{28, 28, 1}, {nn::ActivationSpec{nn::ActivationKind::sigmoid}, nn::DenseSpec{5}}};
  EXPECT_EQ(nn::parse_model_spec(text), expected);
}

TEST(ModelSpecJson, RoundTrips) {
  for (const nn::ModelSpec& spec : {nn::mlp_spec(784, {256, 128}, nn::ActivationKind::relu, 10),
                                    nn::mlp_spec(3, {}, nn::ActivationKind::sigmoid, 2),
                                    nn::ModelSpec{{2, 3}, {nn::ActivationSpec{nn::ActivationKind::tanh}}}}) {
    EXPECT_EQ(nn::model_spec_from_json(nn::to_json(spec)), spec);
    EXPECT_EQ(nn::parse_model_spec(nn::to_json_text(spec)), spec);
  }
  // The written form, key by key.
  const nlohmann::json j = nn::to_json(nn::mlp_spec(4, {3}, nn::ActivationKind::relu, 2));
  EXPECT_EQ(j, nlohmann::json::parse(R"({"input_shape": [4], "layers": [{"type": "dense", "units": 3},
      {"type": "activation", "activation": "relu"}, {"type": "dense", "units": 2}]})"));
  EXPECT_EQ(nn::to_json_text(nn::mlp_spec(4, {}, nn::ActivationKind::relu, 2)),
            R"({"input_shape":[4],"layers":[{"type":"dense","units":2}]})");
}

TEST(ModelSpecJson, ErrorsNameTheLayerIndexAndKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"input_shape": [4],)", "model spec: malformed JSON: [json.exception.parse_error.101] parse error at line 1, column 21"},
      {R"([4, 3])", "model spec: must be a JSON object with keys input_shape and layers"},
      {R"({"layers": [{"type": "dense", "units": 3}]})", "model spec: missing key 'input_shape'"},
      {R"({"input_shape": [4]})", "model spec: missing key 'layers'"},
      {R"({"input_shape": [4], "layers": [], "name": "x"})", "model spec: unknown key 'name' (expected input_shape, layers)"},
      {R"({"input_shape": [4, 0], "layers": [{"type": "dense", "units": 3}]})",
       "model spec: key 'input_shape'[1]: must be an integer in [1, 2^63), got 0"},
      {R"({"input_shape": [], "layers": [{"type": "dense", "units": 3}]})",
       "model spec: key 'input_shape': must be a non-empty array"},
      {R"({"input_shape": [4], "layers": []})", "model spec: key 'layers': must be a non-empty array"},
      {R"({"input_shape": [4], "layers": [{"type": "dense", "units": 3}, 7]})",
       "model spec: layer 1: must be an object with a key 'type', got 7"},
      {R"({"input_shape": [4], "layers": [{"units": 3}]})", "model spec: layer 0: missing key 'type'"},
      {R"({"input_shape": [4], "layers": [{"type": "conv3d"}]})",
       "model spec: layer 0 (conv3d): key 'type': unknown layer type 'conv3d' (expected dense, activation, dropout, "
       "batch_norm, layer_norm, causal_self_attention, embedding, tied_output, transformer_block, conv2d, max_pool2d, avg_pool2d, global_avg_pool2d, flatten)"},
      {R"({"input_shape": [4], "layers": [{"type": "dense", "units": 3}, {"type": "dense", "units": -2}]})",
       "model spec: layer 1 (dense): key 'units': must be an integer in [1, 2^63), got -2"},
      {R"({"input_shape": [4], "layers": [{"type": "dense", "units": 2.5}]})",
       "model spec: layer 0 (dense): key 'units': must be an integer in [1, 2^63), got 2.5"},
      {R"({"input_shape": [4], "layers": [{"type": "dense", "unit": 3}]})",
       "model spec: layer 0 (dense): unknown key 'unit' (expected type, units)"},
      {R"({"input_shape": [4], "layers": [{"type": "dense"}]})", "model spec: layer 0 (dense): missing key 'units'"},
      {R"({"input_shape": [4], "layers": [{"type": "dense", "units": 3}, {"type": "activation", "activation": "swish"}]})",
       "model spec: layer 1 (activation): key 'activation': unknown activation 'swish' (expected relu, tanh, sigmoid or gelu)"},
      {R"({"input_shape": [4], "layers": [{"type": "activation", "activation": 1}]})",
       "model spec: layer 0 (activation): key 'activation': must be a string, got 1"},
  };
  for (const auto& [text, message] : cases) {
    const std::string error = error_of(text);
    EXPECT_NE(error.find(message), std::string::npos) << text << "\n  gave: " << error;
  }
}

TEST(ModelSpecJson, DropoutAndBatchNormRoundTripWithKerasDefaults) {
  const nn::ModelSpec spec{{28, 28, 1},
                           {nn::BatchNormSpec{}, nn::DropoutSpec{0.3}, nn::BatchNormSpec{0.9, 1e-5},
                            nn::DropoutSpec{0.0}}};
  EXPECT_EQ(nn::model_spec_from_json(nn::to_json(spec)), spec);
  EXPECT_EQ(nn::parse_model_spec(nn::to_json_text(spec)), spec);
  EXPECT_EQ(nn::to_json(spec)["layers"][0], nlohmann::json::parse(R"({"type": "batch_norm", "momentum": 0.99,
      "epsilon": 0.001})"));
  EXPECT_EQ(nn::to_json(spec)["layers"][1], nlohmann::json::parse(R"({"type": "dropout", "rate": 0.3})"));
  // momentum and epsilon are optional: Keras's BatchNormalization defaults.
  EXPECT_EQ(nn::parse_model_spec(R"({"input_shape": [4], "layers": [{"type": "batch_norm"},
      {"type": "batch_norm", "epsilon": 0.01}, {"type": "batch_norm", "momentum": 0}]})"),
            (nn::ModelSpec{{4}, {nn::BatchNormSpec{0.99, 1e-3}, nn::BatchNormSpec{0.99, 0.01}, nn::BatchNormSpec{0.0, 1e-3}}}));
}

TEST(ModelSpecJson, LayerNormAndGeluRoundTrip) {
  const nn::ModelSpec spec{{8, 4}, {nn::LayerNormSpec{}, nn::DenseSpec{6}, nn::ActivationSpec{nn::ActivationKind::gelu},
                                    nn::LayerNormSpec{1e-3}}};
  EXPECT_EQ(nn::parse_model_spec(nn::to_json_text(spec)), spec);
  EXPECT_EQ(nn::to_json(spec)["layers"][0], nlohmann::json::parse(R"({"type": "layer_norm", "epsilon": 1e-5})"));
  EXPECT_EQ(nn::to_json(spec)["layers"][2], nlohmann::json::parse(R"({"type": "activation", "activation": "gelu"})"));
  const nn::Model model = nn::build_model(spec);
  EXPECT_EQ(model.layers()[0]->name(), "layer_normalization");
  EXPECT_EQ(model.layers()[3]->name(), "layer_normalization_1");
  EXPECT_EQ(model.output_shape(), (nn::Shape{8, 6}));
  const std::string head = R"({"input_shape": [4], "layers": [{"type": "dense", "units": 3}, )";
  EXPECT_NE(error_of(head + R"({"type": "layer_norm", "epsilon": 0}]})").find(
                "model spec: layer 1 (layer_norm): key 'epsilon': must be a number in (0.0, inf), got 0"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "layer_norm", "axis": 1}]})").find(
                "model spec: layer 1 (layer_norm): unknown key 'axis' (expected type, epsilon)"),
            std::string::npos);
  try {
    (void)nn::build_model(nn::parse_model_spec(R"({"input_shape": [4, 4, 1], "layers": [{"type": "conv2d",
        "filters": 2, "kernel_size": 3, "activation": "gelu"}]})"));
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("layer conv2d (conv2d): activation gelu is not offered inside a convolution"),
              std::string::npos) << e.what();
  }
}

TEST(ModelSpecJson, DropoutAndBatchNormErrorsNameTheLayerAndKey) {
  const std::string head = R"({"input_shape": [4], "layers": [{"type": "dense", "units": 3}, )";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type": "dropout"}]})", "model spec: layer 1 (dropout): missing key 'rate'"},
      {R"({"type": "dropout", "rate": 1}]})", "model spec: layer 1 (dropout): key 'rate': must be a number in [0.0, 1.0), got 1"},
      {R"({"type": "dropout", "rate": -0.1}]})", "key 'rate': must be a number in [0.0, 1.0), got -0.1"},
      {R"({"type": "dropout", "rate": "0.5"}]})", "key 'rate': must be a number in [0.0, 1.0), got \"0.5\""},
      {R"({"type": "dropout", "rate": 0.5, "seed": 1}]})",
       "model spec: layer 1 (dropout): unknown key 'seed' (expected type, rate)"},
      {R"({"type": "batch_norm", "momentum": 1.0}]})",
       "model spec: layer 1 (batch_norm): key 'momentum': must be a number in [0.0, 1.0), got 1.0"},
      {R"({"type": "batch_norm", "epsilon": 0}]})",
       "model spec: layer 1 (batch_norm): key 'epsilon': must be a number in (0.0, inf), got 0"},
      {R"({"type": "batch_norm", "epsilon": -1e-3}]})", "key 'epsilon': must be a number in (0.0, inf), got -0.001"},
      {R"({"type": "batch_norm", "epsilon": null}]})", "key 'epsilon': must be a number in (0.0, inf), got null"},
      {R"({"type": "batch_norm", "axis": -1}]})",
       "model spec: layer 1 (batch_norm): unknown key 'axis' (expected type, momentum, epsilon)"},
  };
  for (const auto& [tail, message] : cases) {
    const std::string error = error_of(head + tail);
    EXPECT_NE(error.find(message), std::string::npos) << tail << "\n  gave: " << error;
  }
}

// The layers on images: defaults as Keras's (strides 1, padding valid, bias on, no activation; a pool's strides
// its pool size, pool size 2), one integer meaning a square, and the written form with every key.
TEST(ModelSpecJson, ReadsImageLayersWithKerasDefaults) {
  const nn::ModelSpec spec = nn::parse_model_spec(R"({"input_shape": [28, 28, 1], "layers": [
      {"type": "conv2d", "filters": 8, "kernel_size": 3},
      {"type": "conv2d", "filters": 4, "kernel_size": [5, 3], "strides": [2, 1], "padding": "same",
       "use_bias": false, "activation": "relu"},
      {"type": "max_pool2d", "pool_size": 3}, {"type": "avg_pool2d"},
      {"type": "avg_pool2d", "pool_size": [2, 3], "strides": 1, "padding": "same"},
      {"type": "global_avg_pool2d"}, {"type": "flatten"}]})");
  using nn::Padding;
  const nn::ModelSpec expected{
      {28, 28, 1},
      {nn::Conv2DSpec{8, {3, 3}, {1, 1}, Padding::valid, true, std::nullopt},
       nn::Conv2DSpec{4, {5, 3}, {2, 1}, Padding::same, false, nn::ActivationKind::relu},
       nn::MaxPool2DSpec{{{3, 3}, {3, 3}, Padding::valid}}, nn::AvgPool2DSpec{{{2, 2}, {2, 2}, Padding::valid}},
       nn::AvgPool2DSpec{{{2, 3}, {1, 1}, Padding::same}}, nn::GlobalAvgPool2DSpec{}, nn::FlattenSpec{}}};
  EXPECT_EQ(spec, expected);
  EXPECT_EQ(nn::model_spec_from_json(nn::to_json(spec)), spec);
  EXPECT_EQ(nn::parse_model_spec(nn::to_json_text(spec)), spec);
  EXPECT_EQ(nn::to_json(spec)["layers"], nlohmann::json::parse(R"([
      {"type": "conv2d", "filters": 8, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "use_bias": true},
      {"type": "conv2d", "filters": 4, "kernel_size": [5, 3], "strides": [2, 1], "padding": "same", "use_bias": false,
       "activation": "relu"},
      {"type": "max_pool2d", "pool_size": [3, 3], "strides": [3, 3], "padding": "valid"},
      {"type": "avg_pool2d", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid"},
      {"type": "avg_pool2d", "pool_size": [2, 3], "strides": [1, 1], "padding": "same"},
      {"type": "global_avg_pool2d"}, {"type": "flatten"}])"));
}

TEST(ModelSpecJson, ImageLayerErrorsNameTheLayerIndexAndKey) {
  const std::string head = R"({"input_shape": [8, 8, 1], "layers": [{"type": "flatten"}, )";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type": "conv2d", "kernel_size": 3})", "model spec: layer 1 (conv2d): missing key 'filters'"},
      {R"({"type": "conv2d", "filters": 2})", "model spec: layer 1 (conv2d): missing key 'kernel_size'"},
      {R"({"type": "conv2d", "filters": 0, "kernel_size": 3})",
       "layer 1 (conv2d): key 'filters': must be an integer in [1, 2^63), got 0"},
      {R"({"type": "conv2d", "filters": 2, "kernel_size": [3, 3, 1]})",
       "layer 1 (conv2d): key 'kernel_size': must be an integer >= 1 or an array of two, got [3,3,1]"},
      {R"({"type": "conv2d", "filters": 2, "kernel_size": [3, -1]})",
       "layer 1 (conv2d): key 'kernel_size'[1]: must be an integer in [1, 2^63), got -1"},
      {R"({"type": "conv2d", "filters": 2, "kernel_size": 3, "strides": 0})",
       "layer 1 (conv2d): key 'strides': must be an integer in [1, 2^63), got 0"},
      {R"({"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": "full"})",
       "layer 1 (conv2d): key 'padding': unknown padding 'full' (expected valid or same)"},
      {R"({"type": "conv2d", "filters": 2, "kernel_size": 3, "use_bias": 1})",
       "layer 1 (conv2d): key 'use_bias': must be true or false, got 1"},
      {R"({"type": "conv2d", "filters": 2, "kernel_size": 3, "activation": "softmax"})",
       "layer 1 (conv2d): key 'activation': unknown activation 'softmax'"},
      {R"({"type": "conv2d", "filters": 2, "kernel_size": 3, "kernel": 3})",
       "layer 1 (conv2d): unknown key 'kernel' (expected type, filters, kernel_size, strides, padding, use_bias, activation)"},
      {R"({"type": "max_pool2d", "pool": 2})",
       "layer 1 (max_pool2d): unknown key 'pool' (expected type, pool_size, strides, padding)"},
      {R"({"type": "avg_pool2d", "pool_size": "2"})",
       "layer 1 (avg_pool2d): key 'pool_size': must be an integer in [1, 2^63), got \"2\""},
      {R"({"type": "avg_pool2d", "padding": 1})", "layer 1 (avg_pool2d): key 'padding': must be a string, got 1"},
      {R"({"type": "global_avg_pool2d", "keepdims": true})",
       "layer 1 (global_avg_pool2d): unknown key 'keepdims' (expected type)"},
      {R"({"type": "flatten", "data_format": "channels_last"})",
       "layer 1 (flatten): unknown key 'data_format' (expected type)"},
  };
  for (const auto& [layer, message] : cases) {
    const std::string error = error_of(head + layer + "]}");
    EXPECT_NE(error.find(message), std::string::npos) << layer << "\n  gave: " << error;
  }
}
