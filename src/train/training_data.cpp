#include <spdlog/spdlog.h>

#include "mpitrain/data/batch.hpp"
#include "mpitrain/data/csv_reader.hpp"
#include "mpitrain/data/idx_reader.hpp"
#include "mpitrain/train/trainer.hpp"

namespace mpitrain::train {

namespace {

data::Dataset load_csv(const std::string& path, const config::Config& config) {
  data::CsvOptions options;
  options.header = data::parse_csv_header(config.data.csv_header);
  options.label_column = config.data.label_column;
  options.classes = config.model.classes;
  data::CsvStats stats;
  data::Dataset ds = data::read_csv_dataset(path, options, &stats);
  spdlog::info("{}: {} rows loaded, {} features, {} missing cells imputed as 0", path, stats.rows,
               ds.feature_count(), stats.imputed_cells);
  return ds;
}

data::Dataset load_set(const config::Config& config, const std::string& images, const std::string& labels,
                       const std::string& csv, bool as_pixels = false) {
  data::Dataset ds = config.data.format == "csv" ? load_csv(csv, config)
                     : as_pixels ? data::load_idx_pixels(images, labels, config.model.classes)
                                 : data::load_idx_dataset(images, labels, config.model.classes);
  if (config.data.format != "csv") {
    spdlog::info("{}: {} samples of {} features", images, ds.size(), ds.feature_count());
  }
  data::check_labels(ds, config.model.classes);
  data::check_finite(ds);
  return ds;
}

}  // namespace

TrainingData load_training_data(const config::Config& config) {
  TrainingData out;
  const auto& d = config.data;
  // 8-bit training images stay bytes, scaled per batch by the trainer (data::gather_batch), unless something
  // needs their float values up front: standardize fits on them, the validation split copies rows.
  const bool pixels = d.format == "idx" && d.scaling != "standardize" && d.validation_fraction == 0;
  out.train = load_set(config, d.train_images, d.train_labels, d.train_csv, pixels);
  const bool has_test = d.format == "csv" ? !d.test_csv.empty() : !d.test_images.empty();
  if (has_test) {
    out.test = load_set(config, d.test_images, d.test_labels, d.test_csv);
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
  out.scaler = data::Scaler(d.scaling, d.scale_divisor);
  out.scaler.fit(out.train);
  out.scaler.apply(out.train);
  if (out.validation.size() > 0) out.scaler.apply(out.validation);
  if (out.test.size() > 0) out.scaler.apply(out.test);
  return out;
}

}  // namespace mpitrain::train
