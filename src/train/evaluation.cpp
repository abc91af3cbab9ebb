#include "mpitrain/train/evaluation.hpp"

#include <stdexcept>

#include "mpitrain/data/sampler.hpp"
#include "mpitrain/nn/loss.hpp"

namespace mpitrain::train {

namespace {

// The rows [begin, end) that this rank evaluates: a contiguous run of whole chunks.
data::Range my_rows(std::int64_t rows, const dist::Communicator& comm) {
  const std::int64_t chunks = (rows + evaluation_chunk_rows - 1) / evaluation_chunk_rows;
  const data::Range mine = data::split_range(chunks, comm.size(), comm.rank());
  return {std::min(rows, mine.begin * evaluation_chunk_rows), std::min(rows, mine.end * evaluation_chunk_rows)};
}

nn::ConstMatrixMap rows_of(const data::RowMatrix& m, std::int64_t begin, std::int64_t end) {
  return {m.data() + begin * m.cols(), end - begin, m.cols()};
}

}  // namespace

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

EvaluationResult evaluate(nn::Mlp& model, const data::Dataset& ds, const dist::Communicator& comm) {
  const int k = model.spec().classes;
  EvaluationResult result;
  result.classes = k;
  result.count = ds.size();
  result.confusion.assign(static_cast<std::size_t>(k) * k, 0);
  const data::Range rows = my_rows(ds.size(), comm);
  model.reserve(evaluation_chunk_rows);
  std::vector<double> chunk_losses;
  std::vector<double> per_sample(evaluation_chunk_rows);
  for (std::int64_t b = rows.begin; b < rows.end; b += evaluation_chunk_rows) {
    const std::int64_t e = std::min(rows.end, b + evaluation_chunk_rows);
    auto logits = model.forward(rows_of(ds.features, b, e));
    std::span<const std::int32_t> labels(ds.labels.data() + b, static_cast<std::size_t>(e - b));
    const nn::LossSums sums = nn::softmax_cross_entropy(logits, labels);
    chunk_losses.push_back(sums.loss);
    for (std::int64_t i = 0; i < e - b; ++i) {
      Eigen::Index predicted = 0;
      logits.row(i).maxCoeff(&predicted);
      ++result.confusion[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)] * k + predicted)];
    }
  }
  // Chunk sums in chunk order: the same additions at every world size.
  const std::vector<double> all = comm.allgatherv(std::span<const double>(chunk_losses));
  double loss = 0.0;
  for (double l : all) loss += l;
  comm.allreduce(std::span<std::int64_t>(result.confusion), dist::ReduceOp::sum);
  std::int64_t correct = 0;
  for (int c = 0; c < k; ++c) correct += result.confusion[static_cast<std::size_t>(c * k + c)];
  if (result.count > 0) {
    result.loss = loss / static_cast<double>(result.count);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(result.count);
  }
  return result;
}

std::vector<float> predict_probabilities(nn::Mlp& model, const data::RowMatrix& features,
                                         const dist::Communicator& comm) {
  const int k = model.spec().classes;
  const data::Range rows = my_rows(features.rows(), comm);
  model.reserve(evaluation_chunk_rows);
  std::vector<float> local(static_cast<std::size_t>(rows.size() * k));
  for (std::int64_t b = rows.begin; b < rows.end; b += evaluation_chunk_rows) {
    const std::int64_t e = std::min(rows.end, b + evaluation_chunk_rows);
    auto logits = model.forward(rows_of(features, b, e));
    nn::MatrixMap out(local.data() + (b - rows.begin) * k, e - b, k);
    nn::softmax(logits, out);
  }
  return comm.gatherv(std::span<const float>(local), 0);
}

}  // namespace mpitrain::train
