// train::AllreduceBatchStatistics under mpirun with 1, 2 and 3 ranks: a model with synchronized batch
// normalization and dropout, each rank forwarding and back-propagating its slice of a global batch with the
// statistics summed over the ranks, gives on its rows the outputs and input-side gradients of one batch of
// all the rows computed on this rank alone (no communicator), parameter gradients that sum over the ranks
// to that batch's, and moving statistics identical on every rank and equal to that batch's. So the results
// are the same at every world size, including with a rank that holds no row.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/gradient_check.hpp"
#include "common/mpi_gtest.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/train/batch_statistics.hpp"

namespace mpitrain::train {
namespace {

using base::ConstMatrixMap;
using base::RowMatrix;
using test::world;

void expect_close(std::span<const float> got, std::span<const float> want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * std::max(1.0f, std::abs(want[i]))) << what << ", element " << i;
  }
}

void check_against_one_batch(const nn::ModelSpec& spec, std::int64_t global_rows) {
  const int rank = world->rank(), size = world->size();
  const std::int64_t begin = global_rows * rank / size, end = global_rows * (rank + 1) / size, rows = end - begin;
  nn::Model alone = nn::build_model(spec), mine = nn::build_model(spec);
  alone.init(5);
  mine.init(5);
  alone.reserve(global_rows);
  mine.reserve(std::max<std::int64_t>(rows, 1));
  const std::int64_t in = alone.input_size(), out = alone.output_size();
  const RowMatrix x = test::random_matrix(global_rows, in, 7, 2.0f);
  const RowMatrix dy = test::random_matrix(global_rows, out, 8);
  std::vector<std::int64_t> indices(static_cast<std::size_t>(global_rows));
  for (std::int64_t i = 0; i < global_rows; ++i) indices[static_cast<std::size_t>(i)] = 1000 + 3 * i;

  const RowMatrix y_alone = alone.forward(ConstMatrixMap(x.data(), global_rows, in), nn::Context::training(9, 4, indices));
  alone.zero_gradients();
  alone.backward(ConstMatrixMap(dy.data(), global_rows, out));

  const AllreduceBatchStatistics statistics(*world);
  const std::span<const std::int64_t> my_indices(indices.data() + begin, static_cast<std::size_t>(rows));
  const RowMatrix y_mine = mine.forward(ConstMatrixMap(x.data() + begin * in, rows, in),
                                        nn::Context::training(9, 4, my_indices, &statistics));
  mine.zero_gradients();
  mine.backward(ConstMatrixMap(dy.data() + begin * out, rows, out));

  expect_close({y_mine.data(), static_cast<std::size_t>(y_mine.size())},
               {y_alone.data() + begin * out, static_cast<std::size_t>(rows * out)}, 1e-5, "outputs");
  // This rank's parameter gradients are its share: summed over the ranks they are the whole batch's.
  std::vector<double> summed(mine.gradients().begin(), mine.gradients().end());
  world->allreduce(std::span<double>(summed), dist::ReduceOp::sum);
  const std::vector<float> summed_f(summed.begin(), summed.end());
  expect_close(summed_f, alone.gradients(), 1e-5, "gradients summed over the ranks");
  // The moving statistics: bit for bit the same on every rank, and the one batch's.
  std::vector<float> low(mine.buffers().begin(), mine.buffers().end()), high = low;
  world->allreduce(std::span<float>(low), dist::ReduceOp::min);
  world->allreduce(std::span<float>(high), dist::ReduceOp::max);
  EXPECT_EQ(low, high) << "moving statistics differ across ranks";
  expect_close(mine.buffers(), alone.buffers(), 1e-6, "moving statistics");
  EXPECT_FALSE(std::equal(alone.buffers().begin(), alone.buffers().end(), nn::build_model(spec).buffers().begin()))
      << "the moving statistics did not move";
}

// Dense - batch norm - tanh - dropout - dense: the input gradient of the first batch norm flows into the
// first dense layer, whose gradient is then checked.
TEST(AllreduceBatchStatistics, DenseModelWithBatchNormAndDropoutEqualsOneBatch) {
  const nn::ModelSpec spec{{6},
                           {nn::DenseSpec{5}, nn::BatchNormSpec{0.9, 1e-3},
                            nn::ActivationSpec{nn::ActivationKind::tanh}, nn::DropoutSpec{0.3}, nn::DenseSpec{3}}};
  for (const std::int64_t rows : {10, 2}) {  // 2 rows on 3 ranks: rank 0 holds none
    SCOPED_TRACE(std::to_string(rows) + " rows");
    check_against_one_batch(spec, rows);
  }
}

// Batch norm over (H, W, C) = (2, 2, 3) inputs, twice, with dropout between.
TEST(AllreduceBatchStatistics, ImageBatchNormEqualsOneBatch) {
  const nn::ModelSpec spec{{2, 2, 3},
                           {nn::BatchNormSpec{}, nn::ActivationSpec{nn::ActivationKind::tanh}, nn::DropoutSpec{0.5},
                            nn::BatchNormSpec{0.5, 1e-2}}};
  for (const std::int64_t rows : {10, 2}) {
    SCOPED_TRACE(std::to_string(rows) + " rows");
    check_against_one_batch(spec, rows);
  }
}

}  // namespace
}  // namespace mpitrain::train
