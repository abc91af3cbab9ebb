#include "mpitrain/explain/importance.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>

namespace mpitrain::explain {

FeatureSums::FeatureSums(std::int64_t features, int classes)
    : features_(features), classes_(classes), flat_(flat_size(features, classes), 0.0) {}

void FeatureSums::add(base::ConstMatrixMap attributions, std::span<const std::int32_t> targets) {
  const std::size_t block = static_cast<std::size_t>(classes_ * features_);
  for (std::int64_t i = 0; i < attributions.rows(); ++i) {
    const auto k = static_cast<std::size_t>(targets[static_cast<std::size_t>(i)]);
    double* abs_row = flat_.data() + k * static_cast<std::size_t>(features_);
    double* row = abs_row + block;
    double* square_row = row + block;
    for (std::int64_t j = 0; j < features_; ++j) {
      const double a = attributions(i, j);
      abs_row[j] += std::abs(a);
      row[j] += a;
      square_row[j] += a * a;
    }
    flat_[3 * block + k] += 1.0;
  }
}

void FeatureSums::add(std::span<const double> flat) {
  if (flat.size() != flat_.size()) {
    throw std::invalid_argument("feature sums: " + std::to_string(flat.size()) + " values, expected " +
                                std::to_string(flat_.size()));
  }
  for (std::size_t i = 0; i < flat_.size(); ++i) flat_[i] += flat[i];
}

namespace {

ImportanceRow row_of(std::int64_t j, int k, double abs_sum, double sum, double square_sum, double count) {
  ImportanceRow r{j, k, 0.0, 0.0, 0.0, count};
  if (count > 0.0) {
    r.mean_abs = abs_sum / count;
    r.mean = sum / count;
    r.std = std::sqrt(std::max(square_sum / count - r.mean * r.mean, 0.0));
  }
  return r;
}

void sort_rows(std::vector<ImportanceRow>::iterator begin, std::vector<ImportanceRow>::iterator end) {
  std::sort(begin, end, [](const ImportanceRow& a, const ImportanceRow& b) {
    return a.mean_abs != b.mean_abs ? a.mean_abs > b.mean_abs : a.feature < b.feature;
  });
}

}  // namespace

std::vector<ImportanceRow> importance_rows(const FeatureSums& sums) {
  const std::int64_t f = sums.features();
  const int classes = sums.classes();
  std::vector<ImportanceRow> rows;
  double total = 0.0;
  for (int k = 0; k < classes; ++k) total += sums.count(k);
  for (std::int64_t j = 0; j < f; ++j) {
    double a = 0.0, s = 0.0, q = 0.0;
    for (int k = 0; k < classes; ++k) {
      a += sums.abs_sum(k, j);
      s += sums.sum(k, j);
      q += sums.square_sum(k, j);
    }
    rows.push_back(row_of(j, -1, a, s, q, total));
  }
  sort_rows(rows.begin(), rows.end());
  for (int k = 0; k < classes; ++k) {
    if (sums.count(k) == 0.0) continue;
    const auto first = static_cast<std::ptrdiff_t>(rows.size());
    for (std::int64_t j = 0; j < f; ++j) {
      rows.push_back(row_of(j, k, sums.abs_sum(k, j), sums.sum(k, j), sums.square_sum(k, j), sums.count(k)));
    }
    sort_rows(rows.begin() + first, rows.end());
  }
  return rows;
}

std::string importance_csv(const std::vector<ImportanceRow>& rows, const std::vector<std::string>& names) {
  std::string text = "feature,index,class,mean_abs,mean,std,count\n";
  for (const auto& r : rows) {
    fmt::format_to(std::back_inserter(text), "{},{},{},{:.17g},{:.17g},{:.17g},{}\n",
                   names[static_cast<std::size_t>(r.feature)], r.feature,
                   r.target_class < 0 ? std::string("all") : std::to_string(r.target_class), r.mean_abs, r.mean,
                   r.std, static_cast<std::int64_t>(r.count));
  }
  return text;
}

std::string importance_summary(const std::vector<ImportanceRow>& rows, const std::vector<std::string>& names,
                               std::size_t top) {
  std::string text = "feature            mean |attribution|   mean attribution\n";
  std::size_t shown = 0, others = 0;
  double rest = 0.0;
  for (const auto& r : rows) {
    if (r.target_class >= 0) break;
    if (shown < top) {
      fmt::format_to(std::back_inserter(text), "{:<18} {:>19.6g} {:>18.6g}\n",
                     names[static_cast<std::size_t>(r.feature)], r.mean_abs, r.mean);
      ++shown;
    } else {
      rest += r.mean_abs;
      ++others;
    }
  }
  if (others > 0) fmt::format_to(std::back_inserter(text), "sum of the other {} features: {:.6g}\n", others, rest);
  return text;
}

std::vector<std::string> feature_names(const base::Shape& shape) {
  std::vector<std::string> names;
  if (shape.size() == 3) {
    for (std::int64_t r = 0; r < shape[0]; ++r) {
      for (std::int64_t c = 0; c < shape[1]; ++c) {
        for (std::int64_t ch = 0; ch < shape[2]; ++ch) {
          names.push_back(shape[2] == 1 ? fmt::format("pixel_{}_{}", r, c) : fmt::format("pixel_{}_{}_{}", r, c, ch));
        }
      }
    }
    return names;
  }
  std::int64_t count = 1;
  for (auto d : shape) count *= d;
  for (std::int64_t j = 0; j < count; ++j) names.push_back(fmt::format("x_{}", j));
  return names;
}

}  // namespace mpitrain::explain
