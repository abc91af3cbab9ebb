#include "mpitrain/explain/explanation.hpp"

#include <cmath>
#include <stdexcept>

#include "mpitrain/nn/loss.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace mpitrain::explain {

Explanation explain_dataset(nn::Model& model, const data::Dataset& ds, const TargetChoice& target,
                            const AttributionOptions& options, std::vector<float> baseline,
                            const dist::Communicator& comm) {
  const std::int64_t n = ds.features.rows(), f = model.input_size();
  const auto k = static_cast<int>(model.output_size());
  if (ds.features.cols() != f) {
    throw std::invalid_argument(ds.source + ": " + std::to_string(ds.features.cols()) +
                                " features per sample, the model needs " + std::to_string(f));
  }
  if (target.kind == TargetChoice::Kind::fixed && (target.fixed_class < 0 || target.fixed_class >= k)) {
    throw std::invalid_argument("--target " + std::to_string(target.fixed_class) + ": class out of range [0, " +
                                std::to_string(k) + ")");
  }
  model.reserve(train::evaluation_chunk_rows);
  Explanation out;
  out.baseline = baseline;
  Attributor attributor(model, options, std::move(baseline));
  const base::Range mine = train::evaluation_rows(n, comm);
  const auto rows = static_cast<std::size_t>(mine.size());
  std::vector<float> attributions(rows * static_cast<std::size_t>(f));
  std::vector<double> values(rows), base_values(rows), gaps(rows);
  std::vector<std::int32_t> predictions(rows), targets(rows);
  std::vector<double> chunk_sums;  // one FeatureSums::flat() per chunk, in chunk order
  for (std::int64_t b = mine.begin; b < mine.end; b += train::evaluation_chunk_rows) {
    const std::int64_t e = std::min(mine.end, b + train::evaluation_chunk_rows);
    const auto at = static_cast<std::size_t>(b - mine.begin), m = static_cast<std::size_t>(e - b);
    const base::ConstMatrixMap x(ds.features.data() + b * f, e - b, f);
    const base::ConstMatrixMap logits = model.forward(x, nn::Context::evaluation());
    for (std::int64_t i = 0; i < e - b; ++i) {
      const auto r = at + static_cast<std::size_t>(i);
      predictions[r] = static_cast<std::int32_t>(
          nn::argmax(std::span<const float>(logits.data() + i * k, static_cast<std::size_t>(k))));
      targets[r] = target.kind == TargetChoice::Kind::predicted ? predictions[r]
                   : target.kind == TargetChoice::Kind::true_class ? ds.labels[static_cast<std::size_t>(b + i)]
                                                                   : target.fixed_class;
    }
    const std::span<const std::int32_t> chunk_targets(targets.data() + at, m);
    base::MatrixMap a(attributions.data() + at * static_cast<std::size_t>(f), e - b, f);
    attributor.attribute(x, chunk_targets, b, a, std::span<double>(values).subspan(at, m),
                         std::span<double>(base_values).subspan(at, m), std::span<double>(gaps).subspan(at, m));
    FeatureSums sums(f, k);
    sums.add(base::ConstMatrixMap(a.data(), a.rows(), a.cols()), chunk_targets);
    chunk_sums.insert(chunk_sums.end(), sums.flat().begin(), sums.flat().end());
  }
  out.samples = n;
  out.features = f;
  out.attributions = comm.gatherv(std::span<const float>(attributions), 0);
  out.values = comm.gatherv(std::span<const double>(values), 0);
  out.base_values = comm.gatherv(std::span<const double>(base_values), 0);
  out.gaps = comm.gatherv(std::span<const double>(gaps), 0);
  out.predictions = comm.gatherv(std::span<const std::int32_t>(predictions), 0);
  out.targets = comm.gatherv(std::span<const std::int32_t>(targets), 0);
  const std::vector<double> total = train::add_chunk_sums(chunk_sums, FeatureSums::flat_size(f, k), comm, 0);
  if (comm.rank() == 0) {
    out.sums = FeatureSums(f, k);
    out.sums.add(total);
  }
  return out;
}

std::vector<std::int64_t> samples_over_gap(const Explanation& e, double share) {
  std::vector<std::int64_t> over;
  for (std::size_t i = 0; i < e.gaps.size(); ++i) {
    const double scale = std::abs(e.values[i] - e.base_values[i]);
    if (std::abs(e.gaps[i]) > share * scale) over.push_back(static_cast<std::int64_t>(i));
  }
  return over;
}

}  // namespace mpitrain::explain
