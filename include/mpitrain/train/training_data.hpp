#pragma once
/// @file training_data.hpp
/// The data sets of a run (training, validation, test), loaded and scaled as the config says.

#include <cstdint>

#include "mpitrain/config/config.hpp"
#include "mpitrain/data/augment.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/data/scaling.hpp"

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

/// Loads and scales the data sets a config names, checking labels and values; logs rows and imputed
/// cells. With data.shuffle = global every rank loads every training sample (8-bit IDX images stay bytes);
/// with data.shuffle = local, rank @p rank of @p world_size loads only its contiguous 1/N of the training
/// records (data::load_idx_shard, data::read_csv_shard; possibly none for a small CSV), as float features.
/// The validation split and the test set are whole on every rank. Not collective.
/// @throws data::DataError naming the file and location.
TrainingData load_training_data(const config::Config& config, int rank = 0, int world_size = 1);

/// Gives every set of @p data the sample shape of data.sample_shape, if set (load_training_data gives them
/// the training file's: IDX images (rows, columns, 1), CSV one dimension).
/// @throws config::ConfigError naming data.sample_shape when its product is not the training rows' width.
void apply_sample_shape(const config::Config& config, TrainingData& data);

/// The augmentation data.augment asks for, checked against samples of shape @p sample_shape.
/// @throws config::ConfigError naming data.augment for a malformed list, or for a transform on samples that
///         are not images (height, width, channels) or smaller than the shift.
data::Augmentation configured_augmentation(const config::Config& config, const base::Shape& sample_shape);

}  // namespace mpitrain::train
