#include "mpitrain/data/augment.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/algorithm/string/classification.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>
#include <spdlog/fmt/fmt.h>

#include "mpitrain/base/random.hpp"

namespace mpitrain::data {

namespace {
// Keeps augmentation's streams apart from the other users of the same seed (sampler, initialisation).
constexpr std::uint64_t augment_salt = 0x61756d656e747331ULL;  // "augments1"
}  // namespace

Augmentation parse_augmentation(const std::string& text) {
  Augmentation a;
  std::string all = boost::algorithm::trim_copy(text);
  if (all.empty() || all == "none") return a;
  std::vector<std::string> items;
  boost::algorithm::split(items, all, boost::algorithm::is_any_of(","));
  bool shift_seen = false;
  for (auto& item : items) {
    boost::algorithm::trim(item);
    if (item == "flip_horizontal") {
      if (a.flip_horizontal) throw std::invalid_argument("'flip_horizontal' is given twice");
      a.flip_horizontal = true;
    } else if (item.starts_with("shift:")) {
      if (shift_seen) throw std::invalid_argument("'shift' is given twice");
      shift_seen = true;
      const std::string n = item.substr(6);
      std::size_t used = 0;
      int value = 0;
      try {
        value = std::stoi(n, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != n.size() || value < 1 || value > 64) {
        throw std::invalid_argument("'" + item + "': the shift must be an integer in [1, 64] pixels");
      }
      a.shift = value;
    } else {
      throw std::invalid_argument("unknown item '" + item + "' (known: flip_horizontal, shift:N)");
    }
  }
  return a;
}

std::string to_string(const Augmentation& a) {
  std::vector<std::string> items;
  if (a.flip_horizontal) items.emplace_back("flip_horizontal");
  if (a.shift > 0) items.push_back(fmt::format("shift:{}", a.shift));
  return items.empty() ? "none" : fmt::format("{}", fmt::join(items, ","));
}

SampleTransform sample_transform(const Augmentation& a, std::uint64_t seed, std::int64_t epoch,
                                 std::int64_t sample_index) {
  base::SplitMix64 rng(base::keyed_seed(
      {seed ^ augment_salt, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(sample_index)}));
  SampleTransform t;
  if (a.flip_horizontal) t.flip = rng.below(2) == 1;
  if (a.shift > 0) {
    const auto span = static_cast<std::uint64_t>(2 * a.shift + 1);
    t.dy = static_cast<int>(rng.below(span)) - a.shift;
    t.dx = static_cast<int>(rng.below(span)) - a.shift;
  }
  return t;
}

void transform_sample(std::span<const float> in, std::span<float> out, const base::Shape& shape,
                      const SampleTransform& t) {
  if (shape.size() != 3 || in.size() != out.size() ||
      static_cast<std::int64_t>(in.size()) != base::element_count(shape)) {
    throw std::invalid_argument("transform_sample: " + std::to_string(in.size()) + " and " +
                                std::to_string(out.size()) + " values for a sample of shape " + base::format_shape(shape));
  }
  const std::int64_t h = shape[0], w = shape[1], c = shape[2];
  for (std::int64_t y = 0; y < h; ++y) {
    const std::int64_t sy = y - t.dy;
    for (std::int64_t x = 0; x < w; ++x) {
      const std::int64_t fx = x - t.dx;                  // the column of the flipped image
      const std::int64_t sx = t.flip ? w - 1 - fx : fx;  // ... in the input
      const auto o = static_cast<std::size_t>((y * w + x) * c);
      if (sy < 0 || sy >= h || fx < 0 || fx >= w) {
        std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(o), c, 0.0f);
      } else {
        const auto src = in.begin() + static_cast<std::ptrdiff_t>((sy * w + sx) * c);
        std::copy(src, src + c, out.begin() + static_cast<std::ptrdiff_t>(o));
      }
    }
  }
}

Augmenter::Augmenter(const Augmentation& a, base::Shape sample_shape, std::uint64_t seed)
    : augmentation_(a), shape_(std::move(sample_shape)), seed_(seed) {
  if (!a.any()) return;
  if (shape_.size() != 3) {
    throw std::invalid_argument("augmentation needs images of shape (height, width, channels); the samples have shape " +
                                base::format_shape(shape_) + " (set data.sample_shape for CSV images)");
  }
  if (a.shift >= shape_[0] || a.shift >= shape_[1]) {
    throw std::invalid_argument("a shift of " + std::to_string(a.shift) + " pixels does not fit images of shape " +
                                base::format_shape(shape_));
  }
  scratch_.resize(static_cast<std::size_t>(base::element_count(shape_)));
}

void Augmenter::apply(base::MatrixMap rows, std::span<const std::int64_t> sample_indices, std::int64_t epoch) {
  if (!enabled()) return;
  if (rows.cols() != static_cast<std::int64_t>(scratch_.size()) || rows.rows() != static_cast<std::int64_t>(sample_indices.size())) {
    throw std::invalid_argument("Augmenter::apply: " + std::to_string(rows.rows()) + " rows of " +
                                std::to_string(rows.cols()) + " values for " + std::to_string(sample_indices.size()) +
                                " samples of shape " + base::format_shape(shape_));
  }
  for (std::int64_t r = 0; r < rows.rows(); ++r) {
    const SampleTransform t = sample_transform(augmentation_, seed_, epoch, sample_indices[static_cast<std::size_t>(r)]);
    if (t == SampleTransform{}) continue;
    const std::span<float> row(rows.data() + r * rows.cols(), static_cast<std::size_t>(rows.cols()));
    std::copy(row.begin(), row.end(), scratch_.begin());
    transform_sample(scratch_, row, shape_, t);
  }
}

}  // namespace mpitrain::data
