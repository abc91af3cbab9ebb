#include "mpitrain/explain/target.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace mpitrain::explain {

TargetOutput parse_target_output(const std::string& name) {
  if (name == "probability") return TargetOutput::probability;
  if (name == "logit") return TargetOutput::logit;
  throw std::invalid_argument("--target-output: unknown value '" + name + "' (expected probability or logit)");
}

std::string to_string(TargetOutput output) { return output == TargetOutput::logit ? "logit" : "probability"; }

TargetChoice parse_target(const std::string& text, int classes) {
  if (text == "predicted") return {};
  if (text == "true") return {TargetChoice::Kind::true_class, 0};
  int k = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), k);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw std::invalid_argument("--target " + text + ": expected predicted, true or a class number in [0, " +
                                std::to_string(classes) + ")");
  }
  if (k < 0 || k >= classes) {
    throw std::invalid_argument("--target " + text + ": class out of range: the model has " +
                                std::to_string(classes) + " classes, [0, " + std::to_string(classes) + ")");
  }
  return {TargetChoice::Kind::fixed, k};
}

void explained_outputs(base::ConstMatrixMap logits, std::span<const std::int32_t> targets, TargetOutput output,
                       std::span<double> values, base::MatrixMap grad) {
  const std::int64_t k = logits.cols();
  std::vector<double> p(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < logits.rows(); ++i) {
    const auto c = static_cast<std::int64_t>(targets[static_cast<std::size_t>(i)]);
    grad.row(i).setZero();
    if (output == TargetOutput::logit) {
      values[static_cast<std::size_t>(i)] = logits(i, c);
      grad(i, c) = 1.0f;
      continue;
    }
    double top = logits(i, 0), sum = 0.0;
    for (std::int64_t j = 1; j < k; ++j) top = std::max(top, static_cast<double>(logits(i, j)));
    for (std::int64_t j = 0; j < k; ++j) sum += p[static_cast<std::size_t>(j)] = std::exp(logits(i, j) - top);
    for (auto& v : p) v /= sum;
    const double pc = p[static_cast<std::size_t>(c)];
    values[static_cast<std::size_t>(i)] = pc;
    for (std::int64_t j = 0; j < k; ++j) {
      grad(i, j) = static_cast<float>(pc * ((j == c ? 1.0 : 0.0) - p[static_cast<std::size_t>(j)]));
    }
  }
}

}  // namespace mpitrain::explain
