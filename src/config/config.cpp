#include "mpitrain/config/config.hpp"

#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>

#include <boost/algorithm/string.hpp>
#include <boost/program_options.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <sstream>
#include <type_traits>

namespace po = boost::program_options;

namespace mpitrain::config {

namespace {

std::string format_value(const std::string& v) { return v; }
std::string format_value(bool v) { return v ? "true" : "false"; }
template <class T>
std::string format_value(const T& v) {
  return fmt::format("{}", v);
}

// to_ini writes `key = value` lines, which program_options reads back cut at the first '#' (a comment) and
// trimmed of " \t\r\n": a string value (from an override) with a '#', a line break or surrounding
// whitespace would not read back the same, so config.ini and a checkpoint's config would differ from the run.
void check_ini_representable(const std::string& key, const std::string& value) {
  constexpr const char* space = " \t\r\n\v\f";
  const bool padded = !value.empty() && (std::strchr(space, value.front()) != nullptr ||
                                         std::strchr(space, value.back()) != nullptr);
  if (padded || value.find_first_of("#\r\n") != std::string::npos) {
    throw ConfigError("config key " + key + " = '" + value + "': must not contain '#' or a line break, nor " +
                      "begin or end with whitespace (it could not be written to an INI file and read back)");
  }
}

// Binds every key of Config to its field, once, for parsing and for printing.
class Schema {
 public:
  explicit Schema(Config& c) : desc_("mpitrain configuration") {
    bind("data.format", c.data.format, "idx, csv or text");
    bind("data.train_images", c.data.train_images, "IDX images of the training set");
    bind("data.train_labels", c.data.train_labels, "IDX labels of the training set");
    bind("data.test_images", c.data.test_images, "IDX images of the test set");
    bind("data.test_labels", c.data.test_labels, "IDX labels of the test set");
    bind("data.train_csv", c.data.train_csv, "CSV of the training set");
    bind("data.test_csv", c.data.test_csv, "CSV of the test set");
    bind("data.train_text", c.data.train_text, "text file of the training set (format = text)");
    bind("data.validation_text", c.data.validation_text, "text file of the validation set (format = text)");
    bind("data.csv_header", c.data.csv_header, "auto, true or false");
    bind("data.label_column", c.data.label_column, "label column: name or 0-based index");
    bind("data.scaling", c.data.scaling, "divide, standardize or none");
    bind("data.scale_divisor", c.data.scale_divisor, "divisor for scaling = divide");
    bind("data.validation_fraction", c.data.validation_fraction, "share held out for validation");
    bind("data.shuffle", c.data.shuffle, "global or local");
    bind("data.sample_shape", sample_shape_, "shape of one sample, channels last, e.g. 28,28,1 (empty: the file's)");
    bind("data.augment", c.data.augment, "none, or flip_horizontal and/or shift:N (images)");
    bind("model.hidden", hidden_, "hidden widths, e.g. 256,128");
    bind("model.activation", c.model.activation, "relu, tanh, sigmoid or gelu");
    bind("model.classes", c.model.classes, "number of classes");
    bind("model.seed", c.model.seed, "initialisation seed");
    bind("model.spec", c.model.spec, "ModelSpec JSON file (instead of hidden and activation)");
    bind("optim.name", c.optim.name, "adam, adamw or sgd");
    bind("optim.learning_rate", c.optim.learning_rate, "learning rate");
    bind("optim.beta1", c.optim.beta1, "Adam beta1");
    bind("optim.beta2", c.optim.beta2, "Adam beta2");
    bind("optim.epsilon", c.optim.epsilon, "Adam epsilon");
    bind("optim.momentum", c.optim.momentum, "SGD momentum");
    bind("optim.nesterov", c.optim.nesterov, "SGD Nesterov momentum");
    bind("optim.weight_decay", c.optim.weight_decay, "weight decay (adam, sgd: L2 lambda; adamw: decoupled)");
    bind("optim.schedule", c.optim.schedule, "constant, step or warmup_cosine");
    bind("optim.step_every", c.optim.step_every, "step schedule: steps between two decays");
    bind("optim.step_gamma", c.optim.step_gamma, "step schedule: decay factor");
    bind("optim.warmup_steps", c.optim.warmup_steps, "warmup_cosine: linear warm-up steps");
    bind("optim.decay_steps", c.optim.decay_steps, "warmup_cosine: step where the final rate is reached");
    bind("optim.final_learning_rate", c.optim.final_learning_rate, "warmup_cosine: final rate");
    bind("train.epochs", c.train.epochs, "epochs");
    bind("train.batch_size", c.train.batch_size, "per-rank batch");
    bind("train.global_batch_size", c.train.global_batch_size, "global batch (overrides batch_size)");
    bind("train.accumulate_steps", c.train.accumulate_steps, "micro-batches per optimizer step");
    bind("train.max_steps", c.train.max_steps, "stop after this many steps (0: no limit)");
    bind("train.seed", c.train.seed, "sampler seed");
    bind("train.log_every", c.train.log_every, "steps between metric lines");
    bind("train.threads", c.train.threads, "compute threads per rank");
    bind("train.precision", c.train.precision, "fp32 or bf16 (inputs of the matrix products)");
    bind("train.watchdog_seconds", c.train.watchdog_seconds, "abort when a step takes longer (s)");
    bind("train.nonfinite", c.train.nonfinite, "stop or skip on a non-finite loss or gradient");
    bind("train.max_skipped_steps", c.train.max_skipped_steps, "stop after this many consecutive skipped steps");
    bind("train.clip_grad_norm", c.train.clip_grad_norm, "clip the gradient's global norm (0: off)");
    bind("train.check_replicas_every", c.train.check_replicas_every, "replica hash check period (steps)");
    bind("checkpoint.dir", c.checkpoint.dir, "run directory (default runs/<config name>)");
    bind("checkpoint.every_epochs", c.checkpoint.every_epochs, "checkpoint every N epochs");
    bind("checkpoint.every_steps", c.checkpoint.every_steps, "checkpoint every N steps (0: never)");
    bind("checkpoint.resume", c.checkpoint.resume, "empty, auto, or a checkpoint path");
    bind("checkpoint.keep", c.checkpoint.keep, "keep the newest N checkpoints of this run's lineage (0: all)");
    bind("checkpoint.prune_newer", c.checkpoint.prune_newer,
         "resuming from an older checkpoint: remove the run directory's newer ones (else refused)");
    bind("dist.reducer", c.dist.reducer, "fused or bucketed");
    bind("dist.bucket_mb", c.dist.bucket_mb, "bucket size (MiB)");
    bind("dist.compression", c.dist.compression, "none, bf16 or fp16");
    bind("energy.enabled", c.energy.enabled, "energy accounting on or off");
    bind("energy.powercap_root", c.energy.powercap_root, "powercap sysfs root");
    bind("energy.rapl_domain", c.energy.rapl_domain, "package or psys");
    bind("energy.cpu_watts_per_core", c.energy.cpu_watts_per_core, "W per core for the estimate");
    bind("energy.pue", c.energy.pue, "power usage effectiveness");
    bind("energy.carbon_intensity_g_per_kwh", c.energy.carbon_intensity_g_per_kwh, "gCO2e per kWh");
    bind("energy.predict_after_steps", c.energy.predict_after_steps, "steps before the prediction");
    bind("energy.sample_seconds", c.energy.sample_seconds, "RAPL sampling period (s)");
    bind("energy.country_iso_code", c.energy.country_iso_code, "ISO code for emissions.csv");
    bind("log.level", c.log.level, "trace, debug, info, warn or error");
    bind("log.progress", c.log.progress, "progress bar: auto, true or false");
    bind("log.timeline", c.log.timeline, "write a Chrome trace per rank");
    hidden_ = fmt::format("{}", fmt::join(c.model.hidden, ","));
    sample_shape_ = fmt::format("{}", fmt::join(c.data.sample_shape, ","));
    spec_ = &c.model.spec;
  }

  po::options_description& description() { return desc_; }

  void finish(Config& c) {
    for (const auto& [key, value] : strings_) {
      if (key != "model.hidden" && key != "data.sample_shape") check_ini_representable(key, *value);  // re-joined
    }
    c.model.hidden = parse_int_list(hidden_, "model.hidden");
    c.data.sample_shape = parse_int_list(sample_shape_, "data.sample_shape");
  }

  std::string to_ini() const {
    std::string out;
    std::string section;
    for (const auto& [key, print] : printers_) {
      if (!spec_->empty() && (key == "model.hidden" || key == "model.activation")) continue;  // the spec says
      const auto dot = key.find('.');
      const std::string sec = key.substr(0, dot);
      if (sec != section) {
        out += (section.empty() ? "[" : "\n[") + sec + "]\n";
        section = sec;
      }
      out += key.substr(dot + 1) + " = " + print() + "\n";
    }
    return out;
  }

 private:
  template <class T>
  void bind(const char* key, T& field, const char* help) {
    if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
      // program_options reads "-1" into an unsigned field as 2^64 - 1 (it goes through lexical_cast):
      // such keys are read as text and converted here, refusing a sign or anything but digits.
      desc_.add_options()(key, po::value<std::string>()->notifier([key, &field](const std::string& text) {
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), field);
        if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
          throw ConfigError(std::string("config key ") + key + " = '" + text + "': must be an integer in [0, " +
                            std::to_string(std::numeric_limits<T>::max()) + "]");
        }
      }), help);
    } else if constexpr (std::is_floating_point_v<T>) {
      // lexical_cast reads "inf" and "nan" into a double (and refuses 1e999); no key means either.
      desc_.add_options()(key, po::value<T>(&field)->notifier([key](T value) {
        if (!std::isfinite(value)) {
          throw ConfigError(std::string("config key ") + key + " = " + format_value(value) + ": must be a finite number");
        }
      }), help);
    } else {
      desc_.add_options()(key, po::value<T>(&field), help);
    }
    printers_.emplace_back(key, [&field] { return format_value(field); });
    if constexpr (std::is_same_v<T, std::string>) strings_.emplace_back(key, &field);
  }
  po::options_description desc_;
  std::vector<std::pair<std::string, std::function<std::string()>>> printers_;
  std::vector<std::pair<std::string, std::string*>> strings_;  // the string-valued keys
  std::string hidden_;
  std::string sample_shape_;
  const std::string* spec_ = nullptr;  // model.spec
};

[[noreturn]] void fail(const std::string& where, const po::error& e) {
  throw ConfigError(where + ": " + e.what());
}

template <class T>
void require(bool ok, const std::string& key, const T& value, const std::string& allowed) {
  if (!ok) throw ConfigError("config key " + key + " = " + format_value(value) + ": must be " + allowed);
}

void require_one_of(const std::string& key, const std::string& value,
                    std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  throw ConfigError("config key " + key + " = '" + value + "': must be one of " + list);
}

// optim.schedule and the keys of each schedule; a key of another schedule than the chosen one must keep its
// default, so that a forgotten optim.schedule is an error rather than a silently constant rate.
void validate_schedule(const OptimConfig& o) {
  require_one_of("optim.schedule", o.schedule, {"constant", "step", "warmup_cosine"});
  const OptimConfig defaults;
  const auto only_with = [&](const char* key, bool is_default, const auto& value, const char* schedule) {
    require(is_default || o.schedule == schedule, key, value,
            fmt::format("left at its default unless optim.schedule = {} (it is {})", schedule, o.schedule));
  };
  only_with("optim.step_every", o.step_every == defaults.step_every, o.step_every, "step");
  only_with("optim.step_gamma", o.step_gamma == defaults.step_gamma, o.step_gamma, "step");
  only_with("optim.warmup_steps", o.warmup_steps == defaults.warmup_steps, o.warmup_steps, "warmup_cosine");
  only_with("optim.decay_steps", o.decay_steps == defaults.decay_steps, o.decay_steps, "warmup_cosine");
  only_with("optim.final_learning_rate", o.final_learning_rate == defaults.final_learning_rate,
            o.final_learning_rate, "warmup_cosine");
  if (o.schedule == "step") {
    require(o.step_every >= 1, "optim.step_every", o.step_every, ">= 1 with optim.schedule = step");
    require(o.step_gamma > 0 && o.step_gamma <= 1, "optim.step_gamma", o.step_gamma, "in (0, 1]");
  }
  if (o.schedule == "warmup_cosine") {
    require(o.warmup_steps >= 0, "optim.warmup_steps", o.warmup_steps, ">= 0");
    require(o.decay_steps > o.warmup_steps, "optim.decay_steps", o.decay_steps,
            fmt::format("> optim.warmup_steps ({}) with optim.schedule = warmup_cosine", o.warmup_steps));
    require(o.final_learning_rate >= 0 && o.final_learning_rate <= o.learning_rate, "optim.final_learning_rate",
            o.final_learning_rate, fmt::format("in [0, optim.learning_rate = {}]", o.learning_rate));
  }
}

}  // namespace

std::vector<int> parse_int_list(const std::string& text, const std::string& key) {
  std::vector<int> values;
  if (boost::algorithm::all(text, boost::algorithm::is_any_of(" \t"))) return values;
  std::vector<std::string> items;
  boost::algorithm::split(items, text, boost::algorithm::is_any_of(","));
  for (const auto& item : items) {
    const std::string trimmed = boost::algorithm::trim_copy_if(item, boost::algorithm::is_any_of(" \t"));
    int value = 0;
    auto [ptr, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
    if (trimmed.empty() || ec != std::errc() || ptr != trimmed.data() + trimmed.size() || value < 1) {
      throw ConfigError("config key " + key + " = '" + text + "': element '" + trimmed +
                        "' is not a positive integer");
    }
    values.push_back(value);
  }
  return values;
}

namespace {
// Boost.Program_options 1.74 builds an error message by replacing %option%, %value%, %invalid_line%, ... in
// a loop until none is left, so an unknown key, a bad value or a malformed line that itself contains such a
// placeholder makes what() loop forever (found by fuzz_config, twice). Any %name% token (letters and
// underscores between two percent signs) is therefore refused before program_options sees the text, which
// also covers placeholders of other Boost versions.
// @return the placeholder found in @p text, or an empty string; @p at receives its position.
std::string find_placeholder(const std::string& text, std::size_t& at) {
  for (std::size_t open = text.find('%'); open != std::string::npos; open = text.find('%', open + 1)) {
    std::size_t end = open + 1;
    while (end < text.size() && (std::isalpha(static_cast<unsigned char>(text[end])) != 0 || text[end] == '_')) ++end;
    if (end > open + 1 && end < text.size() && text[end] == '%') {
      at = open;
      return text.substr(open, end + 1 - open);
    }
  }
  return {};
}

constexpr const char* placeholder_why = "' is not allowed (Boost.Program_options cannot report an error about it)";

void check_no_placeholders(const std::string& ini, const std::string& origin,
                           const std::vector<std::string>& overrides) {
  std::size_t at = 0;
  if (const std::string token = find_placeholder(ini, at); !token.empty()) {
    const auto line = std::count(ini.begin(), ini.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1;
    throw ConfigError(origin + ": line " + std::to_string(line) + ": '" + token + placeholder_why);
  }
  for (const auto& t : overrides) check_no_option_placeholders(t, "command-line override");
}

Config parse(std::istream* in, const std::string& origin, const std::vector<std::string>& overrides) {
  Config config;
  Schema schema(config);
  po::variables_map vm;
  std::string ini;
  if (in != nullptr) ini.assign(std::istreambuf_iterator<char>(*in), std::istreambuf_iterator<char>());
  check_no_placeholders(ini, origin, overrides);
  if (in != nullptr) {
    std::istringstream text(ini);
    try {
      po::store(po::parse_config_file(text, schema.description(), false), vm);
    } catch (const po::error& e) {
      fail(origin, e);
    }
  }
  try {
    // Command-line overrides win: stored first, because program_options keeps the first value it sees.
    po::variables_map cli;
    const std::vector<std::string> tokens = split_empty_values(overrides);
    // A key given twice: the later value wins (program_options would refuse the repetition).
    // No prefix guessing: `--train.e=1` is an unknown key, as it is in the INI file.
    auto parsed = po::command_line_parser(tokens).options(schema.description()).style(command_line_style()).run();
    std::vector<po::option> last;
    for (auto& option : parsed.options) {
      if (option.position_key >= 0) {  // a token that is no option: program_options would drop it
        throw ConfigError("command-line override: unexpected argument '" +
                          (option.original_tokens.empty() ? std::string() : option.original_tokens.front()) +
                          "' (overrides are --section.key=value)");
      }
      std::erase_if(last, [&](const po::option& o) { return o.string_key == option.string_key; });
      last.push_back(option);
    }
    parsed.options = std::move(last);
    po::store(parsed, cli);
    for (auto& [key, value] : cli) vm.erase(key), vm.insert({key, value});
    po::notify(vm);
    if (!config.model.spec.empty()) {
      for (const char* key : {"model.hidden", "model.activation"}) {
        if (vm.count(key) != 0) {
          throw ConfigError("config key model.spec = '" + config.model.spec + "': the model comes from the file, " +
                            key + " must not be set with it");
        }
      }
    }
  } catch (const po::error& e) {
    fail("command-line override", e);
  }
  schema.finish(config);
  validate(config);
  return config;
}
}  // namespace

int command_line_style() {
  return po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
}

std::vector<std::string> split_empty_values(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  for (const auto& t : tokens) {
    if (t.size() > 3 && t.starts_with("--") && t.back() == '=' && t.find('=') == t.size() - 1) {
      out.push_back(t.substr(0, t.size() - 1));
      out.emplace_back();
    } else {
      out.push_back(t);
    }
  }
  return out;
}

void check_no_option_placeholders(const std::string& text, const std::string& where) {
  std::size_t at = 0;
  if (const std::string token = find_placeholder(text, at); !token.empty()) throw ConfigError(where + ": '" + token + placeholder_why);
}

Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return parse(nullptr, "", overrides);
  std::ifstream in(path);
  if (!in) throw ConfigError("config file " + path.string() + ": cannot be read");
  Config config = parse(&in, "config file " + path.string(), overrides);
  config.name = path.stem().string();
  return config;
}

Config parse_config_text(const std::string& ini, const std::string& origin) {
  std::istringstream in(ini);
  Config config = parse(&in, origin, {});
  return config;
}

void validate(const Config& c) {
  require_one_of("data.format", c.data.format, {"idx", "csv", "text"});
  if (c.data.format == "text") {
    require(!c.data.train_text.empty(), "data.train_text", c.data.train_text, "set for format = text");
    require(!c.model.spec.empty(), "model.spec", c.model.spec,
            "set for data.format = text (a language model; its input_shape (T) is the context)");
    require(c.data.shuffle == "global", "data.shuffle", c.data.shuffle,
            "global with data.format = text (every rank maps the whole text; windows are shuffled globally)");
    require(c.data.validation_text.empty() || c.data.validation_fraction == 0, "data.validation_fraction",
            c.data.validation_fraction, "0 when data.validation_text is set (one validation set)");
    require(c.data.augment == "none", "data.augment", c.data.augment, "none with data.format = text");
    const char* no_test = "empty with data.format = text (no test set: `mpitrain evaluate` scores a held-out text)";
    require(c.data.test_csv.empty(), "data.test_csv", c.data.test_csv, no_test);
    require(c.data.test_images.empty(), "data.test_images", c.data.test_images, no_test);
    require(c.data.sample_shape.empty(), "data.sample_shape", fmt::format("{}", fmt::join(c.data.sample_shape, ",")),
            "empty with data.format = text (the sample is model.spec's input_shape (T))");
  } else if (c.data.format == "idx") {
    require(!c.data.train_images.empty(), "data.train_images", c.data.train_images, "set for format = idx");
    require(!c.data.train_labels.empty(), "data.train_labels", c.data.train_labels, "set for format = idx");
    require(c.data.test_images.empty() == c.data.test_labels.empty(), "data.test_labels",
            c.data.test_labels, "set together with data.test_images");
  } else {
    require(!c.data.train_csv.empty(), "data.train_csv", c.data.train_csv, "set for format = csv");
  }
  require_one_of("data.csv_header", c.data.csv_header, {"auto", "true", "false"});
  require_one_of("data.scaling", c.data.scaling, {"divide", "standardize", "none"});
  require(c.data.scale_divisor > 0, "data.scale_divisor", c.data.scale_divisor, "> 0");
  require(c.data.validation_fraction >= 0 && c.data.validation_fraction < 1, "data.validation_fraction",
          c.data.validation_fraction, "in [0, 1)");
  require_one_of("model.activation", c.model.activation, {"relu", "tanh", "sigmoid"});
  require(c.model.classes >= 2, "model.classes", c.model.classes, ">= 2");
  require_one_of("optim.name", c.optim.name, {"adam", "adamw", "sgd"});
  require(c.optim.learning_rate > 0, "optim.learning_rate", c.optim.learning_rate, "> 0");
  require(c.optim.beta1 >= 0 && c.optim.beta1 < 1, "optim.beta1", c.optim.beta1, "in [0, 1)");
  require(c.optim.beta2 >= 0 && c.optim.beta2 < 1, "optim.beta2", c.optim.beta2, "in [0, 1)");
  require(c.optim.epsilon > 0, "optim.epsilon", c.optim.epsilon, "> 0");
  require(c.optim.momentum >= 0 && c.optim.momentum < 1, "optim.momentum", c.optim.momentum, "in [0, 1)");
  require(c.optim.weight_decay >= 0, "optim.weight_decay", c.optim.weight_decay, ">= 0");
  validate_schedule(c.optim);
  require(c.train.epochs >= 1, "train.epochs", c.train.epochs, ">= 1");
  require(c.train.batch_size >= 1, "train.batch_size", c.train.batch_size, ">= 1");
  require(c.train.global_batch_size >= 0, "train.global_batch_size", c.train.global_batch_size,
          ">= 0 (0: batch_size × world size)");
  require(c.train.max_steps >= 0, "train.max_steps", c.train.max_steps, ">= 0");
  require(c.train.accumulate_steps >= 1, "train.accumulate_steps", c.train.accumulate_steps, ">= 1");
  require(c.train.log_every >= 1, "train.log_every", c.train.log_every, ">= 1");
  require(c.train.threads >= 1, "train.threads", c.train.threads, ">= 1");
  require_one_of("train.precision", c.train.precision, {"fp32", "bf16"});
  require(c.checkpoint.every_epochs >= 0, "checkpoint.every_epochs", c.checkpoint.every_epochs, ">= 0");
  require_one_of("data.shuffle", c.data.shuffle, {"global", "local"});
  if (c.data.shuffle == "local") {
    // A rank holds only its shard: statistics over the whole set and a held-out split of it are not at hand.
    require(c.data.scaling != "standardize", "data.scaling", c.data.scaling,
            "divide or none with data.shuffle = local (standardize needs the whole training set on every rank)");
    require(c.data.validation_fraction == 0, "data.validation_fraction", c.data.validation_fraction,
            "0 with data.shuffle = local (the split needs the whole training set on every rank)");
  }
  require(c.train.watchdog_seconds > 0, "train.watchdog_seconds", c.train.watchdog_seconds, "> 0");
  require_one_of("train.nonfinite", c.train.nonfinite, {"stop", "skip"});
  require(c.train.max_skipped_steps >= 0, "train.max_skipped_steps", c.train.max_skipped_steps, ">= 0 (0: no limit)");
  require(c.train.clip_grad_norm >= 0, "train.clip_grad_norm", c.train.clip_grad_norm, ">= 0");
  require(c.train.check_replicas_every >= 0, "train.check_replicas_every", c.train.check_replicas_every, ">= 0");
  require(c.checkpoint.every_steps >= 0, "checkpoint.every_steps", c.checkpoint.every_steps, ">= 0");
  require(c.checkpoint.keep >= 0, "checkpoint.keep", c.checkpoint.keep, ">= 0");
  require_one_of("dist.reducer", c.dist.reducer, {"fused", "bucketed"});
  require(c.dist.bucket_mb > 0, "dist.bucket_mb", c.dist.bucket_mb, "> 0");
  require_one_of("dist.compression", c.dist.compression, {"none", "bf16", "fp16"});
  require_one_of("energy.rapl_domain", c.energy.rapl_domain, {"package", "psys"});
  require(c.energy.cpu_watts_per_core > 0, "energy.cpu_watts_per_core", c.energy.cpu_watts_per_core, "> 0");
  require(c.energy.pue >= 1, "energy.pue", c.energy.pue, ">= 1");
  require(c.energy.carbon_intensity_g_per_kwh >= 0, "energy.carbon_intensity_g_per_kwh",
          c.energy.carbon_intensity_g_per_kwh, ">= 0");
  require(c.energy.predict_after_steps >= 0, "energy.predict_after_steps", c.energy.predict_after_steps, ">= 0");
  require(c.energy.sample_seconds > 0, "energy.sample_seconds", c.energy.sample_seconds, "> 0");
  require_one_of("log.level", c.log.level, {"trace", "debug", "info", "warn", "error"});
  require_one_of("log.progress", c.log.progress, {"auto", "true", "false"});
}

std::string to_ini(const Config& config) {
  Config copy = config;
  Schema schema(copy);
  return schema.to_ini();
}

}  // namespace mpitrain::config
