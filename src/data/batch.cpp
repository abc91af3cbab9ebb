#include "mpitrain/data/batch.hpp"

#include <stdexcept>
#include <string>

#include "mpitrain/data/idx_reader.hpp"

namespace mpitrain::data {

void gather_batch(const Dataset& ds, const Scaler& scaler, std::span<const std::int64_t> rows, RowMatrix& x,
                  std::span<std::int32_t> labels) {
  const Eigen::Index n = static_cast<Eigen::Index>(rows.size());
  const Eigen::Index features = ds.feature_count();
  if (x.rows() < n || x.cols() != features || labels.size() < rows.size()) {
    throw std::invalid_argument("gather_batch: " + std::to_string(n) + " samples of " + std::to_string(features) +
                                " features into a " + std::to_string(x.rows()) + " × " + std::to_string(x.cols()) +
                                " batch with " + std::to_string(labels.size()) + " labels");
  }
  const bool bytes = ds.pixels.size() > 0;
  const bool identity = scaler.method() == "none";  // as Scaler::apply, which leaves such data alone
  if (bytes && static_cast<Eigen::Index>(scaler.shift().size()) != features) {
    throw std::invalid_argument("gather_batch: the scaler was fitted on " + std::to_string(scaler.shift().size()) +
                                " features, " + ds.source + " has " + std::to_string(features));
  }
  const float* shift = scaler.shift().data();
  const float* scale = scaler.scale().data();
  for (Eigen::Index i = 0; i < n; ++i) {
    const std::int64_t s = rows[static_cast<std::size_t>(i)];
    float* out = x.data() + i * features;
    if (bytes) {
      // (x - shift) / scale in float, element by element: Scaler::apply's operations and rounding. A plain
      // loop, which the compiler vectorises (byte to float conversion, subtraction, exact division).
      const std::uint8_t* in = ds.pixels.data() + s * features;
      if (identity) {
        for (Eigen::Index j = 0; j < features; ++j) out[j] = static_cast<float>(in[j]);
      } else {
        for (Eigen::Index j = 0; j < features; ++j) out[j] = (static_cast<float>(in[j]) - shift[j]) / scale[j];
      }
    } else {
      x.row(i) = ds.features.row(s);
    }
    labels[static_cast<std::size_t>(i)] = ds.labels[static_cast<std::size_t>(s)];
  }
}

void prefetch_rows(const Dataset& ds, std::span<const std::int64_t> rows) noexcept {
  const bool bytes = ds.pixels.size() > 0;
  const auto features = static_cast<std::size_t>(ds.feature_count());
  const std::size_t row_bytes = bytes ? features : features * sizeof(float);
  for (const std::int64_t s : rows) {
    const auto at = static_cast<std::size_t>(s) * features;
    const char* row = bytes ? reinterpret_cast<const char*>(ds.pixels.data() + at)
                            : reinterpret_cast<const char*>(ds.features.data() + at);
    for (std::size_t line = 0; line < row_bytes; line += 64) __builtin_prefetch(row + line);
  }
}

std::int64_t storage_bytes(const Dataset& ds) {
  return static_cast<std::int64_t>(ds.features.size()) * 4 + static_cast<std::int64_t>(ds.pixels.size()) +
         static_cast<std::int64_t>(ds.labels.size()) * 4;
}

}  // namespace mpitrain::data
