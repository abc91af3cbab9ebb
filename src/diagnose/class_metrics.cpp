#include "mpitrain/diagnose/class_metrics.hpp"

#include <stdexcept>
#include <string>

namespace mpitrain::diagnose {

std::vector<ClassMetrics> class_metrics(std::span<const std::int64_t> confusion, int classes) {
  if (classes < 1 || confusion.size() != static_cast<std::size_t>(classes) * static_cast<std::size_t>(classes)) {
    throw std::invalid_argument("class_metrics: " + std::to_string(confusion.size()) + " counts for " +
                                std::to_string(classes) + " classes");
  }
  const auto at = [&](int t, int p) { return confusion[static_cast<std::size_t>(t * classes + p)]; };
  std::vector<ClassMetrics> out(static_cast<std::size_t>(classes));
  for (int k = 0; k < classes; ++k) {
    std::int64_t predicted = 0;
    std::int64_t actual = 0;
    for (int j = 0; j < classes; ++j) {
      predicted += at(j, k);
      actual += at(k, j);
    }
    ClassMetrics& m = out[static_cast<std::size_t>(k)];
    const auto tp = static_cast<double>(at(k, k));
    m.precision = predicted > 0 ? tp / static_cast<double>(predicted) : 0.0;
    m.recall = actual > 0 ? tp / static_cast<double>(actual) : 0.0;
    m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
    m.support = actual;
  }
  return out;
}

}  // namespace mpitrain::diagnose
