#pragma once
/// @file parameters.hpp
/// The named registry of a model's parameters inside one flat float buffer. The model owns one contiguous
/// buffer of parameters and one of gradients (and each optimizer one per state) with the same layout;
/// everything that walks parameters (optimizer, allreduce, checkpoint, L2 penalty) goes through this
/// registry by name, never by index or address.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mpitrain::nn {

/// One parameter tensor in the flat buffer. A 2-D tensor is row-major rows × cols; a vector has rows = 1.
struct ParameterInfo {
  std::string name;          ///< Keras-style name, e.g. `dense_1/kernel:0`.
  std::string layer;         ///< Owning layer, e.g. `dense_1`.
  std::int64_t offset = 0;   ///< First element in the flat buffer (floats).
  std::int64_t rows = 0;     ///< Rows (inputs for a kernel; 1 for a bias).
  std::int64_t cols = 0;     ///< Columns (outputs).
  bool decay = false;        ///< Whether the L2 penalty applies (weights yes, biases no).
  /// Element count rows × cols.
  [[nodiscard]] std::int64_t size() const { return rows * cols; }
};

/// Ordered registry of parameter tensors laid out back to back.
class ParameterRegistry {
 public:
  /// Appends a tensor after the last one and returns its entry.
  /// @throws std::invalid_argument for a duplicate name, a non-positive shape, or a size whose element
  ///         count (rows × cols, or the running total) overflows int64.
  const ParameterInfo& add(std::string layer, std::string name, std::int64_t rows, std::int64_t cols,
                           bool decay);
  /// All entries in layout order.
  [[nodiscard]] const std::vector<ParameterInfo>& entries() const { return entries_; }
  /// Total floats in the buffer.
  [[nodiscard]] std::int64_t total() const { return total_; }
  /// The entry called @p name, or nothing.
  [[nodiscard]] std::optional<ParameterInfo> find(const std::string& name) const;

 private:
  std::vector<ParameterInfo> entries_;
  std::int64_t total_ = 0;
};

/// Whether every value of @p values (any length, e.g. the flat gradient buffer) is finite: no NaN and no
/// ±infinity (IEEE-754 binary32: an exponent field of all ones). Tests the bit patterns with integer
/// operations, which the compiler vectorises (about 10 µs for the 235146 gradients of the default MLP,
/// several times faster than Eigen's allFinite); the result does not depend on alignment.
[[nodiscard]] bool all_finite(std::span<const float> values) noexcept;

}  // namespace mpitrain::nn
