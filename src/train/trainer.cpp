#include "mpitrain/train/trainer.hpp"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <Eigen/Core>
#include <chrono>
#include <cmath>

#include "mpitrain/data/sampler.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/mlp.hpp"
#include "mpitrain/optim/optimizer.hpp"
#include "mpitrain/train/checkpoint.hpp"
#include "mpitrain/train/evaluation.hpp"
#include "mpitrain/train/metrics.hpp"
#include "mpitrain/train/progress.hpp"

namespace mpitrain::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

nn::MlpSpec spec_of(const config::Config& config, std::int64_t inputs) {
  return nn::MlpSpec{inputs, config.model.hidden, nn::parse_activation(config.model.activation),
                     config.model.classes};
}

optim::OptimizerOptions optimizer_options(const config::OptimConfig& o) {
  return {o.name, o.learning_rate, o.beta1, o.beta2, o.epsilon, o.momentum, o.nesterov};
}

// Loss and accuracy accumulated over some steps on this rank; summed across ranks when reported.
struct Window {
  double loss = 0.0;           // sum of per-sample losses
  double correct = 0.0;        // samples classified correctly
  double count = 0.0;          // samples
  double penalty = 0.0;        // sum over steps of the L2 penalty
  double steps = 0.0;
  Clock::time_point start = Clock::now();

  // Returns {mean loss + mean penalty, accuracy, global samples}; collective.
  std::array<double, 3> reduce(const dist::Communicator& comm) const {
    std::array<double, 3> sums{loss, correct, count};
    comm.allreduce(std::span<double>(sums), dist::ReduceOp::sum);
    const double n = std::max(sums[2], 1.0);
    return {sums[0] / n + (steps > 0 ? penalty / steps : 0.0), sums[1] / n, sums[2]};
  }
};

Checkpoint make_checkpoint(const config::Config& config, nn::Mlp& model, optim::Optimizer& optimizer,
                           const data::Scaler& scaler, std::int64_t epoch, std::int64_t step_in_epoch,
                           std::int64_t global_step) {
  Checkpoint c;
  c.architecture = model.spec();
  c.parameters.assign(model.parameters().begin(), model.parameters().end());
  c.optimizer_name = optimizer.name();
  c.optimizer_iterations = optimizer.iterations();
  for (const auto& s : optimizer.state()) {
    c.optimizer_state_names.push_back(s.name);
    c.optimizer_state.emplace_back(s.values.begin(), s.values.end());
  }
  c.epoch = epoch;
  c.step_in_epoch = step_in_epoch;
  c.global_step = global_step;
  c.scaler_method = scaler.method();
  c.scaler_shift = scaler.shift();
  c.scaler_scale = scaler.scale();
  c.config_ini = config::to_ini(config);
  return c;
}

std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, std::int64_t global_step) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-%08lld.h5", static_cast<long long>(global_step));
  return run_dir / name;
}

nlohmann::json eval_json(const EvaluationResult& r) {
  return {{"loss", r.loss}, {"accuracy", r.accuracy}, {"samples", r.count}};
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
  const int rank = comm.rank();
  const int world = comm.size();
  const bool root = rank == 0;
  Eigen::setNbThreads(config.train.threads);

  const std::int64_t n_train = data.train.size();
  const std::int64_t global_batch = config.train.global_batch_size > 0
                                        ? config.train.global_batch_size
                                        : static_cast<std::int64_t>(config.train.batch_size) * world;
  const std::int64_t max_rows = (global_batch + world - 1) / world;
  data::DistributedSampler sampler(n_train, global_batch, config.train.seed);
  const std::int64_t steps_per_epoch = sampler.steps_per_epoch();
  std::int64_t total_steps = steps_per_epoch * config.train.epochs;
  if (config.train.max_steps > 0) total_steps = std::min(total_steps, config.train.max_steps);

  nn::Mlp model(spec_of(config, data.train.feature_count()));
  if (root) model.init_glorot(config.model.seed);
  comm.broadcast(model.parameters(), 0);  // rank 0's initial parameters on every rank
  auto optimizer = optim::make_optimizer(optimizer_options(config.optim), model.registry().total());
  dist::FusedAllreduceReducer reducer(comm);

  const std::int64_t features = data.train.feature_count();
  const int classes = config.model.classes;
  model.reserve(max_rows);
  data::RowMatrix x(max_rows, features);           // max_rows × features: this rank's slice
  data::RowMatrix grad_logits(max_rows, classes);  // max_rows × classes
  std::vector<std::int32_t> labels(static_cast<std::size_t>(max_rows));

  spdlog::info("training: {} samples, world size {}, global batch {} (about {} per rank), {} steps per "
               "epoch, {} steps, {} parameters",
               n_train, world, global_batch, max_rows, steps_per_epoch, total_steps, model.registry().total());

  std::optional<MetricsWriter> metrics;
  if (root) metrics.emplace(run_dir / "metrics.jsonl");
  ProgressBar bar(root && progress_enabled(config.log.progress), total_steps);
  const float lr = static_cast<float>(optimizer->learning_rate());

  std::int64_t global_step = 0;
  std::int64_t samples_seen = 0;
  double train_seconds = 0.0;
  double final_train_loss = 0.0, final_train_accuracy = 0.0;
  std::int64_t epochs_done = 0;
  std::string last_checkpoint;
  const auto wall_start = Clock::now();

  for (std::int64_t epoch = 0; epoch < config.train.epochs && global_step < total_steps; ++epoch) {
    sampler.set_epoch(epoch);
    Window epoch_window, log_window;
    const auto epoch_start = Clock::now();
    std::int64_t step = 0;
    for (; step < steps_per_epoch && global_step < total_steps; ++step) {
      const auto slice = sampler.slice(step, rank, world);
      const auto n = static_cast<std::int64_t>(slice.size());
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t s = slice[static_cast<std::size_t>(i)];
        x.row(i) = data.train.features.row(s);
        labels[static_cast<std::size_t>(i)] = data.train.labels[static_cast<std::size_t>(s)];
      }
      auto logits = model.forward(nn::ConstMatrixMap(x.data(), n, features));
      nn::MatrixMap g(grad_logits.data(), n, classes);
      const nn::LossSums sums =
          nn::softmax_cross_entropy(logits, std::span<const std::int32_t>(labels.data(), slice.size()), g);
      model.backward(nn::ConstMatrixMap(grad_logits.data(), n, classes));
      auto grads = model.gradients();
      reducer.reduce(grads);
      const std::int64_t count = sampler.global_count(step);
      Eigen::Map<Eigen::VectorXf>(grads.data(), static_cast<Eigen::Index>(grads.size())) *=
          1.0f / static_cast<float>(count);
      const double penalty = model.l2_penalty(config.optim.weight_decay);
      model.add_l2_gradient(config.optim.weight_decay, grads);
      optimizer->step(model.parameters(), grads);
      ++global_step;
      samples_seen += count;
      for (Window* w : {&epoch_window, &log_window}) {
        w->loss += sums.loss;
        w->correct += static_cast<double>(sums.correct);
        w->count += static_cast<double>(sums.count);
        w->penalty += penalty;
        w->steps += 1;
      }
      if (global_step % config.train.log_every == 0) {
        const double elapsed = seconds_since(log_window.start);
        const auto [loss, accuracy, samples] = log_window.reduce(comm);
        if (root) {
          metrics->write({{"kind", "interval"}, {"epoch", epoch + 1}, {"step", global_step},
                          {"loss", loss}, {"accuracy", accuracy}, {"learning_rate", lr},
                          {"samples_per_second", samples / elapsed},
                          {"seconds", seconds_since(wall_start)}});
          if (bar.active()) {
            bar.update(epoch + 1, global_step, samples / elapsed, loss);
          } else {
            spdlog::info("epoch {} step {}/{}: loss {:.4f} accuracy {:.4f}, {:.0f} samples/s", epoch + 1,
                         global_step, total_steps, loss, accuracy, samples / elapsed);
          }
        }
        log_window = Window{};
      }
    }
    train_seconds += seconds_since(epoch_start);
    const double epoch_seconds = seconds_since(epoch_start);
    const auto [loss, accuracy, samples] = epoch_window.reduce(comm);
    final_train_loss = loss;
    final_train_accuracy = accuracy;
    const bool complete = step == steps_per_epoch;
    if (complete) epochs_done = epoch + 1;
    nlohmann::json record = {{"kind", "epoch"}, {"epoch", epoch + 1}, {"step", global_step},
                             {"loss", loss}, {"accuracy", accuracy}, {"learning_rate", lr},
                             {"samples_per_second", samples / epoch_seconds},
                             {"seconds", seconds_since(wall_start)}, {"complete", complete}};
    if (data.validation.size() > 0) {
      const auto v = evaluate(model, data.validation, comm);
      record["val_loss"] = v.loss;
      record["val_accuracy"] = v.accuracy;
    }
    if (root) {
      bar.clear();
      metrics->write(record);
      spdlog::info("epoch {}/{} done: train loss {:.4f} accuracy {:.4f}{}, {:.0f} samples/s, {:.1f} s",
                   epoch + 1, config.train.epochs, loss, accuracy,
                   record.contains("val_loss")
                       ? fmt::format(", validation loss {:.4f} accuracy {:.4f}", record["val_loss"].get<double>(),
                                     record["val_accuracy"].get<double>())
                       : std::string(),
                   samples / epoch_seconds, epoch_seconds);
    }
    const bool last = !(epoch + 1 < config.train.epochs && global_step < total_steps);
    const bool periodic = config.checkpoint.every_epochs > 0 && complete &&
                          (epoch + 1) % config.checkpoint.every_epochs == 0;
    if (root && (periodic || last)) {
      const auto path = checkpoint_path(run_dir, global_step);
      write_checkpoint(path, make_checkpoint(config, model, *optimizer, data.scaler, epochs_done,
                                             complete ? 0 : step, global_step));
      last_checkpoint = path.filename().string();
      spdlog::info("checkpoint written: {}", path.string());
    }
  }

  // Every replica must hold the same parameters.
  const std::string checksum = checksum_hex(model.parameters());
  const auto crc = static_cast<std::uint64_t>(std::stoul(checksum, nullptr, 16));
  const std::uint64_t lo = comm.allreduce(crc, dist::ReduceOp::min);
  const std::uint64_t hi = comm.allreduce(crc, dist::ReduceOp::max);
  if (lo != hi) {
    throw std::runtime_error("replicas diverged: parameter checksums differ across ranks after step " +
                             std::to_string(global_step));
  }

  nlohmann::json summary = {
      {"world_size", world},
      {"global_batch_size", global_batch},
      {"per_rank_batch_size", max_rows},
      {"epochs", epochs_done},
      {"steps", global_step},
      {"samples", samples_seen},
      {"train_seconds", train_seconds},
      {"wall_seconds", seconds_since(wall_start)},
      {"samples_per_second", train_seconds > 0 ? static_cast<double>(samples_seen) / train_seconds : 0.0},
      {"final_train_loss", final_train_loss},
      {"final_train_accuracy", final_train_accuracy},
      {"parameters", model.registry().total()},
      {"param_checksum", checksum},
      {"checkpoint", last_checkpoint},
  };
  if (data.test.size() > 0) {
    const auto t = evaluate(model, data.test, comm);
    summary["test_loss"] = t.loss;
    summary["test_accuracy"] = t.accuracy;
    summary["test_samples"] = t.count;
  }
  if (data.validation.size() > 0) summary["validation"] = eval_json(evaluate(model, data.validation, comm));
  summary["wall_seconds"] = seconds_since(wall_start);
  if (root) {
    write_json_file(run_dir / "summary.json", summary);
    spdlog::info("done: {} steps in {:.1f} s ({:.0f} samples/s); final train loss {:.4f}{}; checksum {}",
                 global_step, train_seconds, summary["samples_per_second"].get<double>(), final_train_loss,
                 summary.contains("test_accuracy")
                     ? fmt::format("; test loss {:.4f} accuracy {:.4f}", summary["test_loss"].get<double>(),
                                   summary["test_accuracy"].get<double>())
                     : std::string(),
                 checksum);
  }
  return summary;
}

}  // namespace mpitrain::train
