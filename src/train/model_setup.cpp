#include "mpitrain/train/model_setup.hpp"

#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>


namespace mpitrain::train {

namespace {
[[noreturn]] void fail(const config::Config& config, const std::string& what) {
  throw config::ConfigError("config key model.spec = '" + config.model.spec + "': " + what);
}

// The parsed file of model.spec (set). Throws ConfigError naming model.spec.
nn::ModelSpec read_spec_file(const config::Config& config) {
  std::ifstream in(config.model.spec);
  if (!in) fail(config, "cannot be read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(config, "cannot be read");
  try {
    nn::ModelSpec spec = nn::parse_model_spec(text);
    static_cast<void>(base::element_count(spec.input_shape));
    return spec;
  } catch (const std::invalid_argument& e) {
    fail(config, e.what());
  }
}

constexpr int byte_vocabulary = 256;  // data.format = text: a token is a byte
}  // namespace

std::int64_t text_context(const config::Config& config) {
  if (config.model.spec.empty()) {
    throw config::ConfigError("config key model.spec: must be set for data.format = text (its input_shape (T) is "
                              "the context)");
  }
  const nn::ModelSpec spec = read_spec_file(config);
  if (spec.input_shape.size() != 1) {
    fail(config, "input_shape " + base::format_shape(spec.input_shape) + " must have one dimension, (T) tokens of "
                     "context, for data.format = text");
  }
  return spec.input_shape[0];
}

std::unique_ptr<nn::Task> configured_task(const config::Config& config, const nn::Model& model) {
  std::unique_ptr<nn::Task> task;
  if (config.data.format == "text") {
    const base::Shape& input = model.input_shape();
    if (input.size() != 1) {
      throw std::invalid_argument("a language model needs an input_shape of one dimension (T), the model has " +
                                  base::format_shape(input));
    }
    task = std::make_unique<nn::LanguageModelTask>(input[0], byte_vocabulary);
  } else {
    task = std::make_unique<nn::ClassificationTask>(config.model.classes);
  }
  task->check_output_shape(model.output_shape());
  return task;
}

nn::ModelSpec configured_model_spec(const config::Config& config, const base::Shape& sample_shape) {
  const std::int64_t features = base::element_count(sample_shape);
  if (config.model.spec.empty()) {
    try {
      return nn::mlp_spec(features, config.model.hidden, nn::parse_activation(config.model.activation),
                          config.model.classes);
    } catch (const std::invalid_argument& e) {
      throw config::ConfigError(std::string("[model] keys hidden, activation, classes: ") + e.what());
    }
  }
  nn::ModelSpec spec = read_spec_file(config);
  const std::int64_t inputs = base::element_count(spec.input_shape);
  if (inputs != features) {
    fail(config, "input_shape " + base::format_shape(spec.input_shape) + " holds " + std::to_string(inputs) +
                     " features per sample, the data has " + std::to_string(features));
  }
  // A one-dimensional input_shape reads any sample as a flat vector; a shaped one must be the data's shape.
  if (spec.input_shape.size() > 1 && sample_shape.size() > 1 && spec.input_shape != sample_shape) {
    fail(config, "input_shape " + base::format_shape(spec.input_shape) + " differs from the data's sample shape " +
                     base::format_shape(sample_shape) + " (IDX images are (rows, columns, 1); set data.sample_shape " +
                     "for another layout)");
  }
  return spec;
}

ConfiguredModel configured_model(const config::Config& config, const base::Shape& sample_shape) {
  nn::ModelSpec spec = configured_model_spec(config, sample_shape);
  const std::string key = config.model.spec.empty() ? "model.hidden" : "model.spec = '" + config.model.spec + "'";
  std::optional<nn::Model> model;
  try {
    model.emplace(std::move(spec));
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError("config key " + key + ": " + e.what());
  }
  std::unique_ptr<nn::Task> task;
  try {
    task = configured_task(config, *model);
  } catch (const std::invalid_argument& e) {
    if (config.data.format == "text") throw config::ConfigError("config key " + key + ": " + e.what());
    throw config::ConfigError("config key model.classes = " + std::to_string(config.model.classes) + ": " + e.what() +
                              (config.model.spec.empty() ? "" : " (the model of " + key + ")"));
  }
  model->set_precision(nn::parse_precision(config.train.precision));  // checked by config::validate
  return {std::move(*model), std::move(task)};
}

}  // namespace mpitrain::train
