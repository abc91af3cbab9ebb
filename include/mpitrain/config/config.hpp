#pragma once
/// @file config.hpp
/// The one configuration struct of a run, filled once from an INI file plus command-line overrides,
/// validated once, and written beside the run.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpitrain::config {

/// Thrown for a bad configuration: unknown key, wrong type or out-of-range value. what() names the key
/// (`section.key`) and, where known, the file.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// [data]: where the samples come from and how features are scaled.
struct DataConfig {
  std::string format = "idx";            ///< `idx` (gzipped or plain IDX pair), `csv` or `text` (bytes of a
                                         ///< text file, a language model's tokens; data/text_windows.hpp).
  std::string train_images;              ///< IDX images file of the training set (format = idx).
  std::string train_labels;              ///< IDX labels file of the training set (format = idx).
  std::string test_images;               ///< IDX images of the test set; empty: no test set.
  std::string test_labels;               ///< IDX labels of the test set.
  std::string train_csv;                 ///< CSV of the training set (format = csv).
  std::string test_csv;                  ///< CSV of the test set; empty: no test set.
  std::string train_text;                ///< Text file of the training set (format = text), memory-mapped.
  std::string validation_text;           ///< Text file of the validation set (format = text); empty: the
                                         ///< last validation_fraction of train_text, or none.
  std::string csv_header = "auto";       ///< `auto`, `true` or `false`.
  std::string label_column = "label";    ///< Label column: a header name or a 0-based index.
  std::string scaling = "divide";        ///< `divide` (by scale_divisor), `standardize` or `none`.
  double scale_divisor = 255.0;          ///< Divisor for scaling = divide (> 0).
  double validation_fraction = 0.0;      ///< Share of the training set held out for validation, [0, 1);
                                         ///< for format = text the file's last bytes (not a shuffled split).
  std::string shuffle = "global";        ///< `global` (one permutation, world-size independent) or `local`
                                         ///< (each rank loads and shuffles only its 1/N shard).
  /// The shape of one sample, channels last (e.g. {28, 28, 1}); empty: the file's (IDX images: rows,
  /// columns, 1; CSV: the feature count). Its product must be the features per row.
  std::vector<int> sample_shape;
  /// Training-set augmentation (data::parse_augmentation): `none`, or a list of `flip_horizontal` and
  /// `shift:N`. Needs samples of shape (height, width, channels).
  std::string augment = "none";
};

/// [model]: the architecture, either an MLP (hidden, activation, classes) or a ModelSpec JSON file (spec).
struct ModelConfig {
  std::vector<int> hidden = {256, 128};  ///< Hidden layer widths, e.g. `256,128`; may be empty.
  std::string activation = "relu";       ///< `relu`, `tanh` or `sigmoid` (hidden layers only).
  int classes = 10;                      ///< Number of classes K (width of the logits; labels in [0, K)).
  std::uint64_t seed = 1;                ///< Seed of the initialisation (nn::Model::init).
  /// A ModelSpec JSON file (README, "Model specification") instead of the MLP of hidden and activation;
  /// empty: the MLP. Setting it together with hidden or activation is an error; to_ini then omits those two.
  std::string spec;
};

/// [optim]: the optimizer.
struct OptimConfig {
  std::string name = "adam";             ///< `adam`, `adamw` or `sgd`.
  double learning_rate = 1e-3;           ///< Step size (> 0); with a schedule, its base (peak) rate.
  double beta1 = 0.9;                    ///< Adam first-moment decay, [0, 1).
  double beta2 = 0.999;                  ///< Adam second-moment decay, [0, 1).
  double epsilon = 1e-7;                 ///< Adam epsilon (> 0), Keras's default.
  double momentum = 0.0;                 ///< SGD momentum, [0, 1).
  bool nesterov = false;                 ///< SGD Nesterov momentum.
  double weight_decay = 0.0;             ///< Weights only (>= 0). adam, sgd: the L2 coefficient lambda,
                                         ///< loss += lambda * sum ||W||^2. adamw: the decoupled coefficient,
                                         ///< W -= learning rate * weight_decay * W before each update.
  std::string schedule = "constant";     ///< Learning-rate schedule: `constant`, `step` or `warmup_cosine`.
  std::int64_t step_every = 0;           ///< step: multiply the rate by step_gamma every N steps (>= 1).
  double step_gamma = 0.1;               ///< step: the factor, in (0, 1].
  std::int64_t warmup_steps = 0;         ///< warmup_cosine: steps of linear warm-up (>= 0).
  std::int64_t decay_steps = 0;          ///< warmup_cosine: global step at which the cosine reaches
                                         ///< final_learning_rate (> warmup_steps).
  double final_learning_rate = 0.0;      ///< warmup_cosine: the rate from decay_steps on, in [0, learning_rate].
};

/// [train]: the loop.
struct TrainConfig {
  int epochs = 10;                       ///< Passes over the training set (>= 1).
  int batch_size = 64;                   ///< Per-rank batch (the DDP convention); global = batch_size * world size.
  int global_batch_size = 0;             ///< If > 0, the global batch G, split across ranks; overrides batch_size.
  /// Gradient accumulation: K micro-batches (each of batch_size rows per rank, or G split across ranks) per
  /// optimizer step, one allreduce per step; the step's global batch is K times the micro-batches' (>= 1).
  int accumulate_steps = 1;
  std::int64_t max_steps = 0;            ///< If > 0, stop after this many optimizer steps in total.
  std::uint64_t seed = 1;                ///< Seed of the sampler's per-epoch permutation.
  int log_every = 100;                   ///< Steps between metric lines (>= 1).
  int threads = 1;                       ///< Compute threads per rank (>= 1): oneDNN's and Eigen's.
  std::string precision = "fp32";        ///< Inputs of the matrix products and convolutions: `fp32`, or `bf16`
                                         ///< (rounded to bfloat16, accumulated in fp32; parameters, reduced
                                         ///< gradients, optimizer state and loss stay fp32).
  double watchdog_seconds = 600;         ///< Abort the job when a step or collective takes longer (s, > 0).
  std::string nonfinite = "stop";        ///< On a non-finite loss or gradient: `stop` or `skip` the step.
  std::int64_t max_skipped_steps = 100;  ///< With nonfinite = skip: stop (as with `stop`, exit 1) after this
                                         ///< many consecutive skipped steps (0: no limit).
  double clip_grad_norm = 0;             ///< If > 0, clip the averaged gradient to this global L2 norm.
  std::int64_t check_replicas_every = 100;  ///< Compare parameter hashes across ranks every N steps
                                            ///< (0: only at the end of the run).
};

/// [checkpoint]: the run directory and checkpoints.
struct CheckpointConfig {
  std::string dir;                       ///< Run directory; empty: `runs/<config file stem>`.
  int every_epochs = 1;                  ///< Write a checkpoint every N epochs (0: only at the end).
  std::int64_t every_steps = 0;          ///< Also write one every N steps (0: never).
  std::string resume;                    ///< Empty: fresh start; `auto`: newest valid checkpoint in dir; or a path.
  int keep = 0;                          ///< Keep the newest N checkpoints of the run's lineage (0: keep all).
  bool prune_newer = false;              ///< Resuming from a file with newer checkpoints of the same run in dir:
                                         ///< remove them (logged) once this run has written a checkpoint;
                                         ///< false: such a resume is refused.
};

/// [dist]: gradient exchange.
struct DistConfig {
  std::string reducer = "fused";         ///< `fused` (one allreduce after backward) or `bucketed` (overlapped);
                                         ///< fused is the faster on a 2-core node (README, Performance).
  double bucket_mb = 0.25;               ///< Bucket size in MiB for the bucketed reducer (> 0).
  std::string compression = "none";      ///< Gradient exchange type: `none` (fp32), `bf16` or `fp16`.
};

/// [energy]: energy and carbon accounting.
struct EnergyConfig {
  bool enabled = true;                   ///< Measure or estimate energy at all.
  std::string powercap_root = "/sys/class/powercap";  ///< Root of the Linux powercap (RAPL) tree.
  std::string rapl_domain = "package";   ///< `package` (package + dram zones) or `psys` (platform zone).
  double cpu_watts_per_core = 12.0;      ///< Green Algorithms P_core (W per core) for the estimate.
  double pue = 1.0;                      ///< Power usage effectiveness of the facility (>= 1).
  double carbon_intensity_g_per_kwh = 475.0;  ///< Grid carbon intensity (gCO2e/kWh); 475 world average.
  std::int64_t predict_after_steps = 50; ///< Log a prediction of the whole run after this many steps (0: off).
  double sample_seconds = 1.0;           ///< RAPL sampling period of the sampling thread (s, > 0).
  std::string country_iso_code;          ///< For emissions.csv (optional).
};

/// [log]: logging.
struct LogConfig {
  std::string level = "info";            ///< spdlog level: trace, debug, info, warn, error.
  std::string progress = "auto";         ///< Progress bar: `auto` (on a terminal), `true`, `false`.
  bool timeline = false;                 ///< Write a Chrome trace per rank (timeline-rank<N>.json).
};

/// A whole run's configuration.
struct Config {
  DataConfig data;
  ModelConfig model;
  OptimConfig optim;
  TrainConfig train;
  CheckpointConfig checkpoint;
  LogConfig log;
  DistConfig dist;
  EnergyConfig energy;
  std::string name = "run";              ///< Config name: the stem of the config file.
};

/// Reads an INI file (sections [data], [model], [optim], [train], [checkpoint], [log], [dist], [energy])
/// and applies
/// overrides of the form `--section.key=value` (later wins), then validates.
/// @param path INI file; an empty path means defaults plus overrides.
/// @param overrides command-line tokens `--section.key=value` (or `--section.key value`).
/// @throws ConfigError naming the file and key for an unknown key (also an abbreviated one on the command
///         line: no prefix guessing), a wrong type, an out-of-range value or a float key that is not finite
///         (inf, nan),
///         a string value that to_ini could not write back (containing '#' or a line break, or beginning or
///         ending with whitespace: possible only in an override), text containing one of Boost's message
///         placeholders %option%, %value%, %canonical_option%, %original_token%, %prefix% (naming the line),
///         or naming the file when it cannot be read.
Config load_config(const std::filesystem::path& path, const std::vector<std::string>& overrides);

/// Parses INI text (as written by to_ini, e.g. the config stored in a checkpoint) and validates it.
/// @param origin names the text's source in error messages.
/// @throws ConfigError naming @p origin and the key.
Config parse_config_text(const std::string& ini, const std::string& origin);

/// Checks every value's range; called by load_config.
/// @throws ConfigError naming the key, the value and the allowed range.
void validate(const Config& config);

/// The resolved configuration as INI text (every key, `section.key = value`), which load_config reads back
/// to an equal Config.
std::string to_ini(const Config& config);

/// Refuses text that Boost.Program_options 1.74 cannot report an error about: its error messages replace
/// placeholders such as %option%, %value% or %invalid_line% in a loop until none is left, so an unknown
/// option, a bad value or a malformed line containing one makes the error's what() loop forever. Any token
/// of letters and underscores between two percent signs (`%name%`) is refused.
/// Call it on command-line tokens before giving them to program_options (load_config does, for its input).
/// @throws ConfigError "<where>: '<placeholder>' is not allowed ..." when @p text contains one.
void check_no_option_placeholders(const std::string& text, const std::string& where);

/// The Boost.Program_options command-line style of every mpitrain parser: the default style without
/// `allow_guessing`, so that an abbreviated option (`--train.e=1`) is an unknown option, not a guess.
int command_line_style();

/// Command-line tokens as Boost.Program_options can read them: `--name=` (an empty value, which it refuses
/// in that form) becomes the two tokens `--name` and ""; every other token is kept as it is.
std::vector<std::string> split_empty_values(const std::vector<std::string>& tokens);

/// Parses a comma-separated list of positive integers such as `256,128` (empty string: empty list).
/// @throws ConfigError naming @p key when an element is not a positive integer.
std::vector<int> parse_int_list(const std::string& text, const std::string& key);

}  // namespace mpitrain::config
