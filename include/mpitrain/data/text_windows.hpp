#pragma once
/// @file text_windows.hpp
/// Byte-level language-model samples: windows of T + 1 bytes of a text (data.format = text). Token = byte
/// (0..255). The input of window k is the T bytes [s, s + T) and its targets are the T bytes
/// [s + 1, s + T + 1), with s = offset + k·T: consecutive windows share one byte, so every pair of adjacent
/// bytes (after the offset) is predicted exactly once per epoch.
/// - Training: the offset is drawn per epoch from (train.seed, epoch) (epoch_offset) and the number of
///   windows is floor((N − T) / T), which fits at every offset in [0, T); the sampler shuffles window
///   indices, which are the samples' global indices (dropout keys).
/// - Evaluation (validation, `evaluate`): offset 0, every window that fits whole, floor((N − 1) / T).

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/data/mapped_file.hpp"

namespace mpitrain::data {

/// How the windows of a text are laid.
enum class WindowLayout {
  training,    ///< an offset in [0, T) per epoch, floor((N − T) / T) windows
  evaluation,  ///< offset 0, floor((N − 1) / T) windows
};

/// The offset of epoch @p epoch's training windows: SplitMix64(keyed_seed({seed, epoch, 0x74657874}))
/// .below(T), in [0, T) (base/random.hpp). The same on every rank, at any world size and after a resume.
/// @throws std::invalid_argument for context < 1 or a negative epoch.
std::int64_t epoch_offset(std::uint64_t seed, std::int64_t epoch, std::int64_t context);

/// The windows of the bytes [begin, end) of a mapped file. Holds a share of the mapping, never a copy.
class TextWindows {
 public:
  /// @param file the mapped text. @param begin, end the byte range used, begin < end <= file->size().
  /// @param context T >= 1, the model's input_shape (T). @param layout training or evaluation.
  /// @param source names the range in messages, e.g. "kjv.txt (training part, bytes [0, 3900000))".
  /// @throws DataError naming @p source, its size and T when not one window fits: fewer than 2·T bytes for
  ///         training (one window at every offset), fewer than T + 1 for evaluation.
  /// @throws std::invalid_argument for a bad range or context.
  TextWindows(std::shared_ptr<const MappedFile> file, std::size_t begin, std::size_t end, std::int64_t context,
              WindowLayout layout, std::string source);

  /// Windows per epoch (>= 1).
  [[nodiscard]] std::int64_t count() const { return count_; }
  /// T, the tokens per window's input (and targets).
  [[nodiscard]] std::int64_t context() const { return context_; }
  /// N, the bytes of the range.
  [[nodiscard]] std::int64_t size() const { return static_cast<std::int64_t>(bytes_.size()); }
  [[nodiscard]] WindowLayout layout() const { return layout_; }
  /// For messages.
  [[nodiscard]] const std::string& source() const { return source_; }
  /// The range's bytes.
  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return bytes_; }

  /// s = offset + window·T, the first byte (relative to the range) of @p window.
  /// @throws std::invalid_argument for a window outside [0, count()) or an offset outside [0, T) (training)
  ///         or other than 0 (evaluation).
  [[nodiscard]] std::int64_t start(std::int64_t window, std::int64_t offset) const;

  /// Writes window windows[i]'s T input bytes, as floats 0..255, into row i of @p x, and its T target bytes
  /// into targets[i·T, (i + 1)·T). Allocates nothing.
  /// @param x at least windows.size() rows × T columns. @param targets at least windows.size()·T entries.
  /// @throws std::invalid_argument as start(), or for an @p x or @p targets too small.
  void gather(std::span<const std::int64_t> windows, std::int64_t offset, base::RowMatrix& x,
              std::span<std::int32_t> targets) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  std::span<const std::uint8_t> bytes_;  // [begin, end) of file_
  std::int64_t context_;
  WindowLayout layout_;
  std::string source_;
  std::int64_t count_ = 0;
};

}  // namespace mpitrain::data
