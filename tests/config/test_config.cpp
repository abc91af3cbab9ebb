// Config parsing: every bad key, type and value is an error naming the key.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "mpitrain/config/config.hpp"

using namespace mpitrain::config;

namespace {
std::filesystem::path write_ini(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("mpitrain_test_" + name + ".ini");
  std::ofstream(path) << text;
  return path;
}
const std::string minimal = "[data]\ntrain_images = a.gz\ntrain_labels = b.gz\n";

std::string error_of(const std::filesystem::path& path, const std::vector<std::string>& overrides = {}) {
  try {
    load_config(path, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Config, PrecisionDefaultsToFp32AndTakesBf16) {
  const auto path = write_ini("precision", minimal);
  EXPECT_EQ(load_config(path, {}).train.precision, "fp32");
  EXPECT_EQ(load_config(path, {"--train.precision=bf16"}).train.precision, "bf16");
}

TEST(Config, ReadsValuesAndOverridesWin) {
  const auto path = write_ini("ok", minimal + "[model]\nhidden = 32, 16\n[train]\nepochs = 3\nbatch_size = 8\n");
  const Config c = load_config(path, {"--train.epochs=4", "--train.epochs=5", "--optim.learning_rate", "0.5"});
  EXPECT_EQ(c.train.epochs, 5);
  EXPECT_EQ(c.train.batch_size, 8);
  EXPECT_DOUBLE_EQ(c.optim.learning_rate, 0.5);
  EXPECT_EQ(c.model.hidden, (std::vector<int>{32, 16}));
  EXPECT_EQ(c.name, "mpitrain_test_ok");
  EXPECT_EQ(c.data.train_images, "a.gz");
}

TEST(Config, EmptyValuesAreSplitForProgramOptions) {
  EXPECT_EQ(split_empty_values({"--data.test_csv=", "--a=b", "--x", "1", "--=", "stray", "--c==", ""}),
            (std::vector<std::string>{"--data.test_csv", "", "--a=b", "--x", "1", "--=", "stray", "--c==", ""}));
  // The empty value reaches the config.
  const Config c = load_config(write_ini("empty", minimal + "test_images = t.gz\n"), {"--data.test_images="});
  EXPECT_EQ(c.data.test_images, "");
}

TEST(Config, UnknownKeyIsNamed) {
  const auto path = write_ini("unknown", minimal + "[train]\nepocs = 3\n");
  const std::string e = error_of(path);
  EXPECT_NE(e.find("train.epocs"), std::string::npos) << e;
  EXPECT_NE(e.find(path.string()), std::string::npos) << e;
  EXPECT_NE(error_of(write_ini("ok2", minimal), {"--optim.lr=1"}).find("optim.lr"), std::string::npos);
}

TEST(Config, WrongTypeIsNamed) {
  const std::string e = error_of(write_ini("type", minimal + "[train]\nepochs = ten\n"));
  EXPECT_NE(e.find("train.epochs"), std::string::npos) << e;
  const std::string h = error_of(write_ini("hidden", minimal + "[model]\nhidden = 256,x\n"));
  EXPECT_NE(h.find("model.hidden"), std::string::npos) << h;
}

TEST(Config, OutOfRangeIsNamed) {
  const auto path = write_ini("range", minimal);
  for (const auto& [override, key] : std::vector<std::pair<std::string, std::string>>{
           {"--train.batch_size=0", "train.batch_size"},
           {"--optim.learning_rate=-1", "optim.learning_rate"},
           {"--optim.beta1=1", "optim.beta1"},
           {"--model.activation=gelu", "model.activation"},
           {"--data.validation_fraction=1.5", "data.validation_fraction"},
           {"--model.classes=1", "model.classes"},
           {"--train.max_skipped_steps=-1", "train.max_skipped_steps"},
           {"--train.precision=fp64", "train.precision"}}) {
    const std::string e = error_of(path, {override});
    EXPECT_NE(e.find(key), std::string::npos) << override << ": " << e;
  }
}

// Boost.Program_options guesses an unambiguous prefix by default (`--train.e` for train.epochs); the INI
// reader does not: both refuse it, naming the key as given.
TEST(Config, AbbreviatedKeyIsUnknownOnTheCommandLineToo) {
  const auto path = write_ini("prefix", minimal);
  for (const std::string key : {"train.e", "train.epoch", "optim.learning", "checkpoint.resu"}) {
    const std::string e = error_of(path, {"--" + key + "=1"});
    EXPECT_NE(e.find("unrecognised option '--" + key + "=1'"), std::string::npos) << key << ": " << e;
  }
  const std::string e = error_of(write_ini("prefix_ini", minimal + "[train]\ne = 1\n"));
  EXPECT_NE(e.find("train.e"), std::string::npos) << e;
  EXPECT_EQ(load_config(path, {"--train.epochs=3"}).train.epochs, 3);  // the full key still works
}

// Every floating-point key: program_options reads inf and nan into a double (1e999 is refused already), and
// a range check like `> 0` lets inf through.
TEST(Config, NonFiniteFloatIsNamed) {
  const auto path = write_ini("finite", minimal);
  const std::vector<std::string> float_keys = {
      "data.scale_divisor", "data.validation_fraction", "optim.learning_rate", "optim.beta1", "optim.beta2",
      "optim.epsilon", "optim.momentum", "optim.weight_decay", "train.watchdog_seconds", "train.clip_grad_norm",
      "dist.bucket_mb", "energy.cpu_watts_per_core", "energy.pue", "energy.carbon_intensity_g_per_kwh",
      "energy.sample_seconds"};
  for (const auto& key : float_keys) {
    for (const std::string value : {"inf", "-inf", "nan", "Infinity", "NaN"}) {
      const std::string e = error_of(path, {"--" + key + "=" + value});
      EXPECT_NE(e.find("config key " + key + " = "), std::string::npos) << key << "=" << value << ": " << e;
      EXPECT_NE(e.find("must be a finite number"), std::string::npos) << key << "=" << value << ": " << e;
    }
  }
  const std::string e = error_of(write_ini("finite_ini", minimal + "[optim]\nlearning_rate = inf\n"));
  EXPECT_NE(e.find("config key optim.learning_rate = inf: must be a finite number"), std::string::npos) << e;
}

// Seeds are unsigned 64-bit: program_options alone would read "-1" as 2^64 - 1 without a word.
TEST(Config, NegativeOrMalformedSeedIsNamed) {
  const auto path = write_ini("seed", minimal + "[model]\nseed = 7\n");
  EXPECT_EQ(load_config(path, {}).model.seed, 7u);
  EXPECT_EQ(load_config(path, {"--train.seed=18446744073709551615"}).train.seed, 18446744073709551615ull);
  for (const std::string bad : {"-1", "1e3", "0x10", "18446744073709551616", " 5x"}) {
    const std::string e = error_of(path, {"--model.seed=" + bad});
    EXPECT_NE(e.find("config key model.seed = '" + bad + "': must be an integer in [0, 18446744073709551615]"),
              std::string::npos) << bad << ": " << e;
  }
  const std::string e = error_of(write_ini("seed_ini", minimal + "[train]\nseed = -3\n"));
  EXPECT_NE(e.find("train.seed = '-3'"), std::string::npos) << e;
  const Config c = load_config(path, {"--train.seed=42"});
  EXPECT_EQ(parse_config_text(to_ini(c), "round trip").train.seed, 42u);
}

TEST(Config, MissingFileIsNamed) {
  EXPECT_NE(error_of("/nonexistent/x.ini").find("/nonexistent/x.ini"), std::string::npos);
}

TEST(Config, IniRoundTrip) {
  const Config c = load_config(write_ini("rt", minimal), {"--optim.learning_rate=0.0003", "--model.hidden=7",
                                                          "--optim.nesterov=true", "--model.seed=18446744073709551615"});
  const Config back = parse_config_text(to_ini(c), "round trip");
  EXPECT_EQ(to_ini(back), to_ini(c));
  EXPECT_DOUBLE_EQ(back.optim.learning_rate, 0.0003);
  EXPECT_EQ(back.model.hidden, std::vector<int>{7});
  EXPECT_TRUE(back.optim.nesterov);
  EXPECT_EQ(back.model.seed, 18446744073709551615ULL);
}

TEST(Config, OptimizerAndScheduleKeys) {
  const auto path = write_ini("schedule", minimal);
  const Config c = load_config(path, {"--optim.name=adamw", "--optim.weight_decay=0.05",
                                      "--optim.schedule=warmup_cosine", "--optim.warmup_steps=10",
                                      "--optim.decay_steps=100", "--optim.final_learning_rate=1e-5"});
  EXPECT_EQ(c.optim.name, "adamw");
  EXPECT_EQ(c.optim.decay_steps, 100);
  const Config back = parse_config_text(to_ini(c), "round trip");
  EXPECT_EQ(to_ini(back), to_ini(c));
  EXPECT_DOUBLE_EQ(back.optim.final_learning_rate, 1e-5);
  EXPECT_EQ(load_config(path, {"--optim.schedule=step", "--optim.step_every=5"}).optim.step_every, 5);
  for (const auto& [overrides, key] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--optim.schedule=cyclic"}, "optim.schedule"},
           {{"--optim.name=lamb"}, "optim.name"},
           {{"--optim.schedule=step"}, "optim.step_every = 0: must be >= 1"},
           {{"--optim.schedule=step", "--optim.step_every=2", "--optim.step_gamma=0"}, "optim.step_gamma"},
           {{"--optim.schedule=step", "--optim.step_every=2", "--optim.step_gamma=1.5"}, "optim.step_gamma"},
           {{"--optim.schedule=warmup_cosine"}, "optim.decay_steps = 0: must be > optim.warmup_steps (0)"},
           {{"--optim.schedule=warmup_cosine", "--optim.warmup_steps=8", "--optim.decay_steps=8"},
            "optim.decay_steps"},
           {{"--optim.schedule=warmup_cosine", "--optim.warmup_steps=-1", "--optim.decay_steps=8"},
            "optim.warmup_steps"},
           {{"--optim.schedule=warmup_cosine", "--optim.decay_steps=8", "--optim.final_learning_rate=0.01"},
            "optim.final_learning_rate"},
           // A key of another schedule than the chosen one (here the default, constant) is refused.
           {{"--optim.warmup_steps=10"}, "optim.warmup_steps = 10: must be left at its default unless "
                                         "optim.schedule = warmup_cosine (it is constant)"},
           {{"--optim.schedule=warmup_cosine", "--optim.decay_steps=8", "--optim.step_every=2"},
            "optim.step_every"}}) {
    const std::string e = error_of(path, overrides);
    EXPECT_NE(e.find(key), std::string::npos) << overrides.front() << ": " << e;
  }
}

// model.spec replaces hidden and activation: setting either with it (file or override) is an error naming
// both keys; to_ini leaves them out, so that config.ini and a checkpoint's config read back.
TEST(Config, ModelSpecExcludesHiddenAndActivation) {
  const Config c = load_config(write_ini("spec", minimal + "[model]\nspec = net.json\nclasses = 3\n"), {});
  EXPECT_EQ(c.model.spec, "net.json");
  const std::string ini = to_ini(c);
  EXPECT_EQ(ini.find("hidden ="), std::string::npos) << ini;
  EXPECT_EQ(ini.find("activation ="), std::string::npos) << ini;
  EXPECT_NE(ini.find("spec = net.json"), std::string::npos) << ini;
  const Config back = parse_config_text(ini, "round trip");
  EXPECT_EQ(back.model.spec, "net.json");
  EXPECT_EQ(to_ini(back), ini);
  for (const auto& [text, overrides, key] :
       std::vector<std::tuple<std::string, std::vector<std::string>, std::string>>{
           {"[model]\nspec = net.json\nhidden = 8\n", {}, "model.hidden"},
           {"[model]\nspec = net.json\n", {"--model.activation=tanh"}, "model.activation"},
           {"[model]\nhidden = 8\n", {"--model.spec=net.json"}, "model.hidden"}}) {
    const std::string e = error_of(write_ini("spec_both", minimal + text), overrides);
    EXPECT_NE(e.find("config key model.spec = 'net.json'"), std::string::npos) << e;
    EXPECT_NE(e.find(key + " must not be set with it"), std::string::npos) << e;
  }
  // An empty spec (the default) leaves the MLP keys as they were.
  const Config mlp = load_config(write_ini("spec_empty", minimal + "[model]\nspec =\nhidden = 8\n"), {});
  EXPECT_EQ(mlp.model.hidden, std::vector<int>{8});
  EXPECT_NE(to_ini(mlp).find("hidden = 8"), std::string::npos);
}

TEST(Config, TextFormatKeys) {
  const auto path = write_ini("text", "[data]\nformat = text\ntrain_text = kjv.txt\nvalidation_fraction = 0.1\n"
                                      "[model]\nspec = gpt.json\n");
  const Config c = load_config(path, {});
  EXPECT_EQ(c.data.train_text, "kjv.txt");
  EXPECT_EQ(c.data.validation_text, "");
  EXPECT_EQ(load_config(path, {"--data.validation_fraction=0", "--data.validation_text=v.txt"}).data.validation_text,
            "v.txt");
  EXPECT_EQ(load_config(write_ini("text_ini", to_ini(c)), {}).data.train_text, "kjv.txt");  // round trip
  for (const auto& [override, key] : std::vector<std::pair<std::string, std::string>>{
           {"--data.train_text=", "data.train_text"},
           {"--model.spec=", "model.spec"},
           {"--data.shuffle=local", "data.shuffle"},
           {"--data.validation_text=v.txt", "data.validation_fraction"},  // both: which validation set?
           {"--data.augment=shift:1", "data.augment"},
           {"--data.sample_shape=4,4", "data.sample_shape"},
           {"--data.test_csv=t.csv", "data.test_csv"}}) {
    const std::string e = error_of(path, {override});
    EXPECT_NE(e.find("config key " + key), std::string::npos) << override << ": " << e;
  }
}
