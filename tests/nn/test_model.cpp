// nn::Model built from a ModelSpec: the registry, the initialisation, ready_order, gradient accumulation,
// the FLOP count, the input-gradient rule and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <numbers>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/gradient_check.hpp"
#include "mpitrain/base/random.hpp"
#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/dense.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/model.hpp"

using namespace mpitrain;
using base::ConstMatrixMap;
using base::RowMatrix;
using test::random_matrix;

namespace {

nn::ModelSpec default_mlp() { return nn::mlp_spec(784, {256, 128}, nn::ActivationKind::relu, 10); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(ModelRegistry, KerasNamesShapesInitRulesAndDecay) {
  const nn::ParameterRegistry registry = nn::registry_of(default_mlp());
  struct Expected {
    std::string name, layer;
    std::vector<std::int64_t> shape;
    nn::InitRule init;
    bool decay;
  };
  const std::vector<Expected> expected = {
      {"dense/kernel:0", "dense", {784, 256}, nn::InitRule::glorot_uniform(784, 256), true},
      {"dense/bias:0", "dense", {256}, nn::InitRule::zeros(), false},
      {"dense_1/kernel:0", "dense_1", {256, 128}, nn::InitRule::glorot_uniform(256, 128), true},
      {"dense_1/bias:0", "dense_1", {128}, nn::InitRule::zeros(), false},
      {"dense_2/kernel:0", "dense_2", {128, 10}, nn::InitRule::glorot_uniform(128, 10), true},
      {"dense_2/bias:0", "dense_2", {10}, nn::InitRule::zeros(), false}};
  ASSERT_EQ(registry.entries().size(), expected.size());
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& e = registry.entries()[i];
    EXPECT_EQ(e.name, expected[i].name);
    EXPECT_EQ(e.layer, expected[i].layer);
    EXPECT_EQ(e.shape, expected[i].shape);
    EXPECT_EQ(e.init, expected[i].init) << nn::to_string(e.init);
    EXPECT_EQ(e.decay, expected[i].decay);
    EXPECT_EQ(e.offset, offset);
    offset += e.size();
  }
  EXPECT_EQ(registry.total(), 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  EXPECT_EQ(nn::buffer_registry_of(default_mlp()).total(), 0);
  // The built model has the same registry, and names its activations as Keras does.
  const nn::Model model = nn::build_model(default_mlp());
  EXPECT_EQ(model.registry(), registry);
  std::vector<std::string> names;
  for (const auto& layer : model.layers()) names.push_back(layer->name());
  EXPECT_EQ(names, (std::vector<std::string>{"dense", "activation", "dense_1", "activation_1", "dense_2"}));
  EXPECT_EQ(model.input_size(), 784);
  EXPECT_EQ(model.output_size(), 10);
  EXPECT_EQ(model.output_shape(), base::Shape{10});
}

// Model::init against the draws computed here: one SplitMix64 stream over the kernels in registry order,
// (2u - 1)·l with l = float(sqrt(6 / (fan_in + fan_out))), biases zero without a draw. The first, second and
// last value of each kernel also against an independent Python/numpy float32 implementation.
TEST(ModelInit, GlorotDrawsOfTheMlpFromOneSplitMix64Stream) {
  nn::Model model = nn::build_model(default_mlp());
  std::fill(model.parameters().begin(), model.parameters().end(), 9.0f);
  model.init(7);
  base::SplitMix64 rng(7);
  std::vector<float> expected;
  const std::int64_t shapes[3][2] = {{784, 256}, {256, 128}, {128, 10}};
  for (const auto& [fan_in, fan_out] : shapes) {
    const auto limit = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)));
    for (std::int64_t i = 0; i < fan_in * fan_out; ++i) expected.push_back((2.0f * rng.uniform_float() - 1.0f) * limit);
    expected.insert(expected.end(), static_cast<std::size_t>(fan_out), 0.0f);  // the bias
  }
  ASSERT_EQ(expected.size(), model.parameters().size());
  EXPECT_EQ(std::memcmp(expected.data(), model.parameters().data(), expected.size() * sizeof(float)), 0);
  const auto p = model.parameters();
  const auto kernel = [&](const char* name) { return p.subspan(static_cast<std::size_t>(model.registry().find(name)->offset)); };
  EXPECT_EQ(kernel("dense/kernel:0")[0], -0x1.12342ap-6f);
  EXPECT_EQ(kernel("dense/kernel:0")[1], -0x1.2caadcp-4f);
  EXPECT_EQ(kernel("dense/kernel:0")[784 * 256 - 1], -0x1.7d3714p-5f);
  EXPECT_EQ(kernel("dense_1/kernel:0")[0], 0x1.dc9588p-4f);
  EXPECT_EQ(kernel("dense_1/kernel:0")[1], -0x1.9b514p-6f);
  EXPECT_EQ(kernel("dense_1/kernel:0")[256 * 128 - 1], 0x1.c11818p-5f);
  EXPECT_EQ(kernel("dense_2/kernel:0")[0], 0x1.551f24p-5f);
  EXPECT_EQ(kernel("dense_2/kernel:0")[1], -0x1.6e4d6p-3f);
  EXPECT_EQ(kernel("dense_2/kernel:0")[128 * 10 - 1], -0x1.25783ap-3f);
}

TEST(InitRules, ZerosOnesAndNormalMoments) {
  base::SplitMix64 rng(3), untouched(3);
  std::vector<float> v(4, 5.0f);
  nn::initialize(v, nn::InitRule::zeros(), rng);
  EXPECT_EQ(v, std::vector<float>(4, 0.0f));
  nn::initialize(v, nn::InitRule::ones(), rng);
  EXPECT_EQ(v, std::vector<float>(4, 1.0f));
  EXPECT_EQ(rng.next(), untouched.next());  // neither drew
  // N(0, 0.02²): over 100001 draws (an odd count: the last pair's second normal is dropped) the mean is
  // within 5 standard errors (0.02 / sqrt(n)) of 0 and the standard deviation within 2% of 0.02.
  std::vector<float> w(100001);
  nn::initialize(w, nn::InitRule::normal(0.02), rng);
  double sum = 0, sum_sq = 0;
  for (const float x : w) {
    sum += x;
    sum_sq += static_cast<double>(x) * x;
  }
  const double n = static_cast<double>(w.size());
  EXPECT_NEAR(sum / n, 0.0, 5 * 0.02 / std::sqrt(n));
  EXPECT_NEAR(std::sqrt(sum_sq / n - (sum / n) * (sum / n)), 0.02, 0.02 * 0.02);
  // Box–Muller from two 53-bit uniforms, computed here for the first pair.
  base::SplitMix64 again(3);
  again.next();  // the draw compared above
  const double u1 = static_cast<double>(again.next() >> 11) * 0x1.0p-53;
  const double u2 = static_cast<double>(again.next() >> 11) * 0x1.0p-53;
  const double r = std::sqrt(-2.0 * std::log(1.0 - u1));
  EXPECT_NEAR(w[0], 0.02 * r * std::cos(2 * std::numbers::pi * u2), 1e-7);
  EXPECT_NEAR(w[1], 0.02 * r * std::sin(2 * std::numbers::pi * u2), 1e-7);
}

TEST(ModelReadyOrder, OneGroupPerDenseLayerLastFirstCoveringTheRegistry) {
  const nn::Model model = nn::build_model(default_mlp());
  // From the registry: dense_2 = [233856, 235146), dense_1 = [200960, 233856), dense = [0, 200960).
  const auto& r = model.registry();
  const auto range_of = [&](const char* layer) {
    return base::Range{r.find(std::string(layer) + "/kernel:0")->offset,
                       r.find(std::string(layer) + "/bias:0")->offset + r.find(std::string(layer) + "/bias:0")->size()};
  };
  const std::vector<std::vector<base::Range>> expected = {{range_of("dense_2")}, {range_of("dense_1")}, {range_of("dense")}};
  EXPECT_EQ(model.ready_order(), expected);
  EXPECT_EQ(expected[0][0], (base::Range{233856, 235146}));
  EXPECT_EQ(expected[2][0], (base::Range{0, 200960}));
  // Every element exactly once.
  std::vector<int> seen(static_cast<std::size_t>(r.total()), 0);
  for (const auto& group : model.ready_order()) {
    for (const auto& range : group) {
      for (std::int64_t i = range.begin; i < range.end; ++i) ++seen[static_cast<std::size_t>(i)];
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), r.total());
}

// backward tells the hook each group in ready_order(), in that order, once the group's values are final.
TEST(ModelReadyOrder, BackwardReportsEachGroupWhenItIsFinal) {
  struct Recorder final : nn::GradientReadyHook {
    nn::Model* model = nullptr;
    std::vector<std::vector<base::Range>> seen;
    std::vector<std::vector<float>> values;  // each group's gradients when reported
    void gradients_ready(std::span<const base::Range> ranges) override {
      seen.emplace_back(ranges.begin(), ranges.end());
      values.emplace_back();
      for (const auto& r : ranges) {
        const auto g = model->gradients().subspan(static_cast<std::size_t>(r.begin), static_cast<std::size_t>(r.size()));
        values.back().insert(values.back().end(), g.begin(), g.end());
      }
    }
  };
  nn::Model model = nn::build_model(nn::mlp_spec(6, {5, 4}, nn::ActivationKind::tanh, 3));
  model.init(2);
  model.reserve(8);
  const RowMatrix x = random_matrix(8, 6, 3), dy = random_matrix(8, 3, 4);
  Recorder hook;
  hook.model = &model;
  model.forward(ConstMatrixMap(x.data(), 8, 6), nn::Context::evaluation());
  model.zero_gradients();
  model.backward(ConstMatrixMap(dy.data(), 8, 3), &hook);
  EXPECT_EQ(hook.seen, model.ready_order());
  for (std::size_t g = 0; g < hook.seen.size(); ++g) {
    std::vector<float> final_values;
    for (const auto& r : hook.seen[g]) {
      const auto v = model.gradients().subspan(static_cast<std::size_t>(r.begin), static_cast<std::size_t>(r.size()));
      final_values.insert(final_values.end(), v.begin(), v.end());
    }
    EXPECT_EQ(hook.values[g], final_values) << "group " << g;
  }
}

// Backward adds: two backward passes of one batch give twice its gradient, and the two halves of a batch
// (micro-batches) give the whole batch's gradient, up to float rounding.
TEST(ModelBackward, AccumulatesIntoTheGradientBuffer) {
  nn::Model model = nn::build_model(nn::mlp_spec(6, {5, 4}, nn::ActivationKind::sigmoid, 3));
  model.init(5);
  model.reserve(8);
  const RowMatrix x = random_matrix(8, 6, 6), dy = random_matrix(8, 3, 7);
  const nn::Context context = nn::Context::evaluation();
  const auto pass = [&](std::int64_t begin, std::int64_t rows) {
    model.forward(ConstMatrixMap(x.data() + begin * 6, rows, 6), context);
    model.backward(ConstMatrixMap(dy.data() + begin * 3, rows, 3));
  };
  model.zero_gradients();
  pass(0, 8);
  const std::vector<float> once(model.gradients().begin(), model.gradients().end());
  pass(0, 8);
  model.zero_gradients();
  pass(0, 3);
  pass(3, 5);
  const std::vector<float> halves(model.gradients().begin(), model.gradients().end());
  model.zero_gradients();
  pass(0, 8);
  pass(0, 8);
  for (std::size_t i = 0; i < once.size(); ++i) {
    EXPECT_NEAR(model.gradients()[i], 2.0f * once[i], 1e-6f * (1.0f + std::abs(once[i]))) << i;
    EXPECT_NEAR(halves[i], once[i], 1e-6f * (1.0f + std::abs(once[i]))) << i;
  }
}

// Forward and backward products of 784-256-128-10, 2·m·n·k each with m = 1 sample: per Dense layer
// Y = XW and dW = XᵀdY, and dX = dY·Wᵀ except for the first layer (its input is the data).
TEST(ModelFlops, CountedByHand) {
  const nn::Model model = nn::build_model(default_mlp());
  const std::int64_t dense = 2 * 784 * 256 * 2;       // forward, weight gradient
  const std::int64_t dense_1 = 2 * 256 * 128 * 3;    // forward, weight and input gradient
  const std::int64_t dense_2 = 2 * 128 * 10 * 3;
  EXPECT_EQ(model.flops_per_sample(), dense + dense_1 + dense_2);
  EXPECT_EQ(model.flops_per_sample(), 1007104);
}

// The model's first Dense layer skips dX; the same layers built by hand, all computing dX, give the same
// parameter gradients bit for bit.
TEST(ModelBackward, SkippingTheFirstLayersInputGradientChangesNoParameterGradient) {
  nn::Model model = nn::build_model(nn::mlp_spec(30, {20, 10}, nn::ActivationKind::tanh, 4));
  model.init(5);
  EXPECT_FALSE(model.layers()[0]->input_gradient());
  for (std::size_t i = 1; i < model.layers().size(); ++i) EXPECT_TRUE(model.layers()[i]->input_gradient()) << i;
  std::vector<float> params(model.parameters().begin(), model.parameters().end());
  std::vector<float> grads(params.size(), 0.0f);
  std::vector<std::unique_ptr<nn::Layer>> layers;
  layers.push_back(std::make_unique<nn::Dense>("dense", base::Shape{30}, 20));
  layers.push_back(std::make_unique<nn::Activation>("activation", nn::ActivationKind::tanh, base::Shape{20}));
  layers.push_back(std::make_unique<nn::Dense>("dense_1", base::Shape{20}, 10));
  layers.push_back(std::make_unique<nn::Activation>("activation_1", nn::ActivationKind::tanh, base::Shape{10}));
  layers.push_back(std::make_unique<nn::Dense>("dense_2", base::Shape{10}, 4));
  nn::ParameterRegistry registry, buffers;
  for (auto& l : layers) {
    l->register_tensors(registry, buffers);
    l->bind(params, grads, {});
    l->reserve(16);
  }
  EXPECT_EQ(registry, model.registry());
  model.reserve(16);
  const RowMatrix x = random_matrix(16, 30, 8), dy = random_matrix(16, 4, 9);
  const nn::Context context = nn::Context::evaluation();
  model.forward(ConstMatrixMap(x.data(), 16, 30), context);
  model.zero_gradients();
  model.backward(ConstMatrixMap(dy.data(), 16, 4));
  const float* h = x.data();
  std::int64_t cols = 30;
  for (auto& l : layers) {  // each layer's output stays valid in the layer until its next forward
    const auto y = l->forward(ConstMatrixMap(h, 16, cols), context);
    h = y.data();
    cols = y.cols();
  }
  const float* d = dy.data();
  cols = 4;
  std::int64_t rows = 0;
  for (std::size_t i = layers.size(); i-- > 0;) {
    const auto dx = layers[i]->backward(ConstMatrixMap(d, 16, cols));
    d = dx.data();
    cols = dx.cols();
    rows = dx.rows();
  }
  EXPECT_EQ(rows, 16);  // the hand-built first layer did compute dX
  ASSERT_EQ(std::memcmp(grads.data(), model.gradients().data(), grads.size() * sizeof(float)), 0);
}

TEST(ModelBuild, InputGradientOnlyAfterALayerWithParameters) {
  nn::ModelSpec spec{{4}, {nn::ActivationSpec{nn::ActivationKind::tanh}, nn::DenseSpec{3}, nn::ActivationSpec{}}};
  const nn::Model model = nn::build_model(spec);
  EXPECT_FALSE(model.layers()[0]->input_gradient());
  EXPECT_FALSE(model.layers()[1]->input_gradient());
  EXPECT_TRUE(model.layers()[2]->input_gradient());
}

// Dense acts on the last axis, as Keras's: every position of a (T, C) sequence alike, y[t] = x[t] W + b.
TEST(ModelBuild, DenseOnTheLastAxisTransformsEveryPositionAlike) {
  nn::Model model = nn::build_model({{3, 4}, {nn::DenseSpec{2}}});
  EXPECT_EQ(model.output_shape(), (nn::Shape{3, 2}));
  EXPECT_EQ(model.registry().entries()[0].shape, (std::vector<std::int64_t>{4, 2}));
  model.init(5);
  for (std::size_t i = 8; i < 10; ++i) model.parameters()[i] = 0.25f * float(i);  // bias
  model.reserve(2);
  const RowMatrix x = test::random_matrix(2, 12, 6);
  const auto y = model.forward(ConstMatrixMap(x.data(), 2, 12), nn::Context::evaluation());
  const float* w = model.parameters().data();
  for (int n = 0; n < 2; ++n) {
    for (int t = 0; t < 3; ++t) {
      for (int u = 0; u < 2; ++u) {
        double expected = model.parameters()[8 + u];
        for (int c = 0; c < 4; ++c) expected += double(x(n, t * 4 + c)) * double(w[c * 2 + u]);
        EXPECT_NEAR(y(n, t * 2 + u), expected, 1e-5) << n << " " << t << " " << u;
      }
    }
  }
  nn::Dense on_sequence("dense", {3, 4}, 2);
  test::check_layer_gradient(on_sequence);
}

TEST(ModelBuild, ErrorsNameTheLayerAndShapes) {
  EXPECT_NE(error_of([] { (void)nn::build_model({{4}, {nn::DenseSpec{3}, nn::DenseSpec{0}}}); })
                .find("layer 1: layer dense_1 (dense): units must be >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)nn::build_model({{4}, {nn::ActivationSpec{}}}); }).find("no trainable parameter"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)nn::build_model({{4}, {}}); }).find("no layer"), std::string::npos);
  EXPECT_NE(error_of([] { (void)nn::build_model({{4, 0}, {nn::DenseSpec{3}}}); }).find("input_shape"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)nn::registry_of({{std::int64_t{1} << 62}, {nn::DenseSpec{2}}}); }).find("overflow"),
            std::string::npos);
}

TEST(ModelForward, RefusesAWrongWidthOrMoreRowsThanReserved) {
  nn::Model model = nn::build_model(nn::mlp_spec(6, {}, nn::ActivationKind::relu, 3));
  model.reserve(4);
  const RowMatrix x(8, 7);
  EXPECT_NE(error_of([&] { model.forward(ConstMatrixMap(x.data(), 4, 7), nn::Context::evaluation()); })
                .find("the input has 7 features per sample, the model needs 6 (6)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.forward(ConstMatrixMap(x.data(), 5, 6), nn::Context::evaluation()); })
                .find("a batch of 5 rows, but only 4 are reserved"),
            std::string::npos);
}

TEST(ModelMove, TheLayersKeepTheirBuffers) {
  nn::Model a = nn::build_model(nn::mlp_spec(6, {5}, nn::ActivationKind::tanh, 3));
  a.init(1);
  a.reserve(2);
  const RowMatrix x = random_matrix(2, 6, 1);
  const RowMatrix before = a.forward(ConstMatrixMap(x.data(), 2, 6), nn::Context::evaluation());
  nn::Model b = std::move(a);
  b.parameters()[b.registry().find("dense_1/bias:0")->offset] += 1.0f;  // seen by the moved layers
  const RowMatrix after = b.forward(ConstMatrixMap(x.data(), 2, 6), nn::Context::evaluation());
  EXPECT_FLOAT_EQ(after(0, 0), before(0, 0) + 1.0f);
  EXPECT_FLOAT_EQ(after(1, 1), before(1, 1));
}
