#pragma once
/// @file trainer.hpp
/// The data-parallel training loop: the only place where the numerics (nn, optim) meet the collectives.
/// Each step: every rank computes the summed gradient of its slice of the global batch, one allreduce
/// (sum) over the flat gradient buffer, division by the global batch's sample count, L2 gradient, and the
/// same optimizer step on every rank.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mpitrain/config/config.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/guard/fault_injection.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/task.hpp"
#include "mpitrain/train/training_data.hpp"

namespace mpitrain::train {

/// Training ended early on every rank alike (agreed): a non-finite loss or gradient with
/// train.nonfinite = stop, diverged replicas, or a stop signal (exit_code base::exit_preempted, after rank 0
/// wrote a checkpoint). what() says why, with the step and the rank.
class TrainingStopped : public dist::AgreedError {
 public:
  TrainingStopped(const std::string& what, int failing_rank, int exit_code)
      : dist::AgreedError(what, failing_rank), exit_code_(exit_code) {}
  /// The process exit code every rank should return.
  [[nodiscard]] int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

/// Trains @p model with @p task's loss as configured and writes the run directory (rank 0); resumes from a
/// checkpoint when checkpoint.resume says so (the checkpoint must hold the model's spec), else initialises
/// the model from model.seed. Returns the summary (the same object written to summary.json) on every rank.
/// @param model built alike on every rank (train::configured_model), its input width the data's.
/// @param faults planned faults (tests; guard::FaultPlan::from_environment in the app).
/// @throws TrainingStopped (every rank alike), dist::AgreedError for a bad checkpoint to resume from
///         (every rank alike), dist::MpiError, checkpoint::CheckpointError, std::runtime_error.
nlohmann::json train(const config::Config& config, TrainingData& data, nn::Model& model, const nn::Task& task,
                     const dist::Communicator& comm, const std::filesystem::path& run_dir,
                     const guard::FaultPlan& faults = {});

}  // namespace mpitrain::train
