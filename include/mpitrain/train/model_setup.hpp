#pragma once
/// @file model_setup.hpp
/// The model and the task a config asks for ([model] keys).

#include <cstdint>
#include <memory>

#include "mpitrain/config/config.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/model_spec.hpp"
#include "mpitrain/nn/task.hpp"

namespace mpitrain::train {

/// The architecture @p config asks for on samples of shape @p sample_shape (channels last; data::Dataset::
/// sample_shape()): the JSON file of model.spec (README, "Model specification"), or else the MLP of
/// model.hidden, model.activation and model.classes on the flattened samples.
/// @throws config::ConfigError naming model.spec and the file when it cannot be read, holds malformed JSON
///         (with the parser's line and column) or an invalid spec (with the layer index and key), or when
///         its input_shape does not hold as many values as a sample, or is shaped (more than one
///         dimension) otherwise than a shaped sample.
nn::ModelSpec configured_model_spec(const config::Config& config, const base::Shape& sample_shape);

/// The context T of a language model (data.format = text): the one dimension of model.spec's input_shape.
/// @throws config::ConfigError naming model.spec when it is not set, cannot be read or parsed (as
///         configured_model_spec), or its input_shape is not one dimension (T).
std::int64_t text_context(const config::Config& config);

/// The task of a run of @p config on @p model: a language model over the model's input_shape (T) and a
/// vocabulary of 256 bytes for data.format = text, else classification into model.classes classes; checked
/// against the model's outputs ((T, 256), or (model.classes)).
/// @throws std::invalid_argument naming the shapes when the model's outputs do not fit the task.
std::unique_ptr<nn::Task> configured_task(const config::Config& config, const nn::Model& model);

/// A model built from @p spec and the task of @p config (configured_task), checked against each other.
/// The model is not initialised (nn::Model::init) nor reserved.
struct ConfiguredModel {
  nn::Model model;                  ///< Built from the spec.
  std::unique_ptr<nn::Task> task;   ///< Loss and metrics.
};

/// Builds the model of configured_model_spec(@p config, @p sample_shape) and its task.
/// @throws config::ConfigError naming model.spec (or model.hidden for the MLP) for a spec that does not
///         build, and model.classes (model.spec for text) when the model's outputs do not fit the task; as
///         configured_model_spec.
ConfiguredModel configured_model(const config::Config& config, const base::Shape& sample_shape);

}  // namespace mpitrain::train
