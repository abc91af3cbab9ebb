#include <spdlog/spdlog.h>

#include "mpitrain/data/batch.hpp"
#include "mpitrain/data/csv_reader.hpp"
#include "mpitrain/data/idx_reader.hpp"
#include "mpitrain/data/shard_reader.hpp"
#include "mpitrain/train/model_setup.hpp"
#include "mpitrain/train/training_data.hpp"

#include <cmath>
#include <memory>

namespace mpitrain::train {

namespace {

// Feature columns sharing a header name are legal (features are positional) but often a mistake: rank 0
// warns (every rank reads the same header).
void warn_duplicates(const std::string& path, const data::CsvStats& stats, int rank) {
  if (rank == 0 && !stats.duplicate_feature_names.empty()) {
    spdlog::warn("{}: feature columns share a header name: {}", path, stats.duplicate_feature_names);
  }
}

data::Dataset load_csv(const std::string& path, const config::Config& config, int rank) {
  data::CsvStats stats;
  data::Dataset ds = data::read_csv_dataset(path, data::csv_options(config.data, config.model.classes), &stats);
  spdlog::info("{}: {} rows loaded, {} features, {} missing cells imputed as 0", path, stats.rows,
               ds.feature_count(), stats.imputed_cells);
  warn_duplicates(path, stats, rank);
  return ds;
}

// data.shuffle = local: only this rank's contiguous 1/N of the training records (shard_reader.hpp).
data::Dataset load_train_shard(const config::Config& config, int rank, int world_size) {
  const auto& d = config.data;
  data::ShardInfo info;
  data::Dataset ds;
  if (d.format == "csv") {
    data::CsvStats stats;
    ds = data::read_csv_shard(d.train_csv, data::csv_options(d, config.model.classes), rank, world_size, &stats, &info);
    spdlog::info("{}: shard {} of {}: bytes [{}, {}), {} rows loaded, {} features, {} missing cells imputed as 0",
                 d.train_csv, rank, world_size, info.byte_begin, info.byte_end, stats.rows, ds.feature_count(),
                 stats.imputed_cells);
    warn_duplicates(d.train_csv, stats, rank);
  } else {
    // 8-bit images stay bytes (a quarter of the floats), scaled per batch as with global shuffling.
    ds = data::load_idx_shard(d.train_images, d.train_labels, config.model.classes, rank, world_size, &info, true);
    spdlog::info("{}: shard {} of {}: records [{}, {}) of {}, {} features", d.train_images, rank, world_size,
                 info.records.begin, info.records.end, info.total_records, ds.feature_count());
  }
  data::check_finite(ds);
  return ds;
}

data::Dataset load_set(const config::Config& config, const std::string& images, const std::string& labels,
                       const std::string& csv, int rank, bool as_pixels = false) {
  data::Dataset ds = config.data.format == "csv" ? load_csv(csv, config, rank)
                     : as_pixels ? data::load_idx_pixels(images, labels, config.model.classes)
                                 : data::load_idx_dataset(images, labels, config.model.classes);
  if (config.data.format != "csv") {
    spdlog::info("{}: {} samples of {} features", images, ds.size(), ds.feature_count());
  }
  data::check_finite(ds);
  return ds;
}

// data.format = text: the training text's windows and the validation windows (data.validation_text, or the
// last round(fraction · N) bytes of the training text).
TextData load_text(const config::Config& config, std::int64_t context) {
  const auto& d = config.data;
  auto file = std::make_shared<const data::MappedFile>(d.train_text);
  const std::size_t n = file->size();
  const auto held_out = static_cast<std::size_t>(std::llround(d.validation_fraction * static_cast<double>(n)));
  const std::size_t train_end = n - held_out;
  const std::string fraction = fmt::format("data.validation_fraction = {}", d.validation_fraction);
  if (train_end == 0) {
    throw data::DataError(d.train_text + ": " + fraction + " holds out all its " + std::to_string(n) +
                          " bytes, leaving none for training");
  }
  const std::string train_source =
      held_out == 0 ? d.train_text
                    : fmt::format("{} (training part, bytes [0, {}) before the last {} bytes that {} holds out)",
                                  d.train_text, train_end, held_out, fraction);
  TextData text{data::TextWindows(file, 0, train_end, context, data::WindowLayout::training, train_source), {}};
  if (!d.validation_text.empty()) {
    auto validation = std::make_shared<const data::MappedFile>(d.validation_text);
    const std::size_t size = validation->size();
    text.validation.emplace(std::move(validation), 0, size, context, data::WindowLayout::evaluation,
                            d.validation_text);
  } else if (held_out > 0) {
    text.validation.emplace(file, train_end, n, context, data::WindowLayout::evaluation,
                            fmt::format("{} (validation part, its last {} bytes: {})", d.train_text, held_out,
                                        fraction));
  }
  spdlog::info("{}: {} bytes, context {}: {} training windows of {} bytes per epoch{}", d.train_text, n, context,
               text.train.count(), context + 1,
               text.validation ? fmt::format("; validation: {} windows of {} ({} bytes)", text.validation->count(),
                                             text.validation->source(), text.validation->size())
                               : std::string());
  return text;
}

}  // namespace

TrainingData load_training_data(const config::Config& config, int rank, int world_size) {
  TrainingData out;
  const auto& d = config.data;
  if (d.format == "text") {  // bytes as tokens: no scaling, no test set
    const std::int64_t context = text_context(config);
    out.text.emplace(load_text(config, context));
    out.train.shape = {context};
    out.train.features.resize(0, context);  // no rows: the width, for the scaler kept in checkpoints
    out.train.source = d.train_text;
    out.scaler = data::Scaler("none", 1.0);
    out.scaler.fit(out.train);
    return out;
  }
  if (d.shuffle == "local") {
    out.train = load_train_shard(config, rank, world_size);
    out.local_shard = true;
  }
  // 8-bit training images stay bytes, scaled per batch by the trainer (data::gather_batch), unless something
  // needs their float values up front: standardize fits on them, the validation split copies rows.
  const bool pixels = d.format == "idx" && d.scaling != "standardize" && d.validation_fraction == 0;
  if (!out.local_shard) out.train = load_set(config, d.train_images, d.train_labels, d.train_csv, rank, pixels);
  const bool has_test = d.format == "csv" ? !d.test_csv.empty() : !d.test_images.empty();
  if (has_test) {
    out.test = load_set(config, d.test_images, d.test_labels, d.test_csv, rank);
    if (out.test.feature_count() != out.train.feature_count()) {
      throw data::DataError(out.test.source + ": " + std::to_string(out.test.feature_count()) +
                            " features, the training set " + out.train.source + " has " +
                            std::to_string(out.train.feature_count()));
    }
  }
  if (d.validation_fraction > 0) {
    out.validation = data::split_validation(out.train, d.validation_fraction, config.train.seed);
    spdlog::info("validation split: {} samples held out, {} left for training", out.validation.size(),
                 out.train.size());
  }
  out.validation.shape = out.test.shape = out.train.shape;
  out.scaler = data::Scaler(d.scaling, d.scale_divisor);
  out.scaler.fit(out.train);
  out.scaler.apply(out.train);
  if (out.validation.size() > 0) out.scaler.apply(out.validation);
  if (out.test.size() > 0) out.scaler.apply(out.test);
  return out;
}

void apply_sample_shape(const config::Config& config, TrainingData& out) {
  const std::vector<int>& dims = config.data.sample_shape;
  if (dims.empty()) return;
  const base::Shape shape(dims.begin(), dims.end());
  const std::int64_t values = base::element_count(shape);
  if (values != out.train.feature_count()) {
    throw config::ConfigError("config key data.sample_shape = " + base::format_shape(shape) + ": " +
                              std::to_string(values) + " values per sample, but " + out.train.source + " has " +
                              std::to_string(out.train.feature_count()) + " features per row");
  }
  out.train.shape = out.validation.shape = out.test.shape = shape;
}

data::Augmentation configured_augmentation(const config::Config& config, const base::Shape& sample_shape) {
  try {
    const data::Augmentation a = data::parse_augmentation(config.data.augment);
    static_cast<void>(data::Augmenter(a, sample_shape, 0));  // checks the shape
    return a;
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError("config key data.augment = '" + config.data.augment + "': " + e.what());
  }
}

}  // namespace mpitrain::train
