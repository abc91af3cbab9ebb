// `mpitrain train --config FILE [--section.key=value ...]`
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <optional>

#include "app/commands.hpp"
#include "mpitrain/config/config.hpp"
#include "mpitrain/base/logging.hpp"
#include "mpitrain/checkpoint/run_lock.hpp"
#include "mpitrain/guard/fault_injection.hpp"
#include "mpitrain/guard/stop_signal.hpp"
#include "mpitrain/train/model_setup.hpp"
#include "mpitrain/train/trainer.hpp"

namespace po = boost::program_options;

namespace mpitrain::app {

int train_command(const std::vector<std::string>& args, const dist::Communicator& comm) {
  // First thing: a stop signal during the checks or the data loading must not kill the ranks (exit 75 below).
  guard::install_stop_handlers();
  po::options_description desc(
      "usage: mpirun -np N mpitrain train --config FILE [--section.key=value ...]\n\n"
      "Trains a model (an MLP, or the ModelSpec JSON of model.spec) data-parallel over the ranks. Any\n"
      "config key can be overridden on the command line, e.g. --train.epochs=2 --optim.learning_rate=0.01.\n"
      "Writes the run directory (checkpoint.dir, default runs/<config name>): config.ini, train.log,\n"
      "metrics.jsonl, checkpoint-*.h5, summary.json.\n\n"
      "options");
  desc.add_options()("help,h", "this help")("config", po::value<std::string>(), "INI config file");
  po::variables_map vm;
  std::vector<std::string> overrides;  // every token but --config and --help, for load_config
  if (const auto done =
          parse_command_line("train", config::split_empty_values(args), desc, {"config"}, vm, comm, &overrides)) {
    return *done;
  }
  const std::string config_path = vm["config"].as<std::string>();

  config::Config config;
  int code = agreed(comm, base::exit_usage, [&] {
    config = config::load_config(config_path, overrides);
    const std::int64_t global_batch = config.train.global_batch_size > 0
                                          ? config.train.global_batch_size
                                          : static_cast<std::int64_t>(config.train.batch_size) * comm.size();
    if (config.data.shuffle == "local" && global_batch < comm.size()) {
      throw config::ConfigError("config key train.global_batch_size = " + std::to_string(global_batch) +
                                ": must be at least the world size (" + std::to_string(comm.size()) +
                                ") with data.shuffle = local, so that every rank's shard is used");
    }
    // A language model's context comes from model.spec: a spec that gives none is a configuration error.
    if (config.data.format == "text") static_cast<void>(train::text_context(config));
  });
  if (code != base::exit_ok) return code;
  base::setup_logging(comm.rank(), config.log.level);

  const std::filesystem::path run_dir = config.checkpoint.dir.empty()
                                            ? std::filesystem::path("runs") / config.name
                                            : std::filesystem::path(config.checkpoint.dir);
  code = agreed(comm, base::exit_usage, [&] {
    std::error_code ec;
    if (comm.rank() == 0 && std::filesystem::exists(run_dir, ec) && !std::filesystem::is_directory(run_dir, ec)) {
      throw config::ConfigError("config key checkpoint.dir = " + run_dir.string() +
                                ": is an existing file, not a directory; the run directory must be a directory");
    }
  });
  if (code != base::exit_ok) return code;

  // Rank 0 holds the run directory for the whole run (released by the kernel when the process ends): a
  // second run into it is refused here, before it writes anything there, train.log included.
  std::optional<checkpoint::RunLock> lock;
  code = agreed(comm, base::exit_error, [&] {
    if (comm.rank() != 0) return;
    std::filesystem::create_directories(run_dir);
    lock.emplace(run_dir);
    base::add_log_file(run_dir / "train.log");  // appends: earlier runs' lines stay
    spdlog::info("mpitrain train: config {}, run directory {}", config_path,
                 run_dir.string());
  });
  if (code != base::exit_ok) return code;

  guard::FaultPlan faults;  // MPITRAIN_FAULT (tests)
  train::TrainingData data;
  code = agreed(comm, base::exit_error, [&] {
    faults = guard::FaultPlan::from_environment();
    data = train::load_training_data(config, comm.rank(), comm.size());
  });
  if (code != base::exit_ok) return code;
  if (const int signal = guard::agree_on_stop_signal(comm); signal != 0) {
    if (comm.rank() == 0) {
      spdlog::warn("stopped by {} before the first step: nothing needed saving (no step was trained and no "
                   "checkpoint or config.ini written in this run); run the same command again to start",
                   guard::signal_name(signal));
    }
    return base::exit_preempted;
  }

  // The model and its task: a bad model.spec or a mismatch with the data is a configuration error.
  std::optional<train::ConfiguredModel> model;
  code = agreed(comm, base::exit_usage, [&] {
    train::apply_sample_shape(config, data);
    model.emplace(train::configured_model(config, data.train.sample_shape()));
    static_cast<void>(train::configured_augmentation(config, data.train.sample_shape()));
  });
  if (code != base::exit_ok) return code;

  try {
    train::train(config, data, model->model, *model->task, comm, run_dir, faults);
  } catch (const train::TrainingStopped& e) {
    // Every rank throws this alike, so all return the same code without aborting.
    if (comm.rank() == 0) {
      if (e.exit_code() == base::exit_preempted) {
        spdlog::warn("{}", e.what());
      } else {
        spdlog::error("{}", e.what());
      }
    }
    return e.exit_code();
  } catch (const dist::AgreedError& e) {
    if (comm.rank() == 0) spdlog::error("{}", e.what());
    return base::exit_error;
  }
  if (comm.rank() == 0) spdlog::info("run directory: {}", std::filesystem::absolute(run_dir).string());
  return base::exit_ok;
}

}  // namespace mpitrain::app
