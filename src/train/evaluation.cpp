#include "mpitrain/train/evaluation.hpp"

#include <numeric>
#include <stdexcept>

#include "mpitrain/data/sampler.hpp"

namespace mpitrain::train {

namespace {

base::ConstMatrixMap rows_of(const data::RowMatrix& m, std::int64_t begin, std::int64_t end) {
  return {m.data() + begin * m.cols(), end - begin, m.cols()};
}

}  // namespace

base::Range evaluation_rows(std::int64_t rows, const dist::Communicator& comm) {
  const std::int64_t chunks = (rows + evaluation_chunk_rows - 1) / evaluation_chunk_rows;
  const data::Range mine = data::split_range(chunks, comm.size(), comm.rank());
  return {std::min(rows, mine.begin * evaluation_chunk_rows), std::min(rows, mine.end * evaluation_chunk_rows)};
}

double EvaluationResult::precision(int k) const {
  std::int64_t predicted = 0;
  for (int t = 0; t < classes; ++t) predicted += confusion[static_cast<std::size_t>(t * classes + k)];
  return predicted == 0 ? 0.0 : static_cast<double>(confusion[static_cast<std::size_t>(k * classes + k)]) / predicted;
}

double EvaluationResult::recall(int k) const {
  std::int64_t actual = 0;
  for (int p = 0; p < classes; ++p) actual += confusion[static_cast<std::size_t>(k * classes + p)];
  return actual == 0 ? 0.0 : static_cast<double>(confusion[static_cast<std::size_t>(k * classes + k)]) / actual;
}

std::vector<double> add_chunk_sums(std::span<const double> mine, std::size_t width, const dist::Communicator& comm,
                                   int root) {
  if (width == 0 || mine.size() % width != 0) {
    throw std::invalid_argument("add_chunk_sums: " + std::to_string(mine.size()) + " values are not chunks of " +
                                std::to_string(width));
  }
  const std::vector<double> all = root < 0 ? comm.allgatherv(mine) : comm.gatherv(mine, root);
  if (root >= 0 && comm.rank() != root) return {};
  std::vector<double> total(width, 0.0);
  for (std::size_t c = 0; c < all.size() / width; ++c) {
    for (std::size_t i = 0; i < width; ++i) total[i] += all[c * width + i];
  }
  return total;
}

namespace {

// One chunk's inputs (rows × model inputs) and targets (rows · targets per sample).
struct ChunkData {
  base::ConstMatrixMap x;
  std::span<const std::int32_t> targets;
};

// The evaluation of @p rows samples whose chunk [b, e) @p chunk provides; see evaluate().
template <class ChunkSource>
EvaluationResult evaluate_chunks(nn::Model& model, const nn::Task& task, std::int64_t rows, ChunkSource&& chunk,
                                 const dist::Communicator& comm) {
  const int k = task.classes();
  const std::int64_t per_sample = task.targets_per_sample();
  EvaluationResult result;
  result.classes = k;
  result.count = rows * per_sample;
  result.confusion.assign(static_cast<std::size_t>(k) * k, 0);
  const data::Range mine = evaluation_rows(rows, comm);
  model.reserve(evaluation_chunk_rows);
  std::vector<double> chunk_losses;
  std::vector<std::int32_t> predicted(static_cast<std::size_t>(evaluation_chunk_rows * per_sample));
  for (std::int64_t b = mine.begin; b < mine.end; b += evaluation_chunk_rows) {
    const std::int64_t e = std::min(mine.end, b + evaluation_chunk_rows);
    const ChunkData c = chunk(b, e);
    auto logits = model.forward(c.x, nn::Context::evaluation());
    chunk_losses.push_back(task.evaluate(logits, c.targets).loss);
    const std::span<std::int32_t> chunk_predicted(predicted.data(), c.targets.size());
    task.predict(logits, chunk_predicted);
    nn::add_confusion(c.targets, chunk_predicted, k, result.confusion);
  }
  const double loss = add_chunk_sums(chunk_losses, 1, comm)[0];
  comm.allreduce(std::span<std::int64_t>(result.confusion), dist::ReduceOp::sum);
  std::int64_t correct = 0;
  for (int c = 0; c < k; ++c) correct += result.confusion[static_cast<std::size_t>(c * k + c)];
  if (result.count > 0) {
    result.loss = loss / static_cast<double>(result.count);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(result.count);
  }
  return result;
}

}  // namespace

EvaluationResult evaluate(nn::Model& model, const nn::Task& task, const data::Dataset& ds,
                          const dist::Communicator& comm) {
  const auto per_sample = static_cast<std::size_t>(task.targets_per_sample());
  return evaluate_chunks(model, task, ds.size(), [&](std::int64_t b, std::int64_t e) {
    return ChunkData{rows_of(ds.features, b, e),
                     std::span<const std::int32_t>(ds.labels.data() + static_cast<std::size_t>(b) * per_sample,
                                                   static_cast<std::size_t>(e - b) * per_sample)};
  }, comm);
}

EvaluationResult evaluate(nn::Model& model, const nn::Task& task, const data::TextWindows& windows,
                          const dist::Communicator& comm) {
  const std::int64_t t = windows.context();
  data::RowMatrix x(evaluation_chunk_rows, t);
  std::vector<std::int32_t> targets(static_cast<std::size_t>(evaluation_chunk_rows * t));
  std::vector<std::int64_t> indices(evaluation_chunk_rows);
  return evaluate_chunks(model, task, windows.count(), [&](std::int64_t b, std::int64_t e) {
    const std::span<std::int64_t> chunk(indices.data(), static_cast<std::size_t>(e - b));
    std::iota(chunk.begin(), chunk.end(), b);
    windows.gather(chunk, 0, x, targets);
    return ChunkData{rows_of(x, 0, e - b), std::span<const std::int32_t>(targets.data(), chunk.size() * t)};
  }, comm);
}

std::vector<float> predict_probabilities(nn::Model& model, const nn::Task& task, const data::RowMatrix& features,
                                         const dist::Communicator& comm) {
  const std::int64_t k = model.output_size();
  const data::Range rows = evaluation_rows(features.rows(), comm);
  model.reserve(evaluation_chunk_rows);
  std::vector<float> local(static_cast<std::size_t>(rows.size() * k));
  for (std::int64_t b = rows.begin; b < rows.end; b += evaluation_chunk_rows) {
    const std::int64_t e = std::min(rows.end, b + evaluation_chunk_rows);
    auto logits = model.forward(rows_of(features, b, e), nn::Context::evaluation());
    task.probabilities(logits, base::MatrixMap(local.data() + (b - rows.begin) * k, e - b, k));
  }
  return comm.gatherv(std::span<const float>(local), 0);
}

}  // namespace mpitrain::train
