#include "mpitrain/diagnose/rank_logits.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "mpitrain/train/evaluation.hpp"

namespace mpitrain::diagnose {

RankLogits compute_logits(nn::Model& model, const data::Dataset& ds, const dist::Communicator& comm) {
  if (ds.feature_count() != model.input_size()) {
    throw std::invalid_argument(ds.source + ": " + std::to_string(ds.feature_count()) +
                                " features per row, the model needs " + std::to_string(model.input_size()));
  }
  RankLogits local;
  local.rows = train::evaluation_rows(ds.size(), comm);
  local.logits.resize(local.rows.size(), model.output_size());
  local.labels.assign(ds.labels.begin() + local.rows.begin, ds.labels.begin() + local.rows.end);
  model.reserve(train::evaluation_chunk_rows);
  for (std::int64_t b = local.rows.begin; b < local.rows.end; b += train::evaluation_chunk_rows) {
    const std::int64_t e = std::min(local.rows.end, b + train::evaluation_chunk_rows);
    const base::ConstMatrixMap x(ds.features.data() + b * ds.features.cols(), e - b, ds.features.cols());
    local.logits.middleRows(b - local.rows.begin, e - b) = model.forward(x, nn::Context::evaluation());
  }
  return local;
}

std::vector<double> sum_over_chunks(const RankLogits& local, std::size_t width, const ChunkSums& per_chunk,
                                    const dist::Communicator& comm) {
  const std::int64_t k = local.logits.cols();
  std::vector<double> mine;
  for (std::int64_t b = 0; b < local.rows.size(); b += train::evaluation_chunk_rows) {
    const std::int64_t e = std::min(local.rows.size(), b + train::evaluation_chunk_rows);
    std::vector<double> sums(width, 0.0);
    per_chunk(base::ConstMatrixMap(local.logits.data() + b * k, e - b, k),
              std::span(local.labels).subspan(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b)), sums);
    mine.insert(mine.end(), sums.begin(), sums.end());
  }
  return train::add_chunk_sums(mine, width, comm);
}

}  // namespace mpitrain::diagnose
