#include "mpitrain/train/trainer.hpp"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "mpitrain/data/batch.hpp"
#include "mpitrain/data/sampler.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/mlp.hpp"
#include "mpitrain/optim/optimizer.hpp"
#include "mpitrain/checkpoint/checkpoint.hpp"
#include "mpitrain/checkpoint/checkpoint_store.hpp"
#include "mpitrain/energy/energy_monitor.hpp"
#include "mpitrain/train/evaluation.hpp"
#include "mpitrain/guard/fault_injection.hpp"
#include "mpitrain/telemetry/metrics.hpp"
#include "mpitrain/train/reducer_setup.hpp"
#include "mpitrain/telemetry/progress.hpp"
#include "mpitrain/telemetry/step_profile.hpp"
#include "mpitrain/guard/stop_signal.hpp"
#include "mpitrain/telemetry/timeline.hpp"
#include "mpitrain/guard/watchdog.hpp"
#include "mpitrain/checkpoint/resume.hpp"

namespace mpitrain::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Loss and accuracy accumulated over some steps on this rank; summed across ranks when reported.
struct Window {
  double loss = 0.0;      // sum of per-sample losses
  double correct = 0.0;   // samples classified correctly
  double count = 0.0;     // samples
  double penalty = 0.0;   // sum over steps of the L2 penalty
  double steps = 0.0;
  Clock::time_point start = Clock::now();

  void add(const nn::LossSums& sums, double step_penalty) {
    loss += sums.loss;
    correct += static_cast<double>(sums.correct);
    count += static_cast<double>(sums.count);
    penalty += step_penalty;
    steps += 1;
  }
  // {mean loss + mean penalty, accuracy, global samples}; collective.
  std::array<double, 3> reduce(const dist::Communicator& comm) const {
    std::array<double, 3> sums{loss, correct, count};
    comm.allreduce(std::span<double>(sums), dist::ReduceOp::sum);
    const double n = std::max(sums[2], 1.0);
    return {sums[0] / n + (steps > 0 ? penalty / steps : 0.0), sums[1] / n, sums[2]};
  }
};

// The sampler of data.shuffle: global (every rank holds every sample) or local (each rank its own shard;
// the shard sizes are gathered so that every rank knows the steps per epoch and each step's global count).
// Collective with a local shard; an impossible split (no sample at all, a global batch smaller than the
// world) is an error on every rank alike.
std::unique_ptr<data::BatchSampler> make_sampler(const config::Config& config, const TrainingData& data,
                                                 const dist::Communicator& comm, std::int64_t global_batch) {
  if (!data.local_shard) {
    return std::make_unique<data::DistributedSampler>(data.train.size(), global_batch, config.train.seed);
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
  Trainer(const config::Config& config, TrainingData& data, const dist::Communicator& comm,
          std::filesystem::path run_dir)
      : config_(config), data_(data), comm_(comm), run_dir_(std::move(run_dir)), rank_(comm.rank()),
        world_(comm.size()),
        global_batch_(config.train.global_batch_size > 0
                          ? config.train.global_batch_size
                          : static_cast<std::int64_t>(config.train.batch_size) * world_),
        max_rows_((global_batch_ + world_ - 1) / world_),
        sampler_(make_sampler(config, data, comm, global_batch_)),
        model_(nn::MlpSpec{data.train.feature_count(), config.model.hidden,
                           nn::parse_activation(config.model.activation), config.model.classes}),
        optimizer_(optim::make_optimizer({config.optim.name, config.optim.learning_rate, config.optim.beta1,
                                          config.optim.beta2, config.optim.epsilon, config.optim.momentum,
                                          config.optim.nesterov},
                                         model_.registry().total())),
        reducer_(make_reducer(config.dist, comm, model_.registry())),
        hook_(*reducer_),
        trajectory_(checkpoint::trajectory_config(config, global_batch_, world_)),
        x_(max_rows_, data.train.feature_count()),
        grad_logits_(max_rows_, config.model.classes),
        labels_(static_cast<std::size_t>(max_rows_)) {
    total_steps_ = sampler_->steps_per_epoch() * config.train.epochs;
    if (config.train.max_steps > 0) total_steps_ = std::min(total_steps_, config.train.max_steps);
    model_.reserve(max_rows_);
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
  bool train_step(std::int64_t epoch, std::int64_t step, Window& epoch_window, Window& log_window);
  void write_checkpoint_now(std::int64_t epochs_done, std::int64_t step_in_epoch);
  void check_replicas(const char* when);
  void phase(guard::Phase p) { watchdog_.enter(p, global_step_); }
  void log_interval(std::int64_t epoch, Window& window);
  nlohmann::json end_epoch(std::int64_t epoch, std::int64_t steps_done, const Window& window, double seconds);

  const config::Config& config_;
  TrainingData& data_;
  const dist::Communicator& comm_;
  std::filesystem::path run_dir_;
  int rank_;
  int world_;
  std::int64_t global_batch_;
  std::int64_t max_rows_;
  std::unique_ptr<data::BatchSampler> sampler_;  // data.shuffle: global or local
  nn::Mlp model_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<dist::GradientReducer> reducer_;  // config.dist: fused or bucketed, compression
  ReducerHook hook_;                                // backward tells reducer_ which gradients are final
  std::optional<telemetry::Timeline> timeline_;                // log.timeline
  telemetry::StepProfile profile_{0};
  std::string trajectory_;
  data::RowMatrix x_;            // max_rows × features: this rank's slice of the global batch
  data::RowMatrix grad_logits_;  // max_rows × classes
  std::vector<std::int32_t> labels_;
  guard::Watchdog watchdog_{config_.train.watchdog_seconds, rank_};
  std::optional<telemetry::MetricsWriter> metrics_;
  std::optional<telemetry::ProgressBar> bar_;
  std::optional<energy::EnergyMonitor> energy_;

  std::int64_t total_steps_ = 0;
  std::int64_t start_epoch_ = 0;
  std::int64_t start_step_ = 0;
  std::int64_t global_step_ = 0;
  std::int64_t samples_seen_ = 0;
  std::int64_t skipped_steps_ = 0;
  std::string resumed_from_;
  std::string last_checkpoint_;
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
    if (ckpt->architecture != model_.spec()) {
      throw checkpoint::CheckpointError("checkpoint " + path.string() + " holds another architecture than the config");
    }
    if (ckpt->optimizer_name != optimizer_->name()) {
      throw checkpoint::CheckpointError("checkpoint " + path.string() + " holds " + ckpt->optimizer_name +
                            " state, the config asks for " + optimizer_->name());
    }
    checkpoint::check_trajectory(*ckpt, path, trajectory_);
  });
  // Rank 0's parameters (fresh or restored) and state reach every rank.
  std::array<std::int64_t, 5> position{0, 0, 0, 0, 0};
  if (rank_ == 0) {
    if (ckpt) {
      std::copy(ckpt->parameters.begin(), ckpt->parameters.end(), model_.parameters().begin());
      auto states = optimizer_->state();
      for (std::size_t i = 0; i < states.size(); ++i) {
        std::copy(ckpt->optimizer_state[i].begin(), ckpt->optimizer_state[i].end(), states[i].values.begin());
      }
      position = {1, ckpt->epoch, ckpt->step_in_epoch, ckpt->global_step, ckpt->optimizer_iterations};
    } else {
      model_.init_glorot(config_.model.seed);
    }
  }
  comm_.broadcast(std::span<std::int64_t>(position), 0);
  comm_.broadcast(model_.parameters(), 0);
  for (auto& state : optimizer_->state()) comm_.broadcast(state.values, 0);
  if (position[0] == 1) {
    start_epoch_ = position[1];
    start_step_ = position[2];
    global_step_ = position[3];
    optimizer_->set_iterations(position[4]);
    resumed_from_ = path.string();
    comm_.broadcast(resumed_from_, 0);
    spdlog::info("resumed from {}: epoch {}, step {} of the epoch, global step {}", resumed_from_, start_epoch_ + 1,
                 start_step_, global_step_);
  }
}

// One optimizer step; returns false when the step was skipped (non-finite, train.nonfinite = skip).
bool Trainer::train_step(std::int64_t epoch, std::int64_t step, Window& epoch_window, Window& log_window) {
  phase(guard::Phase::data);
  auto t = profile_.start_step(global_step_);
  const guard::FaultKind fault = guard::fault_at_step(rank_, global_step_);
  const bool poison = fault == guard::FaultKind::nan;
  const auto slice = sampler_->slice(step, rank_, world_);
  const auto n = static_cast<std::int64_t>(slice.size());
  const std::int64_t features = x_.cols();
  const int classes = config_.model.classes;
  data::gather_batch(data_.train, data_.scaler, slice, x_, labels_);  // scales 8-bit pixels per batch
  if (step + 1 < sampler_->steps_per_epoch()) {  // the next rows load into cache while this step computes
    data::prefetch_rows(data_.train, sampler_->slice(step + 1, rank_, world_));
  }
  if (poison && n > 0) x_(0, 0) = std::numeric_limits<float>::quiet_NaN();
  t = profile_.lap(telemetry::StepPhase::data, t);
  phase(guard::Phase::forward);
  auto logits = model_.forward(nn::ConstMatrixMap(x_.data(), n, features));
  nn::MatrixMap g(grad_logits_.data(), n, classes);
  const nn::LossSums sums =
      nn::softmax_cross_entropy(logits, std::span<const std::int32_t>(labels_.data(), slice.size()), g);
  t = profile_.lap(telemetry::StepPhase::forward, t);
  phase(guard::Phase::backward);
  auto grads = model_.gradients();
  reducer_->begin(grads);  // the bucketed reducer starts each bucket's allreduce during backward
  model_.backward(nn::ConstMatrixMap(grad_logits_.data(), n, classes), &hook_);
  t = profile_.lap(telemetry::StepPhase::backward, t);
  phase(guard::Phase::allreduce);
  reducer_->finish();
  t = profile_.lap(telemetry::StepPhase::allreduce_wait, t);

  // One small collective agrees on what every rank must do alike: stop for a signal, and which ranks
  // saw a non-finite loss (a NaN there reaches the summed gradient too, checked below on every rank).
  phase(guard::Phase::agreement);
  const bool local_bad = !std::isfinite(sums.loss) || (poison && n == 0);
  std::array<int, 2> control{guard::stop_signal_received() != 0 ? 1 : 0, local_bad ? rank_ + 1 : 0};
  comm_.allreduce(std::span<int>(control), dist::ReduceOp::max);
  Eigen::Map<Eigen::VectorXf> gv(grads.data(), static_cast<Eigen::Index>(grads.size()));
  const bool nonfinite = control[1] > 0 || !nn::all_finite(grads);
  t = profile_.lap(telemetry::StepPhase::agreement, t);
  const std::int64_t step_index = global_step_;
  ++global_step_;
  const std::int64_t count = sampler_->global_count(step);
  samples_seen_ += count;
  if (nonfinite) {
    const std::string where = "non-finite loss or gradient at step " + std::to_string(step_index) +
                              (control[1] > 0 ? " (rank " + std::to_string(control[1] - 1) + ")" : "");
    if (config_.train.nonfinite == "stop") {
      throw TrainingStopped(where + "; stopping (train.nonfinite = stop), the last checkpoint is kept: " +
                                (last_checkpoint_.empty() ? std::string("none written yet") : last_checkpoint_),
                            std::max(control[1] - 1, 0), 1);
    }
    ++skipped_steps_;
    spdlog::warn("{}: step skipped on every rank (train.nonfinite = skip)", where);
  } else {
    phase(guard::Phase::optimizer);
    gv *= 1.0f / static_cast<float>(count);
    const double penalty = model_.l2_penalty(config_.optim.weight_decay);
    model_.add_l2_gradient(config_.optim.weight_decay, grads);
    if (config_.train.clip_grad_norm > 0) {
      // After the allreduce, in a fixed order: the same norm on every rank, whatever its alignment.
      double sum_sq = 0.0;
      for (const float v : grads) sum_sq += static_cast<double>(v) * v;
      const double norm = std::sqrt(sum_sq);
      if (norm > config_.train.clip_grad_norm) gv *= static_cast<float>(config_.train.clip_grad_norm / norm);
    }
    optimizer_->step(model_.parameters(), grads);
    if (fault == guard::FaultKind::desync) model_.parameters()[0] += 1e-3f;
    profile_.lap(telemetry::StepPhase::optimizer, t);
    epoch_window.add(sums, penalty);
    log_window.add(sums, penalty);
  }
  profile_.end_step(reducer_->last_buckets(), count);
  if (control[0] != 0) {
    const bool epoch_done = step + 1 == sampler_->steps_per_epoch();
    if (rank_ == 0) {
      bar_->clear();
      spdlog::warn("stop signal received: writing a checkpoint at step {} and exiting", global_step_);
    }
    write_checkpoint_now(epoch_done ? epoch + 1 : epoch, epoch_done ? 0 : step + 1);
    throw TrainingStopped("stopped by a signal after step " + std::to_string(global_step_) +
                              "; checkpoint written: resume with --checkpoint.resume=auto",
                          0, guard::exit_preempted);
  }
  return !nonfinite;
}

void Trainer::write_checkpoint_now(std::int64_t epochs_done, std::int64_t step_in_epoch) {
  phase(guard::Phase::checkpoint);
  const auto started = Clock::now();
  const auto path = checkpoint::checkpoint_path(run_dir_, global_step_);
  if (rank_ == 0) {
    checkpoint::Checkpoint c;
    c.architecture = model_.spec();
    c.parameters.assign(model_.parameters().begin(), model_.parameters().end());
    c.optimizer_name = optimizer_->name();
    c.optimizer_iterations = optimizer_->iterations();
    for (const auto& s : optimizer_->state()) {
      c.optimizer_state_names.push_back(s.name);
      c.optimizer_state.emplace_back(s.values.begin(), s.values.end());
    }
    c.epoch = epochs_done;
    c.step_in_epoch = step_in_epoch;
    c.global_step = global_step_;
    c.scaler_method = data_.scaler.method();
    c.scaler_shift = data_.scaler.shift();
    c.scaler_scale = data_.scaler.scale();
    c.config_ini = config::to_ini(config_);
    c.sampler_seed = config_.train.seed;
    c.trajectory = trajectory_;
    checkpoint::write_checkpoint(path, c, [this] { guard::fault_in_checkpoint(0, global_step_); });
    checkpoint::prune_checkpoints(run_dir_, config_.checkpoint.keep);
    spdlog::info("checkpoint written: {}", path.string());
  }
  last_checkpoint_ = path.filename().string();
  profile_.record(telemetry::StepPhase::checkpoint, started, Clock::now());
  phase(guard::Phase::idle);
}

// Every replica must hold the same parameters: crc32 compared with one allreduce (max of crc and ~crc).
void Trainer::check_replicas(const char* when) {
  phase(guard::Phase::agreement);
  const std::string hex = checksum_hex(model_.parameters());
  const std::uint64_t crc = std::stoull(hex, nullptr, 16);
  std::array<std::uint64_t, 2> v{crc, ~crc};
  comm_.allreduce(std::span<std::uint64_t>(v), dist::ReduceOp::max);
  if (v[0] != ~v[1]) {
    throw TrainingStopped("replicas diverged: parameter checksums differ across ranks " + std::string(when) +
                              " step " + std::to_string(global_step_) + " (this rank: " + hex + ")",
                          0, 1);
  }
}

void Trainer::log_interval(std::int64_t epoch, Window& window) {
  const double elapsed = seconds_since(window.start);
  const auto [loss, accuracy, samples] = window.reduce(comm_);
  if (rank_ == 0) {
    metrics_->write({{"kind", "interval"}, {"epoch", epoch + 1}, {"step", global_step_}, {"loss", loss},
                     {"accuracy", accuracy}, {"learning_rate", optimizer_->learning_rate()},
                     {"samples_per_second", samples / elapsed}, {"seconds", seconds_since(wall_start_)},
                     {"skipped_steps", skipped_steps_}});
    if (bar_->active()) {
      bar_->update(epoch + 1, global_step_, samples / elapsed, loss);
    } else {
      spdlog::info("epoch {} step {}/{}: loss {:.4f} accuracy {:.4f}, {:.0f} samples/s", epoch + 1, global_step_,
                   total_steps_, loss, accuracy, samples / elapsed);
    }
  }
  window = Window{};
}

nlohmann::json Trainer::end_epoch(std::int64_t epoch, std::int64_t steps_done, const Window& window,
                                  double seconds) {
  const auto [loss, accuracy, samples] = window.reduce(comm_);
  nlohmann::json record = {{"kind", "epoch"}, {"epoch", epoch + 1}, {"step", global_step_},
                           {"loss", loss}, {"accuracy", accuracy},
                           {"learning_rate", optimizer_->learning_rate()},
                           {"samples_per_second", samples / seconds}, {"seconds", seconds},
                           {"complete", steps_done == sampler_->steps_per_epoch()},
                           {"skipped_steps", skipped_steps_}};
  if (data_.validation.size() > 0) {
    phase(guard::Phase::evaluation);
    const auto v = evaluate(model_, data_.validation, comm_);
    record["val_loss"] = v.loss;
    record["val_accuracy"] = v.accuracy;
  }
  record.update(energy_->epoch_end(static_cast<std::int64_t>(samples)));  // collective
  if (rank_ == 0) {
    bar_->clear();
    metrics_->write(record);
    spdlog::info("epoch {}/{} done: train loss {:.4f} accuracy {:.4f}{}, {:.0f} samples/s, {:.1f} s", epoch + 1,
                 config_.train.epochs, loss, accuracy,
                 record.contains("val_loss")
                     ? fmt::format(", validation loss {:.4f} accuracy {:.4f}", record["val_loss"].get<double>(),
                                   record["val_accuracy"].get<double>())
                     : std::string(),
                 samples / seconds, seconds);
  }
  return record;
}

nlohmann::json Trainer::run() {
  configure_threads(config_.train.threads, comm_);
  guard::install_stop_handlers();
  initialise();
  // config.ini describes the checkpoints beside it, so it is written only now that this run may use the
  // directory: a refused resume, or a directory holding another run's checkpoints, leaves it as it was.
  // Written to a temporary file and renamed, so that a crash leaves the old or the new file, whole.
  dist::run_agreed(comm_, [&] {
    if (rank_ != 0) return;
    const auto path = run_dir_ / "config.ini";
    const auto temporary = run_dir_ / "config.ini.tmp";
    {
      std::ofstream out(temporary);
      out << config::to_ini(config_);
      if (!out.flush()) throw std::runtime_error("cannot write " + temporary.string());
    }
    std::filesystem::rename(temporary, path);
  });
  if (rank_ == 0) metrics_.emplace(run_dir_ / "metrics.jsonl");
  bar_.emplace(rank_ == 0 && telemetry::progress_enabled(config_.log.progress), total_steps_);
  const std::int64_t samples = sampler_->samples();  // with data.shuffle = local, more than this rank holds
  if (data_.local_shard) {
    spdlog::info("data.shuffle = local: this rank holds {} of the {} training samples and shuffles within them",
                 data_.train.size(), samples);
  }
  spdlog::info("training: {} samples, world size {}, global batch {} (up to {} per rank), {} steps per epoch, "
               "{} steps, {} parameters",
               samples, world_, global_batch_, max_rows_, sampler_->steps_per_epoch(), total_steps_,
               model_.registry().total());
  spdlog::info("gradient exchange: {} reducer{}, {} allreduce(s) per step, compression {}; {} thread(s) per rank",
               reducer_->name(), reducer_->name() == "bucketed" ? fmt::format(" ({} MiB buckets)", config_.dist.bucket_mb) : "",
               reducer_->bucket_count(), config_.dist.compression, config_.train.threads);

  energy_.emplace(config_.energy, comm_, config_.train.threads);  // collective
  energy_->start();
  const auto wall_start = Clock::now();
  double train_seconds = 0.0;
  nlohmann::json final_loss = nullptr, final_accuracy = nullptr;  // null when no step is left to train
  if (global_step_ >= total_steps_) {
    spdlog::info("the run is already complete at step {}: nothing left to train, evaluating", global_step_);
  }
  std::int64_t epochs_done = start_epoch_;
  const std::int64_t steps_per_epoch = sampler_->steps_per_epoch();
  for (std::int64_t epoch = start_epoch_; epoch < config_.train.epochs && global_step_ < total_steps_; ++epoch) {
    sampler_->set_epoch(epoch);
    Window epoch_window, log_window;
    const auto epoch_start = Clock::now();
    std::int64_t step = epoch == start_epoch_ ? start_step_ : 0;
    for (; step < steps_per_epoch && global_step_ < total_steps_; ++step) {
      train_step(epoch, step, epoch_window, log_window);
      energy_->after_step(global_step_, total_steps_);
      if (global_step_ % config_.train.log_every == 0) log_interval(epoch, log_window);
      if (config_.train.check_replicas_every > 0 && global_step_ % config_.train.check_replicas_every == 0) {
        check_replicas("at");
      }
      if (config_.checkpoint.every_steps > 0 && global_step_ % config_.checkpoint.every_steps == 0 &&
          step + 1 < steps_per_epoch) {
        write_checkpoint_now(epoch, step + 1);
      }
    }
    const double seconds = seconds_since(epoch_start);
    train_seconds += seconds;
    const auto record = end_epoch(epoch, step, epoch_window, seconds);
    final_loss = record["loss"];
    final_accuracy = record["accuracy"];
    const bool complete = step == steps_per_epoch;
    if (complete) epochs_done = epoch + 1;
    const bool last = !(epoch + 1 < config_.train.epochs && global_step_ < total_steps_);
    const bool periodic = config_.checkpoint.every_epochs > 0 && complete &&
                          (epoch + 1) % config_.checkpoint.every_epochs == 0;
    if (periodic || last) write_checkpoint_now(complete ? epoch + 1 : epoch, complete ? 0 : step);
  }
  if (!resumed_from_.empty() && global_step_ == total_steps_ && last_checkpoint_.empty()) {
    last_checkpoint_ = std::filesystem::path(resumed_from_).filename().string();
  }
  check_replicas("after");
  phase(guard::Phase::evaluation);

  nlohmann::json summary = {
      {"world_size", world_},
      {"global_batch_size", global_batch_},
      {"per_rank_batch_size", max_rows_},
      {"epochs", epochs_done},
      {"steps", global_step_},
      {"samples", samples_seen_},
      {"train_seconds", train_seconds},
      {"samples_per_second", train_seconds > 0 ? static_cast<double>(samples_seen_) / train_seconds : 0.0},
      {"final_train_loss", final_loss},
      {"final_train_accuracy", final_accuracy},
      {"parameters", model_.registry().total()},
      {"param_checksum", checksum_hex(model_.parameters())},
      {"checkpoint", last_checkpoint_},
      {"skipped_steps", skipped_steps_},
      {"resumed_from", resumed_from_},
  };
  if (data_.test.size() > 0) {
    const auto t = evaluate(model_, data_.test, comm_);
    summary["test_loss"] = t.loss;
    summary["test_accuracy"] = t.accuracy;
    summary["test_samples"] = t.count;
  }
  if (data_.validation.size() > 0) {
    const auto v = evaluate(model_, data_.validation, comm_);
    summary["validation_loss"] = v.loss;
    summary["validation_accuracy"] = v.accuracy;
  }
  summary["timing"] = profile_.summary(comm_);  // collective
  summary["timing"]["reducer"] = reducer_->name();
  summary["timing"]["buckets"] = reducer_->bucket_count();
  summary["timing"]["compression"] = config_.dist.compression;
  summary["timing"]["threads"] = config_.train.threads;
  summary["memory"] = telemetry::memory_summary(comm_, data::storage_bytes(data_.train), data_.train.pixels.size() > 0);
  if (timeline_) {
    const auto path = run_dir_ / ("timeline-rank" + std::to_string(rank_) + ".json");
    timeline_->write(path);
    if (timeline_->dropped() > 0) spdlog::warn("timeline: {} spans dropped (capacity)", timeline_->dropped());
    spdlog::info("timeline written: {}", path.string());
  }
  summary["wall_seconds"] = seconds_since(wall_start);
  summary["energy"] = energy_->finish(samples_seen_, run_dir_, config_.name);  // collective; writes emissions.csv
  phase(guard::Phase::idle);
  if (rank_ == 0) {
    telemetry::write_json_file(run_dir_ / "summary.json", summary);
    spdlog::info("done: {} steps in {:.1f} s ({:.0f} samples/s); final train loss {}{}; checksum {}",
                 global_step_, train_seconds, summary["samples_per_second"].get<double>(),
                 final_loss.is_null() ? std::string("n/a") : fmt::format("{:.4f}", final_loss.get<double>()),
                 summary.contains("test_accuracy")
                     ? fmt::format("; test loss {:.4f} accuracy {:.4f}", summary["test_loss"].get<double>(),
                                   summary["test_accuracy"].get<double>())
                     : std::string(),
                 summary["param_checksum"].get<std::string>());
  }
  return summary;
}

}  // namespace

std::string checksum_hex(std::span<const float> values) {
  const auto crc = crc32_z(0L, reinterpret_cast<const Bytef*>(values.data()), values.size_bytes());
  char text[16];
  std::snprintf(text, sizeof text, "%08lx", static_cast<unsigned long>(crc));
  return text;
}

nlohmann::json train(const config::Config& config, TrainingData& data, const dist::Communicator& comm,
                     const std::filesystem::path& run_dir) {
  Trainer trainer(config, data, comm, run_dir);
  return trainer.run();
}

}  // namespace mpitrain::train
