#include "mpitrain/data/text_windows.hpp"

#include <stdexcept>

#include "mpitrain/base/random.hpp"
#include "mpitrain/data/dataset.hpp"

namespace mpitrain::data {

namespace {
constexpr std::uint64_t text_key = 0x74657874;  // "text": the offset's stream differs from the sampler's
}  // namespace

std::int64_t epoch_offset(std::uint64_t seed, std::int64_t epoch, std::int64_t context) {
  if (context < 1 || epoch < 0) {
    throw std::invalid_argument("epoch_offset: context " + std::to_string(context) + ", epoch " +
                                std::to_string(epoch));
  }
  base::SplitMix64 rng(base::keyed_seed({seed, static_cast<std::uint64_t>(epoch), text_key}));
  return static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(context)));
}

TextWindows::TextWindows(std::shared_ptr<const MappedFile> file, std::size_t begin, std::size_t end,
                         std::int64_t context, WindowLayout layout, std::string source)
    : file_(std::move(file)), context_(context), layout_(layout), source_(std::move(source)) {
  if (!file_ || begin >= end || end > file_->size() || context < 1) {
    throw std::invalid_argument("TextWindows: bytes [" + std::to_string(begin) + ", " + std::to_string(end) +
                                ") of a file of " + std::to_string(file_ ? file_->size() : 0) + " bytes, context " +
                                std::to_string(context));
  }
  bytes_ = file_->bytes().subspan(begin, end - begin);
  const std::int64_t n = size(), t = context_;
  const bool training = layout_ == WindowLayout::training;
  count_ = training ? (n - t) / t : (n - 1) / t;
  if (count_ < 1) {
    const std::int64_t needed = training ? 2 * t : t + 1;
    throw DataError(source_ + ": " + std::to_string(n) + " bytes, fewer than one window: " +
                    (training ? "training needs at least 2·T = " : "it needs at least T + 1 = ") +
                    std::to_string(needed) + " bytes (T = " + std::to_string(t) +
                    ", the context: model.spec's input_shape" +
                    (training ? "; one window of T + 1 bytes at every offset in [0, T))" : ")"));
  }
}

std::int64_t TextWindows::start(std::int64_t window, std::int64_t offset) const {
  const bool offset_ok = layout_ == WindowLayout::training ? offset >= 0 && offset < context_ : offset == 0;
  if (window < 0 || window >= count_ || !offset_ok) {
    throw std::invalid_argument(source_ + ": window " + std::to_string(window) + " at offset " +
                                std::to_string(offset) + " outside the " + std::to_string(count_) +
                                " windows of context " + std::to_string(context_));
  }
  return offset + window * context_;
}

void TextWindows::gather(std::span<const std::int64_t> windows, std::int64_t offset, base::RowMatrix& x,
                         std::span<std::int32_t> targets) const {
  const auto rows = static_cast<std::int64_t>(windows.size());
  if (x.rows() < rows || x.cols() != context_ || static_cast<std::int64_t>(targets.size()) < rows * context_) {
    throw std::invalid_argument("TextWindows::gather: " + std::to_string(rows) + " windows of " +
                                std::to_string(context_) + " tokens into " + std::to_string(x.rows()) + " × " +
                                std::to_string(x.cols()) + " inputs and " + std::to_string(targets.size()) +
                                " targets");
  }
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::uint8_t* s = bytes_.data() + start(windows[static_cast<std::size_t>(i)], offset);
    float* row = x.data() + i * context_;
    std::int32_t* target = targets.data() + i * context_;
    for (std::int64_t t = 0; t < context_; ++t) {
      row[t] = static_cast<float>(s[t]);
      target[t] = static_cast<std::int32_t>(s[t + 1]);
    }
  }
}

}  // namespace mpitrain::data
