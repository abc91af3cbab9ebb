#include "mpitrain/nn/model_spec.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace mpitrain::nn {

namespace {

using nlohmann::json;

// Where a value sits in the JSON, for messages: "model spec: layer 2 (dense): key 'units'".
struct Where {
  std::string text;
  [[noreturn]] void fail(const std::string& what) const { throw std::invalid_argument(text + ": " + what); }
  [[nodiscard]] Where key(const std::string& k) const { return {text + ": key '" + k + "'"}; }
};

// Refuses any key of @p object outside @p allowed, naming the first.
void only_keys(const json& object, std::initializer_list<const char*> allowed, const Where& where) {
  for (const auto& [k, v] : object.items()) {
    bool known = false;
    std::string list;
    for (const char* a : allowed) {
      known = known || k == a;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    if (!known) where.fail("unknown key '" + k + "' (expected " + list + ")");
  }
}

const json& member(const json& object, const char* key, const Where& where) {
  const auto it = object.find(key);
  if (it == object.end()) where.fail(std::string("missing key '") + key + "'");
  return *it;
}

std::int64_t positive_integer(const json& value, const Where& where) {
  constexpr auto largest = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  // nlohmann keeps a non-negative integer as unsigned and a negative one as signed.
  const bool ok = value.is_number_unsigned() ? value.get<std::uint64_t>() >= 1 && value.get<std::uint64_t>() <= largest
                                             : value.is_number_integer() && value.get<std::int64_t>() >= 1;
  if (!ok) where.fail("must be an integer in [1, 2^63), got " + value.dump());
  return value.get<std::int64_t>();
}

// A finite number in [low, high) (or (low, high) with low_open), e.g. a rate or a momentum.
double number_in(const json& value, double low, double high, bool low_open, const Where& where) {
  const bool number = value.is_number() && std::isfinite(value.get<double>());
  const double v = number ? value.get<double>() : 0.0;
  if (!number || (low_open ? v <= low : v < low) || v >= high) {
    where.fail("must be a number in " + std::string(low_open ? "(" : "[") + json(low).dump() + ", " +
               (std::isinf(high) ? std::string("inf") : json(high).dump()) + "), got " + value.dump());
  }
  return v;
}

std::string string_value(const json& value, const Where& where) {
  if (!value.is_string()) where.fail("must be a string, got " + value.dump());
  return value.get<std::string>();
}

// One function pair per layer type: its fields to JSON and back (besides "type").
void write_fields(json& out, const DenseSpec& s) { out["units"] = s.units; }
void write_fields(json& out, const ActivationSpec& s) { out["activation"] = to_string(s.kind); }
void write_fields(json& out, const DropoutSpec& s) { out["rate"] = s.rate; }
void write_fields(json& out, const BatchNormSpec& s) {
  out["momentum"] = s.momentum;
  out["epsilon"] = s.epsilon;
}

void write_fields(json& out, const LayerNormSpec& s) { out["epsilon"] = s.epsilon; }
void write_fields(json& out, const CausalSelfAttentionSpec& s) { out["heads"] = s.heads; }
void write_fields(json& out, const EmbeddingSpec& s) {
  out["vocabulary"] = s.vocabulary;
  out["dim"] = s.dim;
}
void write_fields(json& out, const TiedOutputSpec& s) {
  out["embedding"] = s.embedding;
  out["vocabulary"] = s.vocabulary;
}

void write_fields(json& out, const TransformerBlockSpec& s) {
  out["heads"] = s.heads;
  out["epsilon"] = s.epsilon;
}

TransformerBlockSpec read_fields(const json& in, std::type_identity<TransformerBlockSpec>, const Where& where) {
  only_keys(in, {"type", "heads", "epsilon"}, where);
  TransformerBlockSpec spec;
  spec.heads = positive_integer(member(in, "heads", where), where.key("heads"));
  if (in.contains("epsilon")) {
    spec.epsilon = number_in(in.at("epsilon"), 0.0, std::numeric_limits<double>::infinity(), true, where.key("epsilon"));
  }
  return spec;
}

EmbeddingSpec read_fields(const json& in, std::type_identity<EmbeddingSpec>, const Where& where) {
  only_keys(in, {"type", "vocabulary", "dim"}, where);
  return EmbeddingSpec{positive_integer(member(in, "vocabulary", where), where.key("vocabulary")),
                       positive_integer(member(in, "dim", where), where.key("dim"))};
}

TiedOutputSpec read_fields(const json& in, std::type_identity<TiedOutputSpec>, const Where& where) {
  only_keys(in, {"type", "embedding", "vocabulary"}, where);
  TiedOutputSpec spec;
  if (in.contains("embedding")) spec.embedding = string_value(in["embedding"], where.key("embedding"));
  spec.vocabulary = positive_integer(member(in, "vocabulary", where), where.key("vocabulary"));
  return spec;
}

CausalSelfAttentionSpec read_fields(const json& in, std::type_identity<CausalSelfAttentionSpec>, const Where& where) {
  only_keys(in, {"type", "heads"}, where);
  return CausalSelfAttentionSpec{positive_integer(member(in, "heads", where), where.key("heads"))};
}

DenseSpec read_fields(const json& in, std::type_identity<DenseSpec>, const Where& where) {
  only_keys(in, {"type", "units"}, where);
  return DenseSpec{positive_integer(member(in, "units", where), where.key("units"))};
}

ActivationSpec read_fields(const json& in, std::type_identity<ActivationSpec>, const Where& where) {
  only_keys(in, {"type", "activation"}, where);
  const std::string name = string_value(member(in, "activation", where), where.key("activation"));
  try {
    return ActivationSpec{parse_activation(name)};
  } catch (const std::invalid_argument& e) {
    where.key("activation").fail(e.what());
  }
}

DropoutSpec read_fields(const json& in, std::type_identity<DropoutSpec>, const Where& where) {
  only_keys(in, {"type", "rate"}, where);
  return DropoutSpec{number_in(member(in, "rate", where), 0.0, 1.0, false, where.key("rate"))};
}

BatchNormSpec read_fields(const json& in, std::type_identity<BatchNormSpec>, const Where& where) {
  only_keys(in, {"type", "momentum", "epsilon"}, where);
  BatchNormSpec spec;
  if (in.contains("momentum")) spec.momentum = number_in(in.at("momentum"), 0.0, 1.0, false, where.key("momentum"));
  if (in.contains("epsilon")) {
    spec.epsilon = number_in(in.at("epsilon"), 0.0, std::numeric_limits<double>::infinity(), true, where.key("epsilon"));
  }
  return spec;
}

LayerNormSpec read_fields(const json& in, std::type_identity<LayerNormSpec>, const Where& where) {
  only_keys(in, {"type", "epsilon"}, where);
  LayerNormSpec spec;
  if (in.contains("epsilon")) {
    spec.epsilon = number_in(in.at("epsilon"), 0.0, std::numeric_limits<double>::infinity(), true, where.key("epsilon"));
  }
  return spec;
}

// The layers on images (image_specs.hpp). A size or stride is one integer n (meaning [n, n]) or [h, w].
Size2 size2_value(const json& value, const Where& where) {
  if (!value.is_array()) {
    const std::int64_t n = positive_integer(value, where);
    return {n, n};
  }
  if (value.size() != 2) where.fail("must be an integer >= 1 or an array of two, got " + value.dump());
  return {positive_integer(value[0], {where.text + "[0]"}), positive_integer(value[1], {where.text + "[1]"})};
}

Padding padding_value(const json& in, const Where& where) {
  if (!in.contains("padding")) return Padding::valid;
  try {
    return parse_padding(string_value(in["padding"], where.key("padding")));
  } catch (const std::invalid_argument& e) {
    where.key("padding").fail(e.what());
  }
}

void write_fields(json& out, const Conv2DSpec& s) {
  out["filters"] = s.filters;
  out["kernel_size"] = s.kernel_size;
  out["strides"] = s.strides;
  out["padding"] = to_string(s.padding);
  out["use_bias"] = s.use_bias;
  if (s.activation) out["activation"] = to_string(*s.activation);
}
void write_fields(json& out, const Pool2DFields& s) {
  out["pool_size"] = s.pool_size;
  out["strides"] = s.strides;
  out["padding"] = to_string(s.padding);
}
void write_fields(json&, const GlobalAvgPool2DSpec&) {}
void write_fields(json&, const FlattenSpec&) {}

Conv2DSpec read_fields(const json& in, std::type_identity<Conv2DSpec>, const Where& where) {
  only_keys(in, {"type", "filters", "kernel_size", "strides", "padding", "use_bias", "activation"}, where);
  Conv2DSpec s;
  s.filters = positive_integer(member(in, "filters", where), where.key("filters"));
  s.kernel_size = size2_value(member(in, "kernel_size", where), where.key("kernel_size"));
  if (in.contains("strides")) s.strides = size2_value(in["strides"], where.key("strides"));
  s.padding = padding_value(in, where);
  if (in.contains("use_bias")) {
    if (!in["use_bias"].is_boolean()) where.key("use_bias").fail("must be true or false, got " + in["use_bias"].dump());
    s.use_bias = in["use_bias"].get<bool>();
  }
  if (in.contains("activation")) {
    try {
      s.activation = parse_activation(string_value(in["activation"], where.key("activation")));
    } catch (const std::invalid_argument& e) {
      where.key("activation").fail(e.what());
    }
  }
  return s;
}

// strides default to pool_size, as in Keras.
Pool2DFields read_pool_fields(const json& in, const Where& where) {
  only_keys(in, {"type", "pool_size", "strides", "padding"}, where);
  Pool2DFields s;
  if (in.contains("pool_size")) s.pool_size = size2_value(in["pool_size"], where.key("pool_size"));
  s.strides = in.contains("strides") ? size2_value(in["strides"], where.key("strides")) : s.pool_size;
  s.padding = padding_value(in, where);
  return s;
}
MaxPool2DSpec read_fields(const json& in, std::type_identity<MaxPool2DSpec>, const Where& where) {
  return {read_pool_fields(in, where)};
}
AvgPool2DSpec read_fields(const json& in, std::type_identity<AvgPool2DSpec>, const Where& where) {
  return {read_pool_fields(in, where)};
}
GlobalAvgPool2DSpec read_fields(const json& in, std::type_identity<GlobalAvgPool2DSpec>, const Where& where) {
  only_keys(in, {"type"}, where);
  return {};
}
FlattenSpec read_fields(const json& in, std::type_identity<FlattenSpec>, const Where& where) {
  only_keys(in, {"type"}, where);
  return {};
}

// The names of every layer type, for the message about an unknown one.
template <std::size_t... I>
std::string type_names(std::index_sequence<I...>) {
  std::string names;
  ((names += (I == 0 ? "" : ", ") + std::string(std::variant_alternative_t<I, LayerSpec>::type)), ...);
  return names;
}

// The alternative of LayerSpec whose `type` is @p type, read by its read_fields.
template <std::size_t I = 0>
LayerSpec read_layer(const json& in, const std::string& type, const Where& where) {
  if constexpr (I == std::variant_size_v<LayerSpec>) {
    where.key("type").fail("unknown layer type '" + type + "' (expected " +
                           type_names(std::make_index_sequence<std::variant_size_v<LayerSpec>>()) + ")");
  } else {
    using Spec = std::variant_alternative_t<I, LayerSpec>;
    if (type == Spec::type) return read_fields(in, std::type_identity<Spec>(), where);
    return read_layer<I + 1>(in, type, where);
  }
}

}  // namespace

ModelSpec mlp_spec(std::int64_t inputs, const std::vector<int>& hidden, ActivationKind activation, int classes) {
  if (inputs < 1) throw std::invalid_argument("MLP: inputs must be >= 1, got " + std::to_string(inputs));
  if (classes < 2) throw std::invalid_argument("MLP: classes must be >= 2, got " + std::to_string(classes));
  ModelSpec spec;
  spec.input_shape = {inputs};
  for (const int h : hidden) {
    if (h < 1) throw std::invalid_argument("MLP: hidden widths must be >= 1, got " + std::to_string(h));
    spec.layers.emplace_back(DenseSpec{h});
    spec.layers.emplace_back(ActivationSpec{activation});
  }
  spec.layers.emplace_back(DenseSpec{classes});
  return spec;
}

nlohmann::json to_json(const ModelSpec& spec) {
  json layers = json::array();
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    std::visit(
        [&](const auto& s) {
          json out = {{"type", std::string(s.type)}};
          if (i < spec.names.size() && !spec.names[i].empty()) out["name"] = spec.names[i];
          write_fields(out, s);
          layers.push_back(std::move(out));
        },
        spec.layers[i]);
  }
  return json{{"input_shape", spec.input_shape}, {"layers", std::move(layers)}};
}

ModelSpec model_spec_from_json(const nlohmann::json& in) {
  const Where top{"model spec"};
  if (!in.is_object()) top.fail("must be a JSON object with keys input_shape and layers, got " + in.dump());
  only_keys(in, {"input_shape", "layers"}, top);
  ModelSpec spec;
  const json& shape = member(in, "input_shape", top);
  const Where at_shape = top.key("input_shape");
  if (!shape.is_array() || shape.empty()) at_shape.fail("must be a non-empty array of integers >= 1");
  for (std::size_t i = 0; i < shape.size(); ++i) {
    spec.input_shape.push_back(positive_integer(shape[i], {at_shape.text + "[" + std::to_string(i) + "]"}));
  }
  const json& layers = member(in, "layers", top);
  if (!layers.is_array() || layers.empty()) top.key("layers").fail("must be a non-empty array of layer objects");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const json& layer = layers[i];
    const Where at{top.text + ": layer " + std::to_string(i)};
    if (!layer.is_object()) at.fail("must be an object with a key 'type', got " + layer.dump());
    const std::string type = string_value(member(layer, "type", at), at.key("type"));
    const Where typed{at.text + " (" + type + ")"};
    json fields = layer;  // the type's own keys, without the optional name every layer may have
    spec.names.emplace_back();
    if (layer.contains("name")) {
      spec.names.back() = string_value(layer["name"], typed.key("name"));
      if (spec.names.back().empty()) typed.key("name").fail("must not be empty");
      fields.erase("name");
    }
    spec.layers.push_back(read_layer(fields, type, typed));
  }
  if (std::all_of(spec.names.begin(), spec.names.end(), [](const std::string& n) { return n.empty(); })) {
    spec.names.clear();  // equal to a spec built in code without names
  }
  return spec;
}

ModelSpec parse_model_spec(const std::string& text) {
  json parsed;
  try {
    parsed = json::parse(text);
  } catch (const json::parse_error& e) {
    // e.what() names the line and column ("parse error at line 3, column 5: ...").
    throw std::invalid_argument(std::string("model spec: malformed JSON: ") + e.what());
  }
  return model_spec_from_json(parsed);
}

std::string to_json_text(const ModelSpec& spec) { return to_json(spec).dump(); }

}  // namespace mpitrain::nn
