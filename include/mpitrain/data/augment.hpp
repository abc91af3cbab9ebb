#pragma once
/// @file augment.hpp
/// Data augmentation of training samples, drawn per sample from (seed, epoch, global sample index) alone:
/// a sample is transformed alike on whichever rank holds it, so augmented runs still do not depend on the
/// world size, and a resumed run draws what the uninterrupted one drew. Samples are images laid out
/// channels last, H × W × C values per row (as Keras and the model's activations).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::data {

/// What data.augment asks for.
struct Augmentation {
  bool flip_horizontal = false;  ///< Mirror left-right with probability 1/2.
  int shift = 0;                 ///< Translate by dy, dx each uniform in [-shift, shift] pixels, zero fill.
  /// Whether any transform is on.
  [[nodiscard]] bool any() const { return flip_horizontal || shift > 0; }
  bool operator==(const Augmentation&) const = default;
};

/// Parses data.augment: empty or `none` (off), or a comma-separated list of `flip_horizontal` and
/// `shift:N` (N an integer in [1, 64]), e.g. `flip_horizontal, shift:2`; spaces around items are ignored.
/// @throws std::invalid_argument naming the item that is unknown, repeated or out of range.
Augmentation parse_augmentation(const std::string& text);

/// The canonical text of @p a (`flip_horizontal,shift:2`, or `none`), which parse_augmentation reads back.
std::string to_string(const Augmentation& a);

/// The draw of one sample: whether it is flipped and by how much it is shifted (rows dy, columns dx).
struct SampleTransform {
  bool flip = false;
  int dy = 0;
  int dx = 0;
  bool operator==(const SampleTransform&) const = default;
};

/// The transform of the sample with global index @p sample_index in epoch @p epoch: a SplitMix64 stream
/// seeded by base::keyed_seed({seed ^ salt, epoch, sample_index}), of which the flip takes one draw (below 2)
/// if on, then dy and dx one each (below 2·shift + 1, minus shift) if shift > 0. A pure function.
SampleTransform sample_transform(const Augmentation& a, std::uint64_t seed, std::int64_t epoch,
                                 std::int64_t sample_index);

/// Writes @p t applied to one sample @p in of shape (H, W, C) into @p out (the same size, not overlapping):
/// flip, then shift: out(y, x, c) = f(y - dy, x - dx, c), 0 outside the image, where f(y, x, c) =
/// in(y, W - 1 - x, c) when flipped and in(y, x, c) otherwise.
/// @throws std::invalid_argument when the sizes differ from the shape's or the shape is not 3-D.
void transform_sample(std::span<const float> in, std::span<float> out, const base::Shape& shape,
                      const SampleTransform& t);

/// Applies augmentation to the rows of a training batch in place. Holds one sample of scratch memory, so
/// apply() allocates nothing.
class Augmenter {
 public:
  /// @param sample_shape (H, W, C) of one sample. @throws std::invalid_argument when @p a is on and the
  ///        shape is not three-dimensional, or the shift is not smaller than both H and W.
  Augmenter(const Augmentation& a, base::Shape sample_shape, std::uint64_t seed);

  /// Transforms row r of @p rows (rows × H·W·C) by transform_sample with sample_transform(a, seed, epoch,
  /// sample_indices[r]).
  /// @throws std::invalid_argument when the widths or the row count differ from the indices'.
  void apply(base::MatrixMap rows, std::span<const std::int64_t> sample_indices, std::int64_t epoch);

  /// Whether apply() changes anything.
  [[nodiscard]] bool enabled() const { return augmentation_.any(); }

 private:
  Augmentation augmentation_;
  base::Shape shape_;
  std::uint64_t seed_;
  std::vector<float> scratch_;  // one sample
};

}  // namespace mpitrain::data
