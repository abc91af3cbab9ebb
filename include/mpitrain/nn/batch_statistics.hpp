#pragma once
/// @file batch_statistics.hpp
/// How a layer sums statistics over the whole global batch without knowing of MPI: `nn` declares this
/// interface, `train` implements it over the communicator (train/batch_statistics.hpp), and a training
/// Context carries a pointer to it. Synchronized batch normalization (nn::BatchNorm) sums its per-channel
/// moments through it, so that its outputs do not depend on how the global batch is split over ranks.

#include <span>

namespace mpitrain::nn {

/// Sums values over every replica (rank) of a training step.
class BatchStatistics {
 public:
  virtual ~BatchStatistics() = default;
  /// Replaces @p values, element by element, with their sum over every replica of the step, in place; every
  /// replica gets the same sums. Collective: every replica calls it in the same order with the same length
  /// (a rank with no rows in this step passes its zeros). @throws whatever the implementation's transport
  /// throws (train's: dist::MpiError).
  virtual void sum(std::span<double> values) const = 0;

 protected:
  BatchStatistics() = default;
  BatchStatistics(const BatchStatistics&) = default;
  BatchStatistics& operator=(const BatchStatistics&) = default;
};

}  // namespace mpitrain::nn
