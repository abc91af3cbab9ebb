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
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/data/scaling.hpp"
#include "mpitrain/dist/communicator.hpp"

namespace mpitrain::train {

/// The data of a run, already scaled.
struct TrainingData {
  data::Dataset train;        ///< samples × features.
  data::Dataset validation;   ///< May be empty.
  data::Dataset test;         ///< May be empty.
  data::Scaler scaler{"none", 1.0};  ///< The fitted scaling (saved in checkpoints).
  /// True with data.shuffle = local: `train` holds only this rank's shard (sizes differ between ranks).
  bool local_shard = false;
};

/// Training ended early on every rank alike (agreed): a non-finite loss or gradient with
/// train.nonfinite = stop, diverged replicas, or a stop signal (exit_code guard::exit_preempted, after rank 0
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

/// Loads and scales the data sets a config names, checking labels and values; logs rows and imputed
/// cells. With data.shuffle = global every rank loads every training sample (8-bit IDX images stay bytes);
/// with data.shuffle = local, rank @p rank of @p world_size loads only its contiguous 1/N of the training
/// records (data::load_idx_shard, data::read_csv_shard; possibly none for a small CSV), as float features.
/// The validation split and the test set are whole on every rank. Not collective.
/// @throws data::DataError naming the file and location.
TrainingData load_training_data(const config::Config& config, int rank = 0, int world_size = 1);

/// Runs training as configured and writes the run directory (rank 0); resumes from a checkpoint when
/// checkpoint.resume says so. Returns the summary (the same object written to summary.json) on every rank.
/// @throws TrainingStopped (every rank alike), dist::AgreedError for a bad checkpoint to resume from
///         (every rank alike), dist::MpiError, checkpoint::CheckpointError, std::runtime_error.
nlohmann::json train(const config::Config& config, TrainingData& data, const dist::Communicator& comm,
                     const std::filesystem::path& run_dir);

/// zlib crc32 of the bytes of @p values, as 8 lower-case hex digits.
std::string checksum_hex(std::span<const float> values);

}  // namespace mpitrain::train
