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
}  // namespace

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
  std::ifstream in(config.model.spec);
  if (!in) fail(config, "cannot be read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(config, "cannot be read");
  nn::ModelSpec spec;
  std::int64_t inputs = 0;
  try {
    spec = nn::parse_model_spec(text);
    inputs = base::element_count(spec.input_shape);
  } catch (const std::invalid_argument& e) {
    fail(config, e.what());
  }
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
  auto task = std::make_unique<nn::ClassificationTask>(config.model.classes);
  try {
    task->check_output_shape(model->output_shape());
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError("config key model.classes = " + std::to_string(config.model.classes) + ": " + e.what() +
                              (config.model.spec.empty() ? "" : " (the model of " + key + ")"));
  }
  model->set_precision(nn::parse_precision(config.train.precision));  // checked by config::validate
  return {std::move(*model), std::move(task)};
}

}  // namespace mpitrain::train
