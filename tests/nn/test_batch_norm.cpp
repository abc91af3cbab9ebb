// nn::BatchNorm: finite-difference gradients in training mode (the full Jacobian through the batch
// statistics) on 1-D and (H, W, C) inputs and in evaluation mode; the forward pass and the moving statistics
// against a double-precision computation written here; three replicas summing through nn::BatchStatistics
// equal one batch of all their rows; the registry (Keras names, order, init, no decay); errors. And a whole
// model dense - batch_norm - tanh - dropout - dense with the loss, in training mode, against finite differences.
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/gradient_check.hpp"
#include "mpitrain/nn/batch_norm.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/model.hpp"

using namespace mpitrain;
using base::ConstMatrixMap;
using base::MatrixMap;
using base::RowMatrix;
using test::random_matrix;

namespace {

// A batch norm layer with its own tensors: gamma and beta from @p seed, moving mean 0 and variance 1.
struct BoundBatchNorm {
  nn::BatchNorm layer;
  std::vector<float> params, grads, buffers;
  BoundBatchNorm(const base::Shape& shape, std::uint64_t seed, std::int64_t max_rows, double momentum = 0.99,
                 double epsilon = 1e-3)
      : layer("batch_norm", shape, momentum, epsilon) {
    nn::ParameterRegistry p, b;
    layer.register_tensors(p, b);
    const RowMatrix init = random_matrix(1, p.total(), seed);
    params.assign(init.data(), init.data() + p.total());
    grads.assign(static_cast<std::size_t>(p.total()), 0.0f);
    buffers.assign(static_cast<std::size_t>(b.total()), 0.0f);
    const std::int64_t c = layer.channels();
    std::fill(buffers.begin() + c, buffers.end(), 1.0f);  // moving_variance
    layer.bind(params, grads, buffers);
    layer.reserve(max_rows);
  }
};

// Per-channel mean and biased variance of x (rows × features, channels last) in double.
struct Moments {
  std::vector<double> mean, variance;
};
Moments moments_of(const RowMatrix& x, std::int64_t channels) {
  Moments m{std::vector<double>(channels, 0.0), std::vector<double>(channels, 0.0)};
  const std::int64_t count = x.size() / channels;
  for (std::int64_t i = 0; i < x.size(); ++i) m.mean[i % channels] += x.data()[i];
  for (auto& v : m.mean) v /= static_cast<double>(count);
  for (std::int64_t i = 0; i < x.size(); ++i) {
    const double d = x.data()[i] - m.mean[i % channels];
    m.variance[i % channels] += d * d;
  }
  for (auto& v : m.variance) v /= static_cast<double>(count);
  return m;
}

// y = gamma (x - mean) / sqrt(variance + eps) + beta per channel, in double.
RowMatrix normalised(const RowMatrix& x, const Moments& m, const std::vector<float>& params, double eps) {
  const auto channels = static_cast<std::int64_t>(m.mean.size());
  RowMatrix y(x.rows(), x.cols());
  for (std::int64_t i = 0; i < x.size(); ++i) {
    const std::int64_t c = i % channels;
    y.data()[i] = static_cast<float>(params[c] * (x.data()[i] - m.mean[c]) / std::sqrt(m.variance[c] + eps) +
                                     params[channels + c]);
  }
  return y;
}

void expect_near(const RowMatrix& got, const RowMatrix& want, double tol, const std::string& what) {
  ASSERT_EQ(got.rows(), want.rows()) << what;
  ASSERT_EQ(got.cols(), want.cols()) << what;
  for (std::int64_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got.data()[i], want.data()[i], tol * std::max(1.0f, std::abs(want.data()[i])))
        << what << ", element " << i;
  }
}

// Replicas in threads that sum through one shared table: what an allreduce does, without MPI.
class ThreadReplicas {
 public:
  explicit ThreadReplicas(int replicas) : barrier_(replicas), slots_(static_cast<std::size_t>(replicas)) {}

  // The nn::BatchStatistics of replica @p index.
  class Replica final : public nn::BatchStatistics {
   public:
    Replica(ThreadReplicas& group, int index) : group_(&group), index_(index) {}
    void sum(std::span<double> values) const override { group_->sum(index_, values); }
    int calls = 0;  // sums this replica asked for (written by its own thread only)

   private:
    ThreadReplicas* group_;
    int index_;
  };

  void sum(int index, std::span<double> values) {
    ++calls_[static_cast<std::size_t>(index)];
    slots_[static_cast<std::size_t>(index)].assign(values.begin(), values.end());
    barrier_.arrive_and_wait();
    for (std::size_t k = 0; k < values.size(); ++k) {
      double total = 0.0;
      for (const auto& slot : slots_) total += slot.at(k);
      values[k] = total;
    }
    barrier_.arrive_and_wait();  // nobody overwrites a slot before everyone has read it
  }
  [[nodiscard]] int calls(int index) const { return calls_[static_cast<std::size_t>(index)]; }

 private:
  std::barrier<> barrier_;
  std::vector<std::vector<double>> slots_;
  std::vector<int> calls_ = std::vector<int>(slots_.size(), 0);
};

}  // namespace

TEST(BatchNormGradient, TrainingModeOnAOneDimensionalInput) {
  test::check_layer_gradient(nn::BatchNorm("batch_norm", {4}, 0.99, 1e-3),
                             {.rows = 6, .seed = 5, .eps = 3e-3, .tol = 5e-3, .context = nn::Context::training(0, 0, {})});
}

TEST(BatchNormGradient, TrainingModeOnAnImageInputNormalisesOverBatchHeightAndWidth) {
  test::check_layer_gradient(nn::BatchNorm("batch_norm", {2, 3, 2}, 0.9, 1e-3),
                             {.rows = 3, .seed = 7, .eps = 3e-3, .tol = 5e-3, .context = nn::Context::training(0, 0, {})});
}

TEST(BatchNormGradient, WithoutInputGradientTheSameParameterGradient) {
  nn::BatchNorm layer("batch_norm", {2, 2, 3}, 0.99, 1e-3);
  layer.set_input_gradient(false);
  test::check_layer_gradient(layer, {.rows = 3, .seed = 8, .eps = 3e-3, .tol = 5e-3,
                                     .context = nn::Context::training(0, 0, {})});
}

TEST(BatchNormGradient, EvaluationModeUsesTheMovingStatistics) {
  // check_layer_gradient's buffers are zeros: moving mean 0, moving variance 0 (scale 1 / sqrt(epsilon)).
  test::check_layer_gradient(nn::BatchNorm("batch_norm", {3, 2}, 0.99, 0.5), {.rows = 4, .seed = 9});
}

TEST(BatchNorm, TrainingForwardAndMovingStatisticsMatchADoublePrecisionComputation) {
  const base::Shape shape{2, 3, 4};  // H = 2, W = 3, C = 4: 4 samples give M = 24 values per channel
  BoundBatchNorm bn(shape, 21, 4, 0.9, 1e-3);
  std::vector<double> moving_mean(4, 0.0), moving_variance(4, 1.0);
  for (int step = 0; step < 3; ++step) {
    RowMatrix x = random_matrix(4, 24, 30 + step, 2.0f);
    x.array() += 0.5f * static_cast<float>(step);  // a mean that moves
    const RowMatrix y = bn.layer.forward(ConstMatrixMap(x.data(), 4, 24), nn::Context::training(0, step, {}));
    const Moments m = moments_of(x, 4);
    expect_near(y, normalised(x, m, bn.params, 1e-3), 2e-5, "training output, step " + std::to_string(step));
    for (std::size_t c = 0; c < 4; ++c) {
      moving_mean[c] = moving_mean[c] * 0.9 + m.mean[c] * 0.1;
      moving_variance[c] = moving_variance[c] * 0.9 + m.variance[c] * 0.1;
      EXPECT_NEAR(bn.buffers[c], moving_mean[c], 1e-6) << "moving mean " << c << ", step " << step;
      EXPECT_NEAR(bn.buffers[4 + c], moving_variance[c], 1e-6) << "moving variance " << c << ", step " << step;
    }
  }
  // Evaluation normalises with the moving statistics and leaves them alone.
  const std::vector<float> saved = bn.buffers;
  const RowMatrix x = random_matrix(3, 24, 40);
  const RowMatrix y = bn.layer.forward(ConstMatrixMap(x.data(), 3, 24), nn::Context::evaluation());
  const Moments moving{std::vector<double>(bn.buffers.begin(), bn.buffers.begin() + 4),
                       std::vector<double>(bn.buffers.begin() + 4, bn.buffers.end())};
  expect_near(y, normalised(x, moving, bn.params, 1e-3), 2e-5, "evaluation output");
  EXPECT_EQ(bn.buffers, saved);
}

TEST(BatchNorm, NonFiniteStatisticsLeaveTheMovingStatisticsAlone) {
  BoundBatchNorm bn({3}, 2, 4);
  RowMatrix x = random_matrix(4, 3, 3);
  x(2, 1) = std::numeric_limits<float>::quiet_NaN();
  bn.layer.forward(ConstMatrixMap(x.data(), 4, 3), nn::Context::training(0, 0, {}));
  EXPECT_EQ(bn.buffers, (std::vector<float>{0, 0, 0, 1, 1, 1}));
}

// Three replicas holding 4, 0 and 5 rows of one global batch, each summing through ThreadReplicas, give the
// outputs, input gradients and (summed over replicas) parameter gradients of one batch of all 9 rows, and
// moving statistics identical on every replica and equal to the one batch's.
TEST(BatchNorm, ThreeReplicasThroughBatchStatisticsEqualOneBatchOfAllTheRows) {
  const base::Shape shape{2, 2, 3};
  const std::int64_t features = 12, total = 9;
  const std::vector<std::int64_t> begin = {0, 4, 4}, rows = {4, 0, 5};
  const RowMatrix x = random_matrix(total, features, 61, 3.0f);
  const RowMatrix dy = random_matrix(total, features, 62);

  BoundBatchNorm one(shape, 60, total);
  const RowMatrix y_one = one.layer.forward(ConstMatrixMap(x.data(), total, features), nn::Context::training(0, 0, {}));
  const RowMatrix dx_one = one.layer.backward(ConstMatrixMap(dy.data(), total, features));

  ThreadReplicas group(3);
  std::vector<std::unique_ptr<BoundBatchNorm>> replicas;
  std::vector<std::unique_ptr<ThreadReplicas::Replica>> statistics;
  std::vector<RowMatrix> y(3), dx(3);
  for (int r = 0; r < 3; ++r) {
    replicas.push_back(std::make_unique<BoundBatchNorm>(shape, 60, std::max<std::int64_t>(rows[r], 1)));
    statistics.push_back(std::make_unique<ThreadReplicas::Replica>(group, r));
  }
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      auto& bn = replicas[r]->layer;
      y[r] = bn.forward(ConstMatrixMap(x.data() + begin[r] * features, rows[r], features),
                        nn::Context::training(0, 0, {}, statistics[r].get()));
      dx[r] = bn.backward(ConstMatrixMap(dy.data() + begin[r] * features, rows[r], features));
    });
  }
  for (auto& t : threads) t.join();

  std::vector<float> grads(one.grads.size(), 0.0f);
  for (int r = 0; r < 3; ++r) {
    SCOPED_TRACE("replica " + std::to_string(r));
    EXPECT_EQ(group.calls(r), 2);  // one sum in forward, one in backward
    expect_near(y[r], y_one.middleRows(begin[r], rows[r]), 1e-5, "output");
    expect_near(dx[r], dx_one.middleRows(begin[r], rows[r]), 1e-5, "input gradient");
    EXPECT_EQ(replicas[r]->buffers, replicas[0]->buffers);  // bit for bit on every replica
    for (std::size_t i = 0; i < grads.size(); ++i) grads[i] += replicas[r]->grads[i];
  }
  for (std::size_t i = 0; i < grads.size(); ++i) EXPECT_NEAR(grads[i], one.grads[i], 1e-5) << "gradient " << i;
  for (std::size_t i = 0; i < one.buffers.size(); ++i) EXPECT_NEAR(replicas[0]->buffers[i], one.buffers[i], 1e-7);
  EXPECT_NE(one.buffers, (std::vector<float>{0, 0, 0, 1, 1, 1}));
}

TEST(BatchNorm, KerasTensorsInKerasOrderWithoutWeightDecay) {
  const nn::ModelSpec spec{{3, 3, 2}, {nn::BatchNormSpec{}, nn::BatchNormSpec{0.9, 1e-5}}};
  nn::Model model = nn::build_model({{5}, {nn::DenseSpec{4}, nn::BatchNormSpec{}, nn::DenseSpec{2}}});
  model.init(3);
  const auto& p = model.registry().entries();
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(p[2].name, "batch_normalization/gamma:0");
  EXPECT_EQ(p[3].name, "batch_normalization/beta:0");
  for (const auto& e : {p[2], p[3]}) {
    EXPECT_EQ(e.layer, "batch_normalization");
    EXPECT_EQ(e.shape, std::vector<std::int64_t>{4});
    EXPECT_FALSE(e.decay) << e.name;
  }
  EXPECT_EQ(p[2].init, nn::InitRule::ones());
  EXPECT_EQ(p[3].init, nn::InitRule::zeros());
  const auto& b = model.buffer_registry().entries();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].name, "batch_normalization/moving_mean:0");
  EXPECT_EQ(b[1].name, "batch_normalization/moving_variance:0");
  EXPECT_EQ(b[0].offset, 0);
  EXPECT_EQ(b[1].offset, 4);
  EXPECT_EQ(std::vector<float>(model.buffers().begin(), model.buffers().end()),
            (std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1}));
  for (std::int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(model.parameters()[p[2].offset + i], 1.0f);
    EXPECT_EQ(model.parameters()[p[3].offset + i], 0.0f);
  }
  // Per channel of an image input: C entries, names with the layer index.
  const nn::ParameterRegistry images = nn::buffer_registry_of(spec);
  ASSERT_EQ(images.entries().size(), 4u);
  EXPECT_EQ(images.entries()[3].name, "batch_normalization_1/moving_variance:0");
  EXPECT_EQ(images.entries()[3].shape, std::vector<std::int64_t>{2});
}

TEST(BatchNorm, BadMomentumOrEpsilonNamesTheLayer) {
  const auto error = [](double momentum, double epsilon) -> std::string {
    try {
      nn::BatchNorm("batch_norm_2", {4}, momentum, epsilon);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error(1.0, 1e-3).rfind("layer batch_norm_2 (batch_norm): momentum must be in [0, 1), got 1", 0), 0u);
  EXPECT_EQ(error(-0.5, 1e-3).rfind("layer batch_norm_2 (batch_norm): momentum", 0), 0u);
  EXPECT_EQ(error(0.9, 0.0).rfind("layer batch_norm_2 (batch_norm): epsilon must be a finite number > 0", 0), 0u);
  EXPECT_EQ(error(0.9, std::nan("")).rfind("layer batch_norm_2 (batch_norm): epsilon", 0), 0u);
  EXPECT_EQ(error(0.0, 1e-9), "no error");
}

// The whole model in training mode (batch statistics, a fixed dropout mask from the context) with the
// loss: Model::backward against finite differences of the summed loss, every parameter.
TEST(ModelGradient, DenseBatchNormTanhDropoutDenseInTrainingMode) {
  const nn::ModelSpec spec{{6},
                           {nn::DenseSpec{5}, nn::BatchNormSpec{0.99, 1e-3},
                            nn::ActivationSpec{nn::ActivationKind::tanh}, nn::DropoutSpec{0.3}, nn::DenseSpec{3}}};
  nn::Model model = nn::build_model(spec);
  model.init(17);
  for (float& v : model.parameters()) v += 0.05f;  // gamma ≠ 1 and beta ≠ 0 as well
  const std::int64_t rows = 7;
  model.reserve(rows);
  const RowMatrix x = random_matrix(rows, 6, 18);
  const std::vector<std::int32_t> labels = {0, 1, 2, 1, 0, 2, 2};
  const std::vector<std::int64_t> indices = {70, 71, 72, 73, 74, 75, 76};
  const nn::Context context = nn::Context::training(5, 2, indices);
  auto objective = [&] {
    return nn::softmax_cross_entropy(model.forward(ConstMatrixMap(x.data(), rows, 6), context), labels).loss;
  };
  const auto logits = model.forward(ConstMatrixMap(x.data(), rows, 6), context);
  RowMatrix g(rows, 3);
  nn::softmax_cross_entropy(logits, labels, MatrixMap(g.data(), rows, 3));
  model.zero_gradients();
  model.backward(ConstMatrixMap(g.data(), rows, 3));
  const std::vector<float> analytic(model.gradients().begin(), model.gradients().end());
  test::expect_gradient(model.parameters(), analytic, objective, 3e-3, 5e-3);
}
