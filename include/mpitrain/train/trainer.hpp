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
};

/// Loads and scales the data sets a config names, checking labels and values; logs rows and imputed
/// cells. @throws data::DataError naming the file and location.
TrainingData load_training_data(const config::Config& config);

/// Runs training as configured and writes the run directory (rank 0). Returns the summary (the same
/// object written to summary.json) on every rank.
/// @throws dist::MpiError, CheckpointError, std::runtime_error (replicas diverged: checksum mismatch).
nlohmann::json train(const config::Config& config, TrainingData& data, const dist::Communicator& comm,
                     const std::filesystem::path& run_dir);

/// zlib crc32 of the bytes of @p values, as 8 lower-case hex digits.
std::string checksum_hex(std::span<const float> values);

}  // namespace mpitrain::train
