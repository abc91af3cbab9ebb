#pragma once
/// @file training_data.hpp
/// The data sets of a run (training, validation, test), loaded and scaled as the config says.

#include <cstdint>
#include <optional>

#include "mpitrain/config/config.hpp"
#include "mpitrain/data/augment.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/data/scaling.hpp"
#include "mpitrain/data/text_windows.hpp"

namespace mpitrain::train {

/// data.format = text: windows of memory-mapped bytes (data/text_windows.hpp).
struct TextData {
  data::TextWindows train;                    ///< Training layout: an offset per epoch.
  std::optional<data::TextWindows> validation;  ///< Evaluation layout; data.validation_text or the file's end.
};

/// The data of a run, already scaled.
struct TrainingData {
  data::Dataset train;        ///< samples × features.
  data::Dataset validation;   ///< May be empty.
  data::Dataset test;         ///< May be empty.
  data::Scaler scaler{"none", 1.0};  ///< The fitted scaling (saved in checkpoints).
  /// True with data.shuffle = local: `train` holds only this rank's shard (sizes differ between ranks).
  bool local_shard = false;
  /// data.format = text: the windows; then `train` holds no rows, only the sample shape (T) and the source,
  /// and `validation` and `test` are empty.
  std::optional<TextData> text;

  /// The samples of an epoch: the training text's windows, or the training set's rows.
  [[nodiscard]] std::int64_t train_samples() const { return text ? text->train.count() : train.size(); }
};

/// Loads and scales the data sets a config names, checking labels and values; logs rows and imputed
/// cells. With data.shuffle = global every rank loads every training sample (8-bit IDX images stay bytes);
/// with data.shuffle = local, rank @p rank of @p world_size loads only its contiguous 1/N of the training
/// records (data::load_idx_shard, data::read_csv_shard; possibly none for a small CSV), as float features.
/// The validation split and the test set are whole on every rank. With data.format = text every rank maps
/// the text files (read-only, shared: one copy in the page cache per node), with the context T of
/// model.spec (text_context); data.validation_fraction holds out the file's last round(fraction · N) bytes.
/// Not collective.
/// @throws data::DataError naming the file and location (for text: a missing or empty file, or a part
///         shorter than one window, naming data.validation_fraction when it made the part too short);
///         config::ConfigError as text_context.
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
