#pragma once
/// @file model_spec.hpp
/// A model's architecture as data: the per-sample input shape and a list of layer specs, serialised to and
/// from JSON. The JSON form (the file of config key model.spec, and what checkpoints store):
///
///     {"input_shape": [784],
///      "layers": [{"type": "dense", "units": 256}, {"type": "activation", "activation": "relu"},
///                 {"type": "dense", "units": 10}]}
///
/// Layer types and their keys: `dense` (units >= 1; on the input's last axis), `activation`
/// (activation: relu, tanh, sigmoid or gelu), `dropout` (rate in [0, 1)), `batch_norm` (momentum in [0, 1),
/// default 0.99; epsilon > 0, default 0.001; both optional, always written), `layer_norm` (epsilon > 0,
/// default 1e-5, optional, always written), `causal_self_attention` (heads >= 1 dividing C; input (T, 3C)),
/// `embedding` (vocabulary, dim >= 1; input (T) of token ids), `tied_output` (vocabulary; embedding, the tied
/// embedding layer's name, default `embedding`), `transformer_block` (heads >= 1 dividing C; epsilon > 0,
/// default 1e-5, optional, always written; input (T, C)); every layer may have a `name` (unique; the prefix
/// of its tensors' names); on images (image_specs.hpp)
/// `conv2d`, `max_pool2d`, `avg_pool2d`, `global_avg_pool2d`, `flatten`. A key not listed is an error, so that a typo is not silently
/// ignored. Adding a layer type is a local change: a spec struct with its `type` name, its JSON fields
/// (model_spec.cpp), a Layer, and one line in build_model's factory (model.cpp).

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/image_specs.hpp"

namespace mpitrain::nn {

/// A fully connected layer y = x W + b (nn::Dense) on the last axis of its input.
struct DenseSpec {
  static constexpr std::string_view type = "dense";  ///< JSON `type`, and the prefix of the layer's name.
  std::int64_t units = 0;                             ///< Output features (>= 1).
  bool operator==(const DenseSpec&) const = default;
};

/// An element-wise activation (nn::Activation); the output shape is the input shape.
struct ActivationSpec {
  static constexpr std::string_view type = "activation";  ///< JSON `type`, and the layer name's prefix.
  ActivationKind kind = ActivationKind::relu;              ///< JSON key `activation`.
  bool operator==(const ActivationSpec&) const = default;
};

/// Inverted dropout (nn::Dropout); the output shape is the input shape.
struct DropoutSpec {
  static constexpr std::string_view type = "dropout";  ///< JSON `type`, and the layer name's prefix.
  double rate = 0.0;                                    ///< Probability of dropping an element, in [0, 1).
  bool operator==(const DropoutSpec&) const = default;
};

/// Synchronized batch normalization over every axis but the last (nn::BatchNorm); Keras's defaults.
struct BatchNormSpec {
  static constexpr std::string_view type = "batch_norm";  ///< JSON `type`.
  static constexpr std::string_view keras_name = "batch_normalization";  ///< The layer name's prefix (Keras's).
  double momentum = 0.99;                                  ///< Of the moving statistics, in [0, 1).
  double epsilon = 1e-3;                                   ///< Added to the variance, > 0.
  bool operator==(const BatchNormSpec&) const = default;
};

/// Layer normalization over the last axis (nn::LayerNorm), PyTorch's and GPT-2's epsilon by default.
struct LayerNormSpec {
  static constexpr std::string_view type = "layer_norm";  ///< JSON `type`.
  static constexpr std::string_view keras_name = "layer_normalization";  ///< The layer name's prefix (Keras's).
  double epsilon = 1e-5;                                   ///< Added to the variance, > 0.
  bool operator==(const LayerNormSpec&) const = default;
};

/// Causal multi-head self-attention without parameters (nn::CausalSelfAttention): (T, 3C) to (T, C).
struct CausalSelfAttentionSpec {
  static constexpr std::string_view type = "causal_self_attention";  ///< JSON `type`, and the name's prefix.
  std::int64_t heads = 0;                                             ///< H (>= 1, divides C).
  bool operator==(const CausalSelfAttentionSpec&) const = default;
};

/// Token and position embeddings of (T) token ids (nn::Embedding): (T) to (T, dim).
struct EmbeddingSpec {
  static constexpr std::string_view type = "embedding";  ///< JSON `type`, and the layer name's prefix.
  std::int64_t vocabulary = 0;                            ///< V (>= 1): token ids are in [0, V).
  std::int64_t dim = 0;                                   ///< C (>= 1).
  bool operator==(const EmbeddingSpec&) const = default;
};

/// The output layer tied to an embedding's token table (nn::TiedOutput): (T, C) to (T, vocabulary).
struct TiedOutputSpec {
  static constexpr std::string_view type = "tied_output";  ///< JSON `type`, and the layer name's prefix.
  std::string embedding = "embedding";                     ///< The embedding layer's name (its `wte:0` is used).
  std::int64_t vocabulary = 0;                             ///< V, as that embedding's.
  bool operator==(const TiedOutputSpec&) const = default;
};

/// A GPT-2 Transformer block (nn::TransformerBlock): (T, C) to (T, C). Blocks are named `h.0`, `h.1`, ...
/// (GPT-2's names) in model order.
struct TransformerBlockSpec {
  static constexpr std::string_view type = "transformer_block";  ///< JSON `type`.
  static constexpr std::string_view keras_name = "h";            ///< The layer name's prefix (GPT-2's).
  static constexpr bool dotted_index = true;  ///< Named h.0, h.1, ... (not h, h_1, ...).
  std::int64_t heads = 0;                     ///< H (>= 1, divides C).
  double epsilon = 1e-5;                      ///< Of its two LayerNorms, > 0.
  bool operator==(const TransformerBlockSpec&) const = default;
};

/// One layer of a model.
using LayerSpec = std::variant<DenseSpec, ActivationSpec, DropoutSpec, BatchNormSpec, LayerNormSpec,
                               CausalSelfAttentionSpec, EmbeddingSpec, TiedOutputSpec, TransformerBlockSpec,
                               Conv2DSpec, MaxPool2DSpec, AvgPool2DSpec, GlobalAvgPool2DSpec, FlattenSpec>;

/// A sequential model: the input shape of one sample and its layers in order.
struct ModelSpec {
  std::vector<std::int64_t> input_shape;  ///< Per sample, channels last (e.g. {784} or {28, 28, 1}).
  std::vector<LayerSpec> layers;          ///< In forward order.
  /// The layers' names given by the JSON key `name` (Keras's `name=`), by index; an empty or missing entry
  /// means the default name (the type's prefix and a counter: dense, dense_1, ...; h.0, h.1 for blocks).
  std::vector<std::string> names = {};
  bool operator==(const ModelSpec&) const = default;
};

/// The MLP of the [model] config keys: for each hidden width h, Dense(h) then the activation; then
/// Dense(classes) giving the logits. Its layers are named dense, activation, dense_1, activation_1, ...,
/// dense_N, and its tensors laid out kernel then bias per Dense layer (the layout of checkpoint format 1).
/// @throws std::invalid_argument for inputs < 1, a hidden width < 1 or classes < 2.
ModelSpec mlp_spec(std::int64_t inputs, const std::vector<int>& hidden, ActivationKind activation, int classes);

/// The JSON form of @p spec (see the file comment).
nlohmann::json to_json(const ModelSpec& spec);

/// Reads the JSON form.
/// @throws std::invalid_argument naming the key and, inside `layers`, the 0-based layer index: a missing or
///         unknown key, a value of the wrong type or range, an unknown layer type.
ModelSpec model_spec_from_json(const nlohmann::json& json);

/// Parses JSON text (e.g. a model.spec file's contents) into a spec.
/// @throws std::invalid_argument with the parser's line and column for malformed JSON, or as
///         model_spec_from_json.
ModelSpec parse_model_spec(const std::string& text);

/// The spec as compact JSON text (one line), e.g. for a checkpoint attribute; parse_model_spec reads it back.
std::string to_json_text(const ModelSpec& spec);

}  // namespace mpitrain::nn
