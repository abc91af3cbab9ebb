#pragma once
/// @file scaling.hpp
/// Feature scaling fitted on the training set and applied alike to every set.

#include <string>
#include <vector>

#include "mpitrain/data/dataset.hpp"

namespace mpitrain::data {

/// Feature scaling: x' = (x - shift[j]) / scale[j] for column j.
/// `divide`: shift 0, scale = divisor for all columns (255 for 8-bit images).
/// `standardize`: shift = training-set mean, scale = training-set population std (1 where std is 0).
/// `none`: identity.
class Scaler {
 public:
  /// @param method `divide`, `standardize` or `none`.
  /// @param divisor used by `divide` (finite, > 0); ignored by the other methods.
  /// @throws DataError for an unknown method, or divisor <= 0 with `divide`.
  Scaler(std::string method, double divisor);

  /// Computes shift and scale from @p train (samples × features). Only `standardize` depends on the data
  /// (statistics accumulated in double); the others only take the feature count.
  /// @throws DataError for `standardize` on an empty training set.
  void fit(const Dataset& train);

  /// Applies the fitted transform in place to @p ds (samples × features).
  /// @throws DataError naming ds.source when the feature count differs from the fitted one (or the
  ///         scaler was never fitted).
  void apply(Dataset& ds) const;

  /// Per-column shift (size = features after fit).
  [[nodiscard]] const std::vector<float>& shift() const { return shift_; }
  /// Per-column scale (size = features after fit).
  [[nodiscard]] const std::vector<float>& scale() const { return scale_; }
  /// Restores a fitted transform (from a checkpoint).
  /// @throws DataError when the sizes differ, or a value is not finite, or a scale is <= 0.
  void set(std::vector<float> shift, std::vector<float> scale);
  /// The method name.
  [[nodiscard]] const std::string& method() const { return method_; }

 private:
  std::string method_;
  double divisor_;
  std::vector<float> shift_;  // features
  std::vector<float> scale_;  // features
};

}  // namespace mpitrain::data
