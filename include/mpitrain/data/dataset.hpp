#pragma once
/// @file dataset.hpp
/// An in-memory labelled data set, in the project's batch layout (base/tensor.hpp): a matrix of samples is
/// row-major, rows × columns = samples × features, so one sample is one contiguous row.

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::data {

using base::ByteMatrix;
using base::RowMatrix;

/// Thrown for malformed or inconsistent input data. what() names the file and the location
/// (line and column for CSV, byte offset or header field for IDX).
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A labelled data set held in memory.
struct Dataset {
  RowMatrix features;                ///< samples × features; 0 × features when held as pixels.
  /// samples × features raw 8-bit values (unscaled), or empty. When set, `features` has no rows and the
  /// samples reach the model through data::gather_batch, which scales each batch (batch.hpp): a quarter
  /// of the memory of float features. Only the trainer's training set is held this way.
  ByteMatrix pixels;
  std::vector<std::int32_t> labels;  ///< samples; each in [0, classes).
  std::string source;                ///< Where it was read from, for messages.
  /// The shape of one sample, channels last, e.g. (28, 28, 1) for IDX images; empty: one-dimensional,
  /// (feature_count()). Its product is feature_count().
  base::Shape shape;

  /// Number of samples (rows).
  [[nodiscard]] std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  /// Number of features (columns).
  [[nodiscard]] std::int64_t feature_count() const { return features.cols(); }
  /// The shape of one sample: `shape`, or (feature_count()) when that is empty.
  [[nodiscard]] base::Shape sample_shape() const { return shape.empty() ? base::Shape{feature_count()} : shape; }
};

/// Checks that every label is in [0, classes): the one label range check of the readers (IDX whole or
/// sharded; the CSV reader checks each label cell as it parses it, naming its line and column).
/// @param labels samples' labels. @param source the labels file, for the message.
/// @param first_index the 0-based index in that file of labels[0] (a shard's first record).
/// @throws DataError "<source>: label L at index I (0-based) is outside [0, classes)" for the first bad one.
void check_labels(std::span<const std::int32_t> labels, int classes, const std::string& source,
                  std::int64_t first_index = 0);

/// Checks that every feature is finite.
/// @throws DataError naming ds.source, the 0-based row and column of the first non-finite value.
void check_finite(const Dataset& ds);

/// Splits off the last `round(fraction × size)` samples (after a seeded shuffle) as a validation set.
/// Deterministic in @p seed, independent of the world size. Both parts keep the rows' original order.
/// @param fraction in [0, 1); 0 (or a fraction that rounds to no sample) returns an empty validation set
///        (0 × features) and leaves @p train unchanged.
/// @return the validation set (source "<train.source> (validation)"); @p train keeps the rest.
/// @throws std::invalid_argument for a fraction outside [0, 1).
/// @throws DataError when the split would leave no training sample.
Dataset split_validation(Dataset& train, double fraction, std::uint64_t seed);

}  // namespace mpitrain::data
