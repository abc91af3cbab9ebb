#include "app/explain_settings.hpp"

#include <charconv>
#include <stdexcept>

#include "mpitrain/data/csv_reader.hpp"
#include "mpitrain/explain/permutation.hpp"
#include "mpitrain/explain/quadrature.hpp"

namespace mpitrain::app {

namespace {

std::vector<std::int64_t> parse_show(const std::string& text) {
  std::vector<std::int64_t> out;
  std::size_t start = 0;
  while (!text.empty() && start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::int64_t v = -1;
    const char* first = text.data() + start;
    const char* last = text.data() + comma;
    const auto [end, error] = std::from_chars(first, last, v);
    if (error != std::errc() || end != last || v < 0) {
      throw std::invalid_argument("--show " + text + ": expected sample numbers >= 0 separated by commas");
    }
    out.push_back(v);
    start = comma + 1;
  }
  return out;
}

}  // namespace

ExplainSettings explain_settings(const boost::program_options::variables_map& vm) {
  ExplainSettings s;
  s.method_text = vm["method"].as<std::string>();
  s.permutation = s.method_text == "permutation_importance";
  if (!s.permutation) s.attribution.method = explain::parse_method(s.method_text);
  s.attribution.output = explain::parse_target_output(vm["target-output"].as<std::string>());
  s.attribution.rule = explain::parse_quadrature_rule(vm["quadrature"].as<std::string>());
  s.attribution.steps = vm["steps"].as<int>();
  (void)explain::quadrature(s.attribution.rule, s.attribution.steps);  // --steps out of range
  s.attribution.samples = vm["samples"].as<int>();
  if (s.attribution.samples < 1) {
    throw std::invalid_argument("--samples " + std::to_string(s.attribution.samples) + ": must be >= 1");
  }
  s.attribution.noise = vm["noise"].as<double>();
  if (!(s.attribution.noise >= 0.0 && s.attribution.noise <= 100.0)) {
    throw std::invalid_argument("--noise " + std::to_string(s.attribution.noise) +
                                ": must be a share of the input range in [0, 100]");
  }
  s.attribution.seed = vm["seed"].as<std::uint64_t>();
  s.target_text = vm["target"].as<std::string>();
  s.baseline = vm["baseline"].as<std::string>();
  if (s.baseline != "zero" && s.baseline != "mean") {
    throw std::invalid_argument("--baseline " + s.baseline + ": expected zero or mean");
  }
  s.baseline_data = vm["baseline-data"].as<std::string>();
  s.repeats = vm["repeats"].as<int>();
  if (s.repeats < 1 || s.repeats > 10000) {
    throw std::invalid_argument("--repeats " + std::to_string(s.repeats) + ": must be in [1, 10000]");
  }
  s.group = vm["group"].as<std::string>();
  const std::string score = vm["score"].as<std::string>();
  if (score != "accuracy" && score != "loss") {
    throw std::invalid_argument("--score " + score + ": expected accuracy or loss");
  }
  s.score_loss = score == "loss";
  s.limit = vm["limit"].as<std::int64_t>();
  if (s.limit < 0) throw std::invalid_argument("--limit " + std::to_string(s.limit) + ": must be >= 0");
  s.show = parse_show(vm["show"].as<std::string>());
  s.show_given = !vm["show"].defaulted();
  s.top = vm["top"].as<int>();
  if (s.top < 0) throw std::invalid_argument("--top " + std::to_string(s.top) + ": must be >= 0");
  s.checkpoint = vm["checkpoint"].as<std::string>();
  s.data = vm["data"].as<std::string>();
  s.labels = vm["labels"].as<std::string>();
  return s;
}

data::Dataset load_explained_data(const LoadedModel& loaded, const ExplainSettings& settings, bool need_labels) {
  data::Dataset ds;
  try {
    ds = load_inputs(loaded, settings.data, settings.labels, need_labels);
  } catch (const data::DataError& e) {
    std::string why = e.what();  // the reader's message names the file already when it is the data's
    if (why.starts_with(settings.data + ": ")) why.erase(0, settings.data.size() + 2);
    throw data::DataError("--data " + settings.data + ": " + why);
  }
  if (settings.limit > 0 && settings.limit < ds.size()) {
    ds.features.conservativeResize(settings.limit, ds.features.cols());
    ds.labels.resize(static_cast<std::size_t>(settings.limit));
  }
  return ds;
}

void check_against_model(ExplainSettings& settings, const LoadedModel& loaded, const data::Dataset& ds) {
  settings.target = explain::parse_target(settings.target_text, loaded.task->classes());
  if (settings.permutation) (void)explain::feature_groups(settings.group, ds.sample_shape());
  if (!settings.show_given) std::erase_if(settings.show, [&](std::int64_t i) { return i >= ds.size(); });
  for (const std::int64_t i : settings.show) {
    if (i >= ds.size()) {
      throw std::invalid_argument("--show: sample " + std::to_string(i) + " is not among the " +
                                  std::to_string(ds.size()) + " samples explained");
    }
  }
}

std::vector<float> explain_baseline(const LoadedModel& loaded, const ExplainSettings& settings) {
  const auto f = static_cast<std::size_t>(loaded.model->input_size());
  if (settings.baseline_data.empty() && settings.baseline == "zero") return std::vector<float>(f, 0.0f);
  data::Dataset ds;
  const config::DataConfig& d = loaded.config.data;
  std::string source;
  if (!settings.baseline_data.empty()) {
    source = "--baseline-data " + settings.baseline_data;
    try {
      ds = load_inputs(loaded, settings.baseline_data, {}, false);
    } catch (const data::DataError& e) {
      throw data::DataError(source + ": " + e.what());
    }
  } else {
    source = "--baseline mean: the training file";
    ds = d.format == "csv" ? load_inputs(loaded, d.train_csv, {}, false)
                           : load_inputs(loaded, d.train_images, {}, false);
  }
  if (ds.size() == 0) throw data::DataError(source + ": no rows to average");
  std::vector<double> sum(f, 0.0);
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    for (std::size_t j = 0; j < f; ++j) sum[j] += ds.features(i, static_cast<std::int64_t>(j));
  }
  std::vector<float> mean(f);
  for (std::size_t j = 0; j < f; ++j) mean[j] = static_cast<float>(sum[j] / static_cast<double>(ds.size()));
  return mean;
}

}  // namespace mpitrain::app
