#pragma once
// Shared by predict, evaluate, explain and diagnose: a trained model restored from a checkpoint, and input files read and
// scaled the way its training data was.

#include <filesystem>
#include <memory>
#include <optional>

#include "mpitrain/checkpoint/checkpoint.hpp"
#include "mpitrain/config/config.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/data/scaling.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/task.hpp"

namespace mpitrain::app {

struct LoadedModel {
  std::optional<nn::Model> model;    // built from the checkpoint's spec, with its parameters
  std::unique_ptr<nn::Task> task;    // the training run's task (train::configured_task)
  data::Scaler scaler{"none", 1.0};
  config::Config config;  // the training run's config
  checkpoint::CheckpointInfo info;  // everything else the checkpoint holds (lineage, scaler, ...)
};

// Reads and validates the checkpoint, and sets this process's compute threads to the training run's
// train.threads (nn::set_compute_threads), so that predict, evaluate, explain and diagnose compute alike at any
// world size. Throws checkpoint::CheckpointError naming the file (also when the model's outputs do not fit the
// stored config's task).
LoadedModel load_model(const std::filesystem::path& checkpoint);

// load_model without the task (task stays null) and its check: for generate, whose language model is no
// classifier. Throws checkpoint::CheckpointError naming the file.
LoadedModel load_network(const std::filesystem::path& checkpoint);

// Reads an IDX images file (with @p labels an IDX labels file, else labels are 0) or a CSV file (with
// the training config's label column when @p need_labels or when the file has it), checks it against the
// model's input width and scales it. Throws data::DataError naming the file (also for a language model's
// checkpoint, whose data is text).
data::Dataset load_inputs(const LoadedModel& loaded, const std::filesystem::path& input,
                          const std::filesystem::path& labels, bool need_labels);

}  // namespace mpitrain::app
