#include "mpitrain/data/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "mpitrain/base/random.hpp"

namespace mpitrain::data {

namespace {

// Copies the rows @p rows of @p ds (in the given order) into a new data set.
Dataset take_rows(const Dataset& ds, const std::vector<std::int64_t>& rows, std::string source) {
  Dataset out;
  out.features.resize(static_cast<Eigen::Index>(rows.size()), ds.features.cols());
  out.labels.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.features.row(static_cast<Eigen::Index>(i)) = ds.features.row(rows[i]);
    out.labels.push_back(ds.labels[static_cast<std::size_t>(rows[i])]);
  }
  out.source = std::move(source);
  out.shape = ds.shape;
  return out;
}

}  // namespace

void check_labels(std::span<const std::int32_t> labels, int classes, const std::string& source,
                  std::int64_t first_index) {
  const auto bad = std::find_if(labels.begin(), labels.end(), [&](std::int32_t l) { return l < 0 || l >= classes; });
  if (bad != labels.end()) {
    throw DataError(source + ": label " + std::to_string(*bad) + " at index " +
                    std::to_string(first_index + (bad - labels.begin())) + " (0-based) is outside [0, " +
                    std::to_string(classes) + ")");
  }
}

void check_finite(const Dataset& ds) {
  const RowMatrix& x = ds.features;
  if (x.allFinite()) return;
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    for (Eigen::Index c = 0; c < x.cols(); ++c) {
      if (!std::isfinite(x(r, c))) {
        throw DataError(ds.source + ": non-finite feature value " + std::to_string(x(r, c)) + " at sample " +
                        std::to_string(r) + ", feature " + std::to_string(c) + " (0-based row and column)");
      }
    }
  }
}

Dataset split_validation(Dataset& train, double fraction, std::uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    throw std::invalid_argument("split_validation: fraction must be in [0, 1), got " + std::to_string(fraction));
  }
  const std::int64_t n = train.size();
  if (train.features.rows() != n) {
    throw DataError(train.source + ": " + std::to_string(train.features.rows()) + " feature rows but " +
                    std::to_string(n) + " labels");
  }
  const auto n_val = static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(n)));
  if (n_val == 0) {
    Dataset empty;
    empty.features.resize(0, train.features.cols());
    empty.source = train.source + " (validation)";
    empty.shape = train.shape;
    return empty;
  }
  if (n_val >= n) {
    throw DataError(train.source + ": a validation fraction of " + std::to_string(fraction) + " of " +
                    std::to_string(n) + " samples leaves no training samples");
  }

  // The same Fisher–Yates shuffle as the sampler, with its own stream so that the split and the epoch
  // permutations do not coincide for equal seeds.
  base::SplitMix64 rng(seed ^ 0x5bd1e9955bd1e995ULL);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  base::shuffle(rng, std::span<std::int64_t>(order));
  // Both parts keep the file order of their rows, which makes them easy to inspect.
  std::vector<std::int64_t> keep(order.begin(), order.end() - n_val);
  std::vector<std::int64_t> held(order.end() - n_val, order.end());
  std::sort(keep.begin(), keep.end());
  std::sort(held.begin(), held.end());

  Dataset validation = take_rows(train, held, train.source + " (validation)");
  train = take_rows(train, keep, train.source);
  return validation;
}

}  // namespace mpitrain::data
