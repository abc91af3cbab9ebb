#include "mpitrain/train/trainer.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>
#include <filesystem>
#include <limits>
#include <array>

#include "mpitrain/base/checksum.hpp"
#include "mpitrain/base/exit_codes.hpp"
#include "mpitrain/base/files.hpp"
#include "mpitrain/checkpoint/checkpoint.hpp"
#include "mpitrain/checkpoint/checkpoint_store.hpp"
#include "mpitrain/checkpoint/lineage.hpp"
#include "mpitrain/checkpoint/resume.hpp"
#include "mpitrain/data/batch.hpp"
#include "mpitrain/data/sampler.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"
#include "mpitrain/energy/energy_monitor.hpp"
#include "mpitrain/guard/stop_signal.hpp"
#include "mpitrain/guard/watchdog.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/task.hpp"
#include "mpitrain/optim/optimizer.hpp"
#include "mpitrain/telemetry/metrics.hpp"
#include "mpitrain/telemetry/progress.hpp"
#include "mpitrain/telemetry/step_profile.hpp"
#include "mpitrain/telemetry/timeline.hpp"
#include "mpitrain/train/evaluation.hpp"
#include "mpitrain/train/reducer_setup.hpp"
#include "mpitrain/train/step.hpp"
#include "mpitrain/train/step_clock.hpp"

namespace mpitrain::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Loss and accuracy summed over some steps on this rank (an epoch, a log interval); summed across
// ranks when reported.
struct RunningSums {
  double loss = 0.0;      // sum of per-sample losses
  double correct = 0.0;   // samples classified correctly
  double count = 0.0;     // targets scored: samples, or tokens for a language model
  double penalty = 0.0;   // sum over steps of the L2 penalty
  double steps = 0.0;     // applied steps
  double skipped = 0.0;   // skipped steps (train.nonfinite = skip)
  std::array<double, 3> carried{};  // loss, correct, count of every rank before a resume (checkpoint::RunProgress)
  Clock::time_point start = Clock::now();

  void add(const nn::LossSums& sums, double step_penalty) {
    loss += sums.loss;
    correct += static_cast<double>(sums.correct);
    count += static_cast<double>(sums.count);
    penalty += step_penalty;
    steps += 1;
  }
  struct Means {
    nlohmann::json loss;      // mean loss per target + mean penalty per step; null if no step was applied
    nlohmann::json accuracy;  // null if no step was applied
    double samples;           // global samples of the applied steps, carried ones included
    double samples_here;      // of those, the ones trained since this process began the sums
  };
  // Collective: {loss, correct, count} summed over the ranks (without the carried sums).
  std::array<double, 3> global_sums(const dist::Communicator& comm) const {
    std::array<double, 3> sums{loss, correct, count};
    comm.allreduce(std::span<double>(sums), dist::ReduceOp::sum);
    return sums;
  }
  // Collective: the means over every rank's targets, of @p per_sample targets per sample.
  Means reduce(const dist::Communicator& comm, std::int64_t per_sample) const {
    const std::array<double, 3> here = global_sums(comm);
    const double n = here[2] + carried[2], t = static_cast<double>(per_sample);
    if (steps == 0 || n == 0) return {nullptr, nullptr, n / t, here[2] / t};
    return {(here[0] + carried[0]) / n + penalty / steps, (here[1] + carried[1]) / n, n / t, here[2] / t};
  }
};

std::string format_metric(const nlohmann::json& value) {
  return value.is_null() ? std::string("n/a") : fmt::format("{:.4f}", value.get<double>());
}

// A language model's loss per token with its bits per byte, for the console: "1.2345 (1.7810 bpb)".
std::string format_token_loss(const nlohmann::json& value) {
  if (value.is_null()) return "n/a";
  return fmt::format("{:.4f} ({:.4f} bpb)", value.get<double>(), nn::bits_per_byte(value.get<double>()));
}

// The sampler of data.shuffle: global (every rank holds every sample) or local (each rank its own shard;
// the shard sizes are gathered so that every rank knows the steps per epoch and each step's global count).
// Collective with a local shard; an impossible split (no sample at all, a global batch smaller than the
// world) is an error on every rank alike.
std::unique_ptr<data::BatchSampler> make_sampler(const config::Config& config, const TrainingData& data,
                                                 const dist::Communicator& comm, std::int64_t global_batch) {
  if (!data.local_shard) {
    return std::make_unique<data::DistributedSampler>(data.train_samples(), global_batch, config.train.seed);
  }
  const std::int64_t mine = data.train.size();
  std::vector<std::int64_t> sizes = comm.allgatherv(std::span<const std::int64_t>(&mine, 1));
  try {
    return std::make_unique<data::ShardSampler>(std::move(sizes), global_batch, config.train.seed, comm.rank());
  } catch (const std::invalid_argument& e) {
    throw dist::AgreedError(std::string("data.shuffle = local: ") + e.what(), 0);
  }
}

// The training loop of one run; see trainer.hpp.
class Trainer {
 public:
  Trainer(const config::Config& config, TrainingData& data, nn::Model& model, const nn::Task& task,
          const dist::Communicator& comm, std::filesystem::path run_dir, const guard::FaultPlan& faults)
      : config_(config), data_(data), comm_(comm), run_dir_(std::move(run_dir)), faults_(faults),
        rank_(comm.rank()), world_(comm.size()),
        global_batch_((config.train.global_batch_size > 0
                           ? config.train.global_batch_size
                           : static_cast<std::int64_t>(config.train.batch_size) * world_) *
                      config.train.accumulate_steps),
        max_rows_((global_batch_ + world_ - 1) / world_),
        sampler_(make_sampler(config, data, comm, global_batch_)),
        model_(model),
        task_(task),
        optimizer_(optim::make_optimizer(config.optim, model_.registry())),
        reducer_(make_reducer(config.dist, comm, model_)),
        step_(config, model_, task_, *optimizer_, *reducer_, comm, max_rows_, faults, data.train.sample_shape()),
        trajectory_(checkpoint::trajectory_config(config, global_batch_, world_)) {
    total_steps_ = sampler_->steps_per_epoch() * config.train.epochs;
    if (config.train.max_steps > 0) total_steps_ = std::min(total_steps_, config.train.max_steps);
    // Profile after a warm-up of up to 50 steps (a tenth of the run); keep a timeline if asked.
    const std::int64_t steps_left = std::max<std::int64_t>(total_steps_, 0);
    if (config.log.timeline) {
      const auto spans = static_cast<std::size_t>(steps_left) * (10 + reducer_->bucket_count()) + 1024;
      timeline_.emplace(rank_, std::min<std::size_t>(spans, 4'000'000));
    }
    profile_ = telemetry::StepProfile(std::min<std::int64_t>(50, steps_left / 10), timeline_ ? &*timeline_ : nullptr);
  }

  nlohmann::json run();

 private:
  void initialise();
  void write_run_config();
  void log_plan() const;
  // The epochs left to train; returns the last epoch record (null when nothing was left to train).
  nlohmann::json run_epochs();
  void train_step(std::int64_t epoch, std::int64_t step, RunningSums& epoch_sums, RunningSums& log_sums);
  void count_skip(bool applied, RunningSums& epoch_sums, RunningSums& log_sums);
  [[noreturn]] void stop_for_signal(std::int64_t epochs_done, std::int64_t step_in_epoch);
  void write_checkpoint_now(std::int64_t epochs_done, std::int64_t step_in_epoch);
  [[nodiscard]] checkpoint::CheckpointInfo checkpoint_info(std::int64_t epochs_done, std::int64_t step_in_epoch,
                                                           const checkpoint::RunProgress& progress) const;
  void check_resumable(const checkpoint::Checkpoint& ckpt, const std::filesystem::path& path) const;
  void write_final_weights();
  void check_replicas(const char* when);
  void mark(base::StepPhase phase) { clock_.mark(phase, global_step_); }
  void log_interval(std::int64_t epoch, RunningSums& sums);
  nlohmann::json end_epoch(std::int64_t epoch, std::int64_t steps_done, const RunningSums& sums, double seconds);
  nlohmann::json build_summary(const nlohmann::json& last_epoch);
  // Collective: the validation set's metrics (text windows or rows), or nothing without a validation set;
  // computed once per global step (the end of the last epoch and the summary share it).
  std::optional<EvaluationResult> evaluate_validation();
  // Adds a language model's bits per byte and perplexity of @p loss to @p record as <prefix>bits_per_byte and
  // <prefix>perplexity (nothing for classification).
  void add_token_metrics(nlohmann::json& record, const std::string& prefix, const nlohmann::json& loss) const;
  // A loss for the console: "loss/token 1.2345 (1.7810 bpb)" for a language model, else "loss 0.1234".
  [[nodiscard]] std::string loss_text(const nlohmann::json& loss) const;
  // A rate for the console from @p samples in @p seconds: "1234 tokens/s" for a language model, else samples/s.
  [[nodiscard]] std::string rate_text(double samples, double seconds) const;
  void write_outputs(nlohmann::json& summary);

  const config::Config& config_;
  TrainingData& data_;
  const dist::Communicator& comm_;
  std::filesystem::path run_dir_;
  const guard::FaultPlan& faults_;
  int rank_;
  int world_;
  std::int64_t global_batch_;
  std::int64_t max_rows_;
  std::unique_ptr<data::BatchSampler> sampler_;  // data.shuffle: global or local
  nn::Model& model_;
  const nn::Task& task_;  // loss and metrics
  const bool text_ = data_.text.has_value();  // a language model on text: metrics per token
  const std::int64_t per_sample_ = task_.targets_per_sample();  // tokens per window for text, else 1
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<dist::GradientReducer> reducer_;  // config.dist: fused or bucketed, compression
  Step step_;
  std::optional<telemetry::Timeline> timeline_;     // log.timeline
  telemetry::StepProfile profile_{0};
  std::string trajectory_;
  guard::Watchdog watchdog_{config_.train.watchdog_seconds, rank_};
  StepClock clock_{profile_, &watchdog_};
  std::optional<telemetry::MetricsWriter> metrics_;
  std::optional<telemetry::ProgressBar> bar_;
  std::optional<energy::EnergyMonitor> energy_;
  std::optional<std::pair<std::int64_t, EvaluationResult>> validation_;  // global step, its validation metrics

  std::int64_t total_steps_ = 0;
  std::int64_t start_epoch_ = 0;
  std::int64_t start_step_ = 0;
  std::int64_t global_step_ = 0;
  std::int64_t session_start_step_ = 0;  // global_step_ when this session started (after a resume)
  std::int64_t epochs_done_ = 0;
  std::int64_t samples_seen_ = 0;
  std::int64_t skipped_steps_ = 0;
  std::int64_t consecutive_skipped_ = 0;   // skipped steps since the last applied one (train.max_skipped_steps)
  RunningSums epoch_sums_;                 // the current epoch's (partial sums go into checkpoints)
  bool stop_requested_ = false;            // a stop signal was agreed; acted on at the end of the epoch
  std::int64_t last_checkpoint_step_ = -1;
  double train_seconds_ = 0.0;
  std::string resumed_from_;
  std::string last_checkpoint_;
  std::optional<checkpoint::Lineage> lineage_;    // rank 0: the sessions that led to this one
  std::optional<std::int64_t> prune_newer_than_;  // rank 0: checkpoint.prune_newer's resume point
  Clock::time_point wall_start_ = Clock::now();
};

void Trainer::initialise() {
  std::optional<checkpoint::Checkpoint> ckpt;
  std::filesystem::path path;
  dist::run_agreed(comm_, [&] {
    if (rank_ != 0) return;
    const auto resume = checkpoint::resolve_resume(config_.checkpoint, run_dir_);
    if (!resume) return;
    path = *resume;
    ckpt = checkpoint::read_checkpoint(path);
    check_resumable(*ckpt, path);
  });
  if (rank_ == 0) {
    const std::string session = checkpoint::new_session_id();
    lineage_ = ckpt ? checkpoint::Lineage::parse(ckpt->info.lineage).resumed(session, ckpt->info.global_step)
                    : checkpoint::Lineage::fresh(session);
    if (ckpt && config_.checkpoint.prune_newer) prune_newer_than_ = ckpt->info.global_step;
  }
  // Rank 0's parameters (fresh or restored) and position reach every rank.
  enum : std::size_t { resumed, epoch, step_in_epoch, global_step, optimizer_iterations };
  std::array<std::int64_t, 5> position{};
  checkpoint::RunProgress progress;
  if (rank_ == 0) {
    if (ckpt) {
      const checkpoint::CheckpointInfo& info = ckpt->info;
      progress = info.progress;
      std::ranges::copy(ckpt->parameters, model_.parameters().begin());
      std::ranges::copy(ckpt->buffers, model_.buffers().begin());
      for (const auto& state : optimizer_->state()) std::ranges::copy(ckpt->state(state.name).values, state.values.begin());
      position = {1, info.epoch, info.step_in_epoch, info.global_step, info.optimizer_iterations};
    } else {
      model_.init(config_.model.seed);
    }
  }
  comm_.broadcast(std::span<std::int64_t>(position), 0);
  std::array<double, 8> carried{progress.epoch_loss_sum, progress.epoch_correct, progress.epoch_samples,
                                progress.epoch_penalty_sum, static_cast<double>(progress.epoch_applied_steps),
                                static_cast<double>(progress.epoch_skipped_steps),
                                static_cast<double>(progress.skipped_steps),
                                static_cast<double>(progress.consecutive_skipped_steps)};
  comm_.broadcast(std::span<double>(carried), 0);
  comm_.broadcast(model_.parameters(), 0);
  comm_.broadcast(model_.buffers(), 0);
  for (auto& state : optimizer_->state()) comm_.broadcast(state.values, 0);
  if (position[resumed] == 1) {
    start_epoch_ = position[epoch];
    start_step_ = position[step_in_epoch];
    global_step_ = position[global_step];
    optimizer_->set_iterations(position[optimizer_iterations]);
    // The resumed epoch's sums so far (every rank holds them; they are added after the allreduce).
    epoch_sums_.carried = {carried[0], carried[1], carried[2]};
    epoch_sums_.penalty = carried[3];
    epoch_sums_.steps = carried[4];
    epoch_sums_.skipped = carried[5];
    skipped_steps_ = static_cast<std::int64_t>(carried[6]);
    consecutive_skipped_ = static_cast<std::int64_t>(carried[7]);
    resumed_from_ = path.string();
    comm_.broadcast(resumed_from_, 0);
    spdlog::info("resumed from {}: epoch {}, step {} of the epoch, global step {}", resumed_from_, start_epoch_ + 1,
                 start_step_, global_step_);
  }
  epochs_done_ = start_epoch_;
  session_start_step_ = global_step_;
}

// config.ini describes the checkpoints beside it, so it is written only once this run may use the
// directory: a refused resume, or a directory holding another run's checkpoints, leaves it as it was.
// Written to a temporary file and renamed, so that a crash leaves the old or the new file, whole.
void Trainer::write_run_config() {
  dist::run_agreed(comm_, [&] {
    if (rank_ == 0) base::write_text_atomically(run_dir_ / "config.ini", config::to_ini(config_), base::Durability::synced);
  });
}

void Trainer::log_plan() const {
  const std::int64_t samples = sampler_->samples();  // with data.shuffle = local, more than this rank holds
  if (data_.local_shard) {
    spdlog::info("data.shuffle = local: this rank holds {} of the {} training samples and shuffles within them",
                 data_.train.size(), samples);
  }
  spdlog::info("training: {} samples, world size {}, global batch {} (up to {} per rank), {} steps per epoch, "
               "{} steps, {} parameters",
               samples, world_, global_batch_, max_rows_, sampler_->steps_per_epoch(), total_steps_,
               model_.registry().total());
  if (global_batch_ > samples && rank_ == 0) {
    spdlog::warn("the global batch ({}) is larger than the training set ({} samples): every step uses the whole "
                 "set, {} samples",
                 global_batch_, samples, samples);
  }
  spdlog::info("gradient exchange: {} reducer{}, {} allreduce(s) per step, compression {}; {} thread(s) per rank",
               reducer_->name(), reducer_->name() == "bucketed" ? fmt::format(" ({} MiB buckets)", config_.dist.bucket_mb) : "",
               reducer_->bucket_count(), config_.dist.compression, config_.train.threads);
}

// One optimizer step, and what the run does with its outcome: stop or skip on a non-finite value, write
// a checkpoint and stop on a signal.
void Trainer::train_step(std::int64_t epoch, std::int64_t step, RunningSums& epoch_sums, RunningSums& log_sums) {
  const StepResult r = step_.run(data_, *sampler_, step, global_step_, clock_);
  const std::int64_t step_index = global_step_;
  ++global_step_;
  samples_seen_ += r.global_count;
  if (r.applied) {
    epoch_sums.add(r.sums, r.penalty);
    log_sums.add(r.sums, r.penalty);
  } else {
    const std::string where = "non-finite loss or gradient at step " + std::to_string(step_index) +
                              (r.nonfinite_rank >= 0 ? " (rank " + std::to_string(r.nonfinite_rank) + ")" : "");
    if (config_.train.nonfinite == "stop") {
      throw TrainingStopped(where + "; stopping (train.nonfinite = stop), the last checkpoint is kept: " +
                                (last_checkpoint_.empty() ? std::string("none written yet") : last_checkpoint_),
                            std::max(r.nonfinite_rank, 0), 1);
    }
    ++skipped_steps_;
    spdlog::warn("{}: step skipped on every rank (train.nonfinite = skip)", where);
  }
  count_skip(r.applied, epoch_sums, log_sums);
  if (r.stop_requested) {
    stop_requested_ = true;  // at the end of an epoch (or of the run), run_epochs() reports the epoch first
    if (step + 1 < sampler_->steps_per_epoch() && global_step_ < total_steps_) stop_for_signal(epoch, step + 1);
  }
}

// The skip counters after a step; stops the run after train.max_skipped_steps consecutive skipped steps.
void Trainer::count_skip(bool applied, RunningSums& epoch_sums, RunningSums& log_sums) {
  consecutive_skipped_ = applied ? 0 : consecutive_skipped_ + 1;
  if (applied) return;
  epoch_sums.skipped += 1;
  log_sums.skipped += 1;
  const std::int64_t limit = config_.train.max_skipped_steps;
  if (limit > 0 && consecutive_skipped_ >= limit) {
    throw TrainingStopped(std::to_string(consecutive_skipped_) + " consecutive steps skipped for non-finite values " +
                              "(steps " + std::to_string(global_step_ - consecutive_skipped_) + " to " +
                              std::to_string(global_step_ - 1) + "; train.max_skipped_steps = " +
                              std::to_string(limit) + "): the run has diverged; stopping, the last checkpoint is kept: " +
                              (last_checkpoint_.empty() ? std::string("none written yet") : last_checkpoint_),
                          0, 1);
  }
}

// Writes a checkpoint (unless one was written at this step) and stops every rank with base::exit_preempted.
void Trainer::stop_for_signal(std::int64_t epochs_done, std::int64_t step_in_epoch) {
  if (rank_ == 0) {
    bar_->clear();
    spdlog::warn("stop signal received: {} at step {} and exiting",
                 last_checkpoint_step_ == global_step_ ? "checkpoint already written" : "writing a checkpoint",
                 global_step_);
  }
  if (last_checkpoint_step_ != global_step_) write_checkpoint_now(epochs_done, step_in_epoch);
  throw TrainingStopped("stopped by a signal after step " + std::to_string(global_step_) + "; checkpoint " +
                            last_checkpoint_ + " written: resume with --checkpoint.resume=auto",
                        0, base::exit_preempted);
}

// What a checkpoint written now holds besides the tensors (rank 0).
checkpoint::CheckpointInfo Trainer::checkpoint_info(std::int64_t epochs_done, std::int64_t step_in_epoch,
                                                    const checkpoint::RunProgress& progress) const {
  return {.optimizer_name = optimizer_->name(),
          .optimizer_iterations = optimizer_->iterations(),
          .epoch = epochs_done,
          .step_in_epoch = step_in_epoch,
          .global_step = global_step_,
          .scaler_method = data_.scaler.method(),
          .scaler_shift = data_.scaler.shift(),
          .scaler_scale = data_.scaler.scale(),
          .config_ini = config::to_ini(config_),
          .sampler_seed = config_.train.seed,
          .trajectory = trajectory_,
          .progress = progress,
          .lineage = lineage_->text(),
          .derivation = {}};  // trained, not derived
}

void Trainer::check_resumable(const checkpoint::Checkpoint& ckpt, const std::filesystem::path& path) const {
  std::vector<std::string> state_names;
  for (const auto& s : optimizer_->state()) state_names.push_back(s.name);
  checkpoint::check_resumable(ckpt, path, {model_.spec(), optimizer_->name(), std::move(state_names), trajectory_});
}

// model.h5: the final weights alone (kind `weights`), for predict, evaluate and Keras's load_weights.
// Rank 0 writes it as it writes checkpoints (a failure ends every rank); a session that trained no step
// leaves an existing model.h5 as it is (it holds these weights already).
void Trainer::write_final_weights() {
  const auto path = run_dir_ / "model.h5";
  if (rank_ != 0 || (global_step_ == session_start_step_ && std::filesystem::exists(path))) return;
  mark(base::StepPhase::checkpoint);
  const checkpoint::CheckpointInfo info =
      checkpoint_info(epochs_done_, 0, {.skipped_steps = skipped_steps_, .consecutive_skipped_steps = consecutive_skipped_});
  checkpoint::write_checkpoint(path, {model_.spec(), model_.parameters(), model_.buffers(), {}, info, true});
  spdlog::info("final weights written: {}", path.string());
  mark(base::StepPhase::idle);
}

void Trainer::write_checkpoint_now(std::int64_t epochs_done, std::int64_t step_in_epoch) {
  mark(base::StepPhase::checkpoint);
  const auto started = Clock::now();
  const auto path = checkpoint::checkpoint_path(run_dir_, global_step_);
  checkpoint::RunProgress progress{.skipped_steps = skipped_steps_, .consecutive_skipped_steps = consecutive_skipped_};
  if (step_in_epoch > 0) {  // mid-epoch: the epoch's sums so far, over every rank (collective)
    const std::array<double, 3> sums = epoch_sums_.global_sums(comm_);
    progress.epoch_loss_sum = sums[0] + epoch_sums_.carried[0];
    progress.epoch_correct = sums[1] + epoch_sums_.carried[1];
    progress.epoch_samples = sums[2] + epoch_sums_.carried[2];
    progress.epoch_penalty_sum = epoch_sums_.penalty;
    progress.epoch_applied_steps = static_cast<std::int64_t>(epoch_sums_.steps);
    progress.epoch_skipped_steps = static_cast<std::int64_t>(epoch_sums_.skipped);
  }
  if (rank_ == 0) {
    const checkpoint::CheckpointInfo info = checkpoint_info(epochs_done, step_in_epoch, progress);
    std::vector<checkpoint::OptimizerStateView> states;
    for (const auto& s : optimizer_->state()) states.push_back({s.name, s.values});
    const checkpoint::CheckpointView c{model_.spec(), model_.parameters(), model_.buffers(), std::move(states), info};
    if (std::filesystem::exists(path)) spdlog::info("replacing {} (the same global step)", path.string());
    checkpoint::write_checkpoint(path, c, [this] { faults_.in_checkpoint(0, global_step_); });
    spdlog::info("checkpoint written: {} (read back and verified)", path.string());
    checkpoint::prune_checkpoints(run_dir_, {*lineage_, config_.checkpoint.keep, prune_newer_than_});
  }
  last_checkpoint_ = path.filename().string();
  last_checkpoint_step_ = global_step_;
  profile_.record(base::StepPhase::checkpoint, started, Clock::now());
  mark(base::StepPhase::idle);
}

// Every replica must hold the same parameters and buffers (a batch norm's moving statistics): crc32 of each
// compared with one allreduce (max of crc and ~crc).
void Trainer::check_replicas(const char* when) {
  mark(base::StepPhase::agreement);
  const std::uint32_t crc = base::crc32(model_.parameters()), buffers_crc = base::crc32(model_.buffers());
  std::array<std::uint64_t, 4> v{crc, ~std::uint64_t{crc}, buffers_crc, ~std::uint64_t{buffers_crc}};
  comm_.allreduce(std::span<std::uint64_t>(v), dist::ReduceOp::max);
  const bool parameters_differ = v[0] != ~v[1];
  if (parameters_differ || v[2] != ~v[3]) {
    throw TrainingStopped("replicas diverged: " + std::string(parameters_differ ? "parameter" : "buffer") +
                              " checksums differ across ranks " + std::string(when) + " step " +
                              std::to_string(global_step_) + " (this rank: " +
                              base::checksum_hex(parameters_differ ? crc : buffers_crc) + ")",
                          0, 1);
  }
}

void Trainer::log_interval(std::int64_t epoch, RunningSums& sums) {
  const double elapsed = seconds_since(sums.start);
  const auto [loss, accuracy, samples, samples_here] = sums.reduce(comm_, per_sample_);
  if (rank_ == 0) {
    nlohmann::json record = {{"kind", "interval"}, {"epoch", epoch + 1}, {"step", global_step_}, {"loss", loss},
                             {"accuracy", accuracy}, {"learning_rate", optimizer_->learning_rate()},
                             {"samples_per_second", samples_here / elapsed}, {"seconds", seconds_since(wall_start_)},
                             {"steps_applied", static_cast<std::int64_t>(sums.steps)},
                             {"steps_skipped", static_cast<std::int64_t>(sums.skipped)},
                             {"skipped_steps", skipped_steps_}};
    if (text_) record["tokens_per_second"] = samples_here * static_cast<double>(per_sample_) / elapsed;
    add_token_metrics(record, "", loss);
    metrics_->write(record);
    if (bar_->active()) {
      bar_->update(epoch + 1, global_step_, samples_here / elapsed,
                   loss.is_null() ? std::numeric_limits<double>::quiet_NaN() : loss.get<double>());
    } else {
      spdlog::info("epoch {} step {}/{}: {} accuracy {}, {}{}", epoch + 1, global_step_, total_steps_,
                   loss_text(loss), format_metric(accuracy), rate_text(samples_here, elapsed),
                   sums.skipped > 0 ? fmt::format(", {} of {} steps skipped", sums.skipped, sums.skipped + sums.steps)
                                    : std::string());
    }
  }
  sums = RunningSums{};
}

nlohmann::json Trainer::end_epoch(std::int64_t epoch, std::int64_t steps_done, const RunningSums& sums,
                                  double seconds) {
  // The rate and the energy per sample count the samples trained in this process (not those before a resume).
  const auto [loss, accuracy, all_samples, samples] = sums.reduce(comm_, per_sample_);
  const bool complete = steps_done == sampler_->steps_per_epoch();
  nlohmann::json record = {{"kind", "epoch"}, {"epoch", epoch + 1}, {"step", global_step_},
                           {"loss", loss}, {"accuracy", accuracy},
                           {"learning_rate", optimizer_->learning_rate()},
                           {"samples_per_second", samples / seconds}, {"seconds", seconds},
                           {"complete", complete},
                           {"steps_applied", static_cast<std::int64_t>(sums.steps)},
                           {"steps_skipped", static_cast<std::int64_t>(sums.skipped)},
                           {"skipped_steps", skipped_steps_}};
  if (text_) record["tokens_per_second"] = samples * static_cast<double>(per_sample_) / seconds;
  add_token_metrics(record, "", loss);
  if (const auto v = evaluate_validation()) {
    record["val_loss"] = v->loss;
    record["val_accuracy"] = v->accuracy;
    add_token_metrics(record, "val_", v->loss);
  }
  record.update(energy_->epoch_end(static_cast<std::int64_t>(samples)));  // collective
  if (text_ && record.contains("joules_per_sample")) {  // energy.enabled
    record["joules_per_token"] = record["joules_per_sample"].get<double>() / static_cast<double>(per_sample_);
  }
  if (rank_ == 0) {
    bar_->clear();
    metrics_->write(record);
    const std::string validation =
        !record.contains("val_loss") ? std::string()
        : fmt::format(", validation {}{} accuracy {:.4f}", loss_text(record["val_loss"]),
                      text_ ? fmt::format(" perplexity {:.3f}", record["val_perplexity"].get<double>()) : std::string(),
                      record["val_accuracy"].get<double>());
    spdlog::info("epoch {}/{} {}: train {} accuracy {}{}{}, {}, {:.1f} s", epoch + 1, config_.train.epochs,
                 complete ? std::string("done")
                          : fmt::format("stopped after step {} of {} (partial)", steps_done, sampler_->steps_per_epoch()),
                 loss_text(loss), format_metric(accuracy),
                 sums.skipped > 0 ? fmt::format(", {} of {} steps skipped", sums.skipped, sums.skipped + sums.steps)
                                  : std::string(),
                 validation, rate_text(samples, seconds), seconds);
  }
  return record;
}

nlohmann::json Trainer::run_epochs() {
  nlohmann::json last_epoch = nullptr;
  if (global_step_ >= total_steps_) {
    spdlog::info("the run is already complete at step {}: nothing left to train, evaluating", global_step_);
  }
  const std::int64_t steps_per_epoch = sampler_->steps_per_epoch();
  for (std::int64_t epoch = start_epoch_; epoch < config_.train.epochs && global_step_ < total_steps_; ++epoch) {
    sampler_->set_epoch(epoch);
    if (epoch != start_epoch_) epoch_sums_ = RunningSums{};  // the first keeps what a resume restored
    RunningSums log_sums;
    const auto epoch_start = Clock::now();
    std::int64_t step = epoch == start_epoch_ ? start_step_ : 0;
    for (; step < steps_per_epoch && global_step_ < total_steps_; ++step) {
      train_step(epoch, step, epoch_sums_, log_sums);
      energy_->after_step(global_step_, total_steps_);
      if (global_step_ % config_.train.log_every == 0) log_interval(epoch, log_sums);
      if (config_.train.check_replicas_every > 0 && global_step_ % config_.train.check_replicas_every == 0) {
        check_replicas("at");
      }
      if (config_.checkpoint.every_steps > 0 && global_step_ % config_.checkpoint.every_steps == 0 &&
          step + 1 < steps_per_epoch) {
        write_checkpoint_now(epoch, step + 1);
      }
    }
    const double seconds = seconds_since(epoch_start);
    train_seconds_ += seconds;
    last_epoch = end_epoch(epoch, step, epoch_sums_, seconds);
    const bool complete = step == steps_per_epoch;
    if (complete) epochs_done_ = epoch + 1;
    const bool last = !(epoch + 1 < config_.train.epochs && global_step_ < total_steps_);
    const bool periodic = config_.checkpoint.every_epochs > 0 && complete &&
                          (epoch + 1) % config_.checkpoint.every_epochs == 0;
    if ((periodic || last) && last_checkpoint_step_ != global_step_) {  // not twice at one step
      write_checkpoint_now(complete ? epoch + 1 : epoch, complete ? 0 : step);
    }
    if (stop_requested_) stop_for_signal(complete ? epoch + 1 : epoch, complete ? 0 : step);
  }
  if (!resumed_from_.empty() && global_step_ == total_steps_ && last_checkpoint_.empty()) {
    last_checkpoint_ = std::filesystem::path(resumed_from_).filename().string();
  }
  return last_epoch;
}

std::optional<EvaluationResult> Trainer::evaluate_validation() {
  if (validation_ && validation_->first == global_step_) return validation_->second;
  mark(base::StepPhase::evaluation);
  if (text_ && data_.text->validation) {
    validation_.emplace(global_step_, evaluate(model_, task_, *data_.text->validation, comm_));
  } else if (data_.validation.size() > 0) {
    validation_.emplace(global_step_, evaluate(model_, task_, data_.validation, comm_));
  } else {
    return std::nullopt;
  }
  return validation_->second;
}

void Trainer::add_token_metrics(nlohmann::json& record, const std::string& prefix, const nlohmann::json& loss) const {
  if (!text_) return;
  record[prefix + "bits_per_byte"] = nullptr;  // null as the loss, when no step was applied
  record[prefix + "perplexity"] = nullptr;
  if (loss.is_null()) return;
  record[prefix + "bits_per_byte"] = nn::bits_per_byte(loss.get<double>());
  record[prefix + "perplexity"] = nn::perplexity(loss.get<double>());
}

std::string Trainer::loss_text(const nlohmann::json& loss) const {
  return text_ ? "loss/token " + format_token_loss(loss) : "loss " + format_metric(loss);
}

std::string Trainer::rate_text(double samples, double seconds) const {
  const double rate = seconds > 0 ? samples / seconds : 0.0;
  return text_ ? fmt::format("{:.0f} tokens/s", rate * static_cast<double>(per_sample_))
               : fmt::format("{:.0f} samples/s", rate);
}

nlohmann::json Trainer::build_summary(const nlohmann::json& last_epoch) {
  const nlohmann::json final_loss = last_epoch.is_null() ? nlohmann::json() : last_epoch["loss"];
  const nlohmann::json final_accuracy = last_epoch.is_null() ? nlohmann::json() : last_epoch["accuracy"];
  nlohmann::json summary = {
      {"world_size", world_},
      {"global_batch_size", global_batch_},
      {"per_rank_batch_size", max_rows_},
      {"epochs", epochs_done_},
      {"steps", global_step_},
      {"samples", samples_seen_},
      {"train_seconds", train_seconds_},
      {"samples_per_second", train_seconds_ > 0 ? static_cast<double>(samples_seen_) / train_seconds_ : 0.0},
      {"final_train_loss", final_loss},
      {"final_train_accuracy", final_accuracy},
      {"parameters", model_.registry().total()},
      {"flops_per_sample", model_.flops_per_sample()},
      {"param_checksum", base::checksum_hex(base::crc32(model_.parameters()))},
      {"checkpoint", last_checkpoint_},
      {"weights", "model.h5"},
      {"skipped_steps", skipped_steps_},
      {"resumed_from", resumed_from_},
  };
  if (data_.test.size() > 0) {
    const auto t = evaluate(model_, task_, data_.test, comm_);
    summary["test_loss"] = t.loss;
    summary["test_accuracy"] = t.accuracy;
    summary["test_samples"] = t.count;
  }
  if (const auto v = evaluate_validation()) {
    summary["validation_loss"] = v->loss;
    summary["validation_accuracy"] = v->accuracy;
    add_token_metrics(summary, "validation_", v->loss);
    if (text_) summary["validation_tokens"] = v->count;
  }
  if (text_) {
    const double tokens = static_cast<double>(samples_seen_ * per_sample_);
    summary["context"] = per_sample_;
    summary["tokens"] = samples_seen_ * per_sample_;
    summary["tokens_per_second"] = train_seconds_ > 0 ? tokens / train_seconds_ : 0.0;
    add_token_metrics(summary, "final_train_", final_loss);
  }
  summary["timing"] = profile_.summary(comm_);  // collective
  summary["timing"]["reducer"] = reducer_->name();
  summary["timing"]["buckets"] = reducer_->bucket_count();
  summary["timing"]["compression"] = config_.dist.compression;
  summary["timing"]["threads"] = config_.train.threads;
  summary["timing"]["precision"] = config_.train.precision;
  summary["memory"] = telemetry::memory_summary(comm_, data::storage_bytes(data_.train), data_.train.pixels.size() > 0);
  return summary;
}

// The timeline, the energy report (emissions.csv), summary.json and the final log line.
void Trainer::write_outputs(nlohmann::json& summary) {
  if (timeline_) {
    const auto path = run_dir_ / ("timeline-rank" + std::to_string(rank_) + ".json");
    timeline_->write(path);
    if (timeline_->dropped() > 0) spdlog::warn("timeline: {} spans dropped (capacity)", timeline_->dropped());
    spdlog::info("timeline written: {}", path.string());
  }
  summary["wall_seconds"] = seconds_since(wall_start_);
  summary["energy"] = energy_->finish(samples_seen_, run_dir_, config_.name);  // collective; writes emissions.csv
  if (text_ && summary["energy"].contains("joules_per_sample")) {  // energy.enabled
    summary["energy"]["joules_per_token"] =
        summary["energy"]["joules_per_sample"].get<double>() / static_cast<double>(per_sample_);
  }
  mark(base::StepPhase::idle);
  if (rank_ != 0) return;
  telemetry::write_json_file(run_dir_ / "summary.json", summary);
  const auto& final_loss = summary["final_train_loss"];
  spdlog::info("done: {} steps in {:.1f} s ({}); final train {}{}{}; checksum {}", global_step_, train_seconds_,
               rate_text(static_cast<double>(samples_seen_), train_seconds_), loss_text(final_loss),
               text_ && summary.contains("validation_loss") ? "; validation " + loss_text(summary["validation_loss"])
                                                            : std::string(),
               summary.contains("test_accuracy")
                   ? fmt::format("; test loss {:.4f} accuracy {:.4f}", summary["test_loss"].get<double>(),
                                 summary["test_accuracy"].get<double>())
                   : std::string(),
               summary["param_checksum"].get<std::string>());
}

nlohmann::json Trainer::run() {
  configure_threads(config_.train.threads, comm_);
  guard::install_stop_handlers();
  initialise();
  write_run_config();
  if (rank_ == 0) metrics_.emplace(run_dir_ / "metrics.jsonl");
  bar_.emplace(rank_ == 0 && telemetry::progress_enabled(config_.log.progress), total_steps_);
  log_plan();
  energy_.emplace(config_.energy, comm_, config_.train.threads);  // collective
  energy_->start();
  wall_start_ = Clock::now();
  const nlohmann::json last_epoch = run_epochs();
  check_replicas("after");
  write_final_weights();
  mark(base::StepPhase::evaluation);
  nlohmann::json summary = build_summary(last_epoch);
  write_outputs(summary);
  return summary;
}

}  // namespace

nlohmann::json train(const config::Config& config, TrainingData& data, nn::Model& model, const nn::Task& task,
                     const dist::Communicator& comm, const std::filesystem::path& run_dir,
                     const guard::FaultPlan& faults) {
  Trainer trainer(config, data, model, task, comm, run_dir, faults);
  return trainer.run();
}

}  // namespace mpitrain::train
