// The layers on images against independent computations: Conv2D against a direct six-loop convolution in
// double precision and a 3 × 3 example worked by hand (Keras's asymmetric `same` padding), the pools on hand
// examples, the window sizes of Keras, the registry of a CNN (Keras names, kernel layout, Glorot fans), its
// FLOP count, and the shape errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/gradient_check.hpp"
#include "mpitrain/base/float16.hpp"
#include "mpitrain/nn/activation.hpp"
#include "mpitrain/nn/conv2d.hpp"
#include "mpitrain/nn/flatten.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/pooling.hpp"

using namespace mpitrain;
using base::ConstMatrixMap;
using base::RowMatrix;
using nn::Padding;
using test::random_matrix;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

// A layer with its parameters (if any) set to @p params, reserved for @p rows: forward(x) as a matrix.
RowMatrix forward(nn::Layer& layer, std::vector<float>& params, const RowMatrix& x) {
  nn::ParameterRegistry registry, buffers;
  layer.register_tensors(registry, buffers);
  params.resize(static_cast<std::size_t>(registry.total()));
  std::vector<float> grads(params.size());
  layer.bind(params, grads, {});
  layer.reserve(x.rows());
  return layer.forward(ConstMatrixMap(x.data(), x.rows(), x.cols()), nn::Context::evaluation());
}

// Keras's output size and padding before, written out from tf.nn.convolution's documentation:
// valid: ceil((in - k + 1) / s), nothing before; same: ceil(in / s), max((out - 1)·s + k - in, 0) // 2 before.
std::pair<std::int64_t, std::int64_t> keras_size(std::int64_t in, std::int64_t k, std::int64_t s, Padding p) {
  if (p == Padding::valid) return {static_cast<std::int64_t>(std::ceil(double(in - k + 1) / double(s))), 0};
  const auto out = static_cast<std::int64_t>(std::ceil(double(in) / double(s)));
  return {out, std::max<std::int64_t>((out - 1) * s + k - in, 0) / 2};
}

}  // namespace

TEST(Window2D, SizesAndPaddingAsKerasComputesThem) {
  for (std::int64_t in = 1; in <= 9; ++in) {
    for (std::int64_t k = 1; k <= in; ++k) {
      for (std::int64_t s = 1; s <= 4; ++s) {
        for (const Padding p : {Padding::valid, Padding::same}) {
          const nn::Window2D w = nn::window_2d("l", "t", "kernel", {in, in + 1, 2}, {k, k + 1}, {s, s}, p);
          const auto [out_h, pad_top] = keras_size(in, k, s, p);
          const auto [out_w, pad_left] = keras_size(in + 1, k + 1, s, p);
          ASSERT_EQ(w.out_h, out_h) << in << " " << k << " " << s;
          ASSERT_EQ(w.pad_top, pad_top) << in << " " << k << " " << s;
          ASSERT_EQ(w.out_w, out_w) << in << " " << k << " " << s;
          ASSERT_EQ(w.pad_left, pad_left) << in << " " << k << " " << s;
        }
      }
    }
  }
  // Under `same` a window may be larger than the input; huge sizes do not overflow.
  const std::int64_t huge = std::numeric_limits<std::int64_t>::max() - 1;
  const nn::Window2D w = nn::window_2d("l", "t", "pool", {huge, 3, 1}, {huge, 7}, {huge, 1}, Padding::same);
  EXPECT_EQ(w, (nn::Window2D{huge, 3, 1, huge, 7, huge, 1, 0, 3, 1, 3}));  // columns: 2 + 7 - 3 = 6 padding, 3 before
}

// y[n, oh, ow, o] = f(b[o] + Σ_{i, j, c} x[n, oh·sh - pt + i, ow·sw - pl + j, c]·K[i, j, c, o]) by six loops
// in double, with the padding from keras_size. At precision bf16, x and K enter the loops rounded to bf16 (the
// layer rounds them, oneDNN accumulates in fp32): the same 1e-5 bound then holds.
TEST(Conv2DForward, EqualsADirectConvolution) {
  for (const nn::Precision precision : {nn::Precision::fp32, nn::Precision::bf16}) {
  struct Case {
    nn::Shape input;
    nn::Conv2DSpec spec;
  };
  const std::vector<Case> cases = {
      {{9, 8, 3}, {.filters = 4, .kernel_size = {3, 3}, .padding = Padding::valid, .activation = std::nullopt}},
      {{9, 8, 3}, {.filters = 4, .kernel_size = {3, 3}, .padding = Padding::same, .activation = std::nullopt}},
      {{7, 9, 2}, {.filters = 5, .kernel_size = {4, 2}, .strides = {2, 3}, .padding = Padding::same,
                   .activation = nn::ActivationKind::relu}},  // 3 rows of padding: 1 above, 2 below
      {{6, 6, 2}, {.filters = 3, .kernel_size = {2, 2}, .padding = Padding::same, .activation = std::nullopt}},
      {{10, 7, 1}, {.filters = 3, .kernel_size = {2, 5}, .strides = {3, 2}, .padding = Padding::valid,
                    .use_bias = false, .activation = nn::ActivationKind::relu}},
      {{5, 5, 4}, {.filters = 2, .kernel_size = {1, 1}, .padding = Padding::same, .activation = std::nullopt}},
  };
  for (const auto& [shape, spec] : cases) {
    nn::Conv2D conv("conv2d", shape, spec);
    conv.set_precision(precision);
    const std::int64_t rows = 3, H = shape[0], W = shape[1], C = shape[2], kh = spec.kernel_size[0],
                       kw = spec.kernel_size[1], F = spec.filters;
    const auto [Ho, pt] = keras_size(H, kh, spec.strides[0], spec.padding);
    const auto [Wo, pl] = keras_size(W, kw, spec.strides[1], spec.padding);
    ASSERT_EQ(conv.output_shape(), (nn::Shape{Ho, Wo, F}));
    const RowMatrix x = random_matrix(rows, H * W * C, 5);
    const RowMatrix init = random_matrix(1, kh * kw * C * F + F, 6);
    std::vector<float> params(init.data(), init.data() + init.size());
    const RowMatrix y = forward(conv, params, x);
    const auto entry = [&](float v) {  // an input as the layer's products see it
      return precision == nn::Precision::bf16 ? double(base::bf16_to_float(base::float_to_bf16(v))) : double(v);
    };
    const float* kernel = params.data();  // (kh, kw, C, F), then the bias
    const float* bias = spec.use_bias ? params.data() + kh * kw * C * F : nullptr;
    double worst = 0.0;
    for (std::int64_t n = 0; n < rows; ++n) {
      for (std::int64_t oh = 0; oh < Ho; ++oh) {
        for (std::int64_t ow = 0; ow < Wo; ++ow) {
          for (std::int64_t o = 0; o < F; ++o) {
            double sum = bias != nullptr ? bias[o] : 0.0;
            for (std::int64_t i = 0; i < kh; ++i) {
              for (std::int64_t j = 0; j < kw; ++j) {
                for (std::int64_t c = 0; c < C; ++c) {
                  const std::int64_t h = oh * spec.strides[0] - pt + i, w = ow * spec.strides[1] - pl + j;
                  if (h < 0 || h >= H || w < 0 || w >= W) continue;
                  sum += entry(x(n, (h * W + w) * C + c)) * entry(kernel[((i * kw + j) * C + c) * F + o]);
                }
              }
            }
            if (spec.activation) sum = std::max(sum, 0.0);
            worst = std::max(worst, std::abs(sum - double(y(n, (oh * Wo + ow) * F + o))));
          }
        }
      }
    }
    EXPECT_LT(worst, 1e-5) << base::format_shape(shape) << " -> " << base::format_shape(conv.output_shape())
                           << " at " << nn::to_string(precision);
  }
  }
}

// Backward at bf16: with dZ = dY (no activation), dK[i, j, c, o] = Σ_{n, oh, ow} x̃[n, h, w, c]·dỸ[n, oh, ow, o],
// db[o] = Σ dỸ[n, oh, ow, o] (oneDNN sums the bias gradient from the same bf16 dY) and dx[n, h, w, c] = Σ_{oh, ow, o} dỸ[n, oh, ow, o]·K̃[i, j, c, o] (h = oh·sh - pt + i,
// w = ow·sw - pl + j inside the image), where x̃, K̃ and dỸ are the operands rounded to bf16: by loops in
// double, to the fp32 accumulation's 1e-5 of the sum of the terms' magnitudes (and dK, db added to what
// the gradient buffer held).
TEST(Conv2DBackward, Bf16EqualsDoubleLoopsOnRoundedOperands) {
  struct Case {
    nn::Shape input;
    nn::Conv2DSpec spec;
  };
  const std::vector<Case> cases = {
      {{7, 9, 2}, {.filters = 5, .kernel_size = {4, 2}, .strides = {2, 3}, .padding = Padding::same,
                   .activation = std::nullopt}},
      {{9, 8, 3}, {.filters = 4, .kernel_size = {3, 3}, .padding = Padding::valid, .use_bias = false,
                   .activation = std::nullopt}},
  };
  const auto r16 = [](float v) { return double(base::bf16_to_float(base::float_to_bf16(v))); };
  for (const auto& [shape, spec] : cases) {
    nn::Conv2D conv("conv2d", shape, spec);
    conv.set_precision(nn::Precision::bf16);
    const std::int64_t rows = 3, H = shape[0], W = shape[1], C = shape[2], kh = spec.kernel_size[0],
                       kw = spec.kernel_size[1], F = spec.filters;
    const auto [Ho, pt] = keras_size(H, kh, spec.strides[0], spec.padding);
    const auto [Wo, pl] = keras_size(W, kw, spec.strides[1], spec.padding);
    nn::ParameterRegistry registry, buffers;
    conv.register_tensors(registry, buffers);
    const RowMatrix init = random_matrix(1, registry.total(), 7);
    std::vector<float> params(init.data(), init.data() + init.size());
    std::vector<float> grads(params.size(), 0.25f);  // backward adds to what is there
    conv.bind(params, grads, {});
    conv.reserve(rows);
    const RowMatrix x = random_matrix(rows, H * W * C, 8), dy = random_matrix(rows, Ho * Wo * F, 9);
    conv.forward(ConstMatrixMap(x.data(), rows, x.cols()), nn::Context::evaluation());
    const ConstMatrixMap dx = conv.backward(ConstMatrixMap(dy.data(), rows, dy.cols()));
    const float* kernel = params.data();
    std::vector<double> dk(static_cast<std::size_t>(kh * kw * C * F)), dk_scale(dk.size()), db(F), db_scale(F);
    std::vector<double> dxr(static_cast<std::size_t>(rows * H * W * C)), dx_scale(dxr.size());
    for (std::int64_t n = 0; n < rows; ++n) {
      for (std::int64_t oh = 0; oh < Ho; ++oh) {
        for (std::int64_t ow = 0; ow < Wo; ++ow) {
          for (std::int64_t o = 0; o < F; ++o) {
            const double g = r16(dy(n, (oh * Wo + ow) * F + o));
            db[o] += g;
            db_scale[o] += std::abs(g);
            for (std::int64_t i = 0; i < kh; ++i) {
              for (std::int64_t j = 0; j < kw; ++j) {
                const std::int64_t h = oh * spec.strides[0] - pt + i, w = ow * spec.strides[1] - pl + j;
                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                for (std::int64_t c = 0; c < C; ++c) {
                  const auto k = static_cast<std::size_t>(((i * kw + j) * C + c) * F + o);
                  const auto e = static_cast<std::size_t>(n * H * W * C + (h * W + w) * C + c);
                  dk[k] += r16(x(n, (h * W + w) * C + c)) * g;
                  dk_scale[k] += std::abs(r16(x(n, (h * W + w) * C + c)) * g);
                  dxr[e] += g * r16(kernel[k]);
                  dx_scale[e] += std::abs(g * r16(kernel[k]));
                }
              }
            }
          }
        }
      }
    }
    const std::string where = base::format_shape(shape) + " -> " + base::format_shape(conv.output_shape());
    for (std::size_t k = 0; k < dk.size(); ++k) {
      ASSERT_NEAR(grads[k], 0.25 + dk[k], 1e-5 * (dk_scale[k] + 0.25)) << where << " dK " << k;
    }
    if (spec.use_bias) {
      for (std::int64_t o = 0; o < F; ++o) {
        ASSERT_NEAR(grads[dk.size() + static_cast<std::size_t>(o)], 0.25 + db[o], 1e-5 * (db_scale[o] + 0.25))
            << where << " db " << o;
      }
    }
    ASSERT_EQ(dx.rows(), rows);
    for (std::size_t e = 0; e < dxr.size(); ++e) {
      ASSERT_NEAR(dx.data()[e], dxr[e], 1e-5 * dx_scale[e] + 1e-30) << where << " dx " << e;
    }
  }
}

// x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], K = [[1, 2], [3, 4]], b = 0.5, padding same: the total padding of
// 1 row and 1 column goes below and to the right (0 before, as Keras), so y[0, 0] = 1·1 + 2·2 + 4·3 + 5·4.
TEST(Conv2DForward, AThreeByThreeExampleByHand) {
  nn::Conv2D conv("conv2d", {3, 3, 1}, {.filters = 1, .kernel_size = {2, 2}, .padding = Padding::same,
                                        .activation = std::nullopt});
  RowMatrix x(1, 9);
  x << 1, 2, 3, 4, 5, 6, 7, 8, 9;
  std::vector<float> params = {1, 2, 3, 4, 0.5f};
  const RowMatrix y = forward(conv, params, x);
  RowMatrix expected(1, 9);
  expected << 37.5f, 47.5f, 21.5f, 67.5f, 77.5f, 33.5f, 23.5f, 26.5f, 9.5f;
  EXPECT_EQ(y, expected);
  // Two input channels, two filters, valid: one output pixel, y[o] = Σ x[i, j, c]·K[i, j, c, o].
  nn::Conv2D two("conv2d_1", {2, 1, 2}, {.filters = 2, .kernel_size = {2, 1}, .use_bias = false, .activation = std::nullopt});
  RowMatrix x2(1, 4);
  x2 << 1, 10, 100, 1000;  // x[0, 0, :] = (1, 10), x[1, 0, :] = (100, 1000)
  std::vector<float> k2 = {1, 2, 3, 4, 5, 6, 7, 8};  // K[i, 0, c, o]: (0, 0, 0, 0) = 1, (0, 0, 0, 1) = 2, ...
  RowMatrix expected2(1, 2);
  expected2 << 1 * 1 + 10 * 3 + 100 * 5 + 1000 * 7, 1 * 2 + 10 * 4 + 100 * 6 + 1000 * 8;
  EXPECT_EQ(forward(two, k2, x2), expected2);
}

// Pools of 2 × 2 over the same 3 × 3 image: under `same` the last row and column are windows of 2 and 1
// cells, and the average divides by the cells inside the input only.
TEST(Pool2DForward, ExamplesByHand) {
  RowMatrix x(1, 9);
  x << 1, 2, 3, 4, 5, 6, 7, 8, 9;
  std::vector<float> none;
  const nn::Pool2DFields same{{2, 2}, {2, 2}, Padding::same};
  nn::Pool2D max("max_pooling2d", nn::PoolKind::max, {3, 3, 1}, same);
  nn::Pool2D avg("average_pooling2d", nn::PoolKind::average, {3, 3, 1}, same);
  RowMatrix e(1, 4);
  e << 5, 6, 8, 9;
  EXPECT_EQ(forward(max, none, x), e);
  e << 3, 4.5f, 7.5f, 9;
  EXPECT_EQ(forward(avg, none, x), e);
  // valid, pool 2, stride 1: four overlapping windows.
  nn::Pool2D avg_valid("average_pooling2d_1", nn::PoolKind::average, {3, 3, 1}, {{2, 2}, {1, 1}, Padding::valid});
  e << 3, 4, 6, 7;
  EXPECT_EQ(forward(avg_valid, none, x), e);
  // Global average of two channels: (1 + 3 + ... + 17) / 9 and (2 + ... + 18) / 9.
  RowMatrix x2(1, 18);
  for (int i = 0; i < 18; ++i) x2(0, i) = float(i + 1);
  nn::GlobalAvgPool2D global("global_average_pooling2d", {3, 3, 2});
  RowMatrix e2(1, 2);
  e2 << 9, 10;
  EXPECT_EQ(forward(global, none, x2), e2);
}

// A tie routes the whole gradient to the first maximal cell of the window, in row-major window order.
TEST(Pool2DBackward, MaxRoutesToTheFirstArgMaxOnTies) {
  nn::Pool2D max("max_pooling2d", nn::PoolKind::max, {2, 2, 2}, {{2, 2}, {2, 2}, Padding::valid});
  RowMatrix x(1, 8);
  x << 3, 1, 7, 2, 7, 2, 1, 0;  // channel 0: 3, 7, 7, 1 (tie at cells 1 and 2); channel 1: 1, 2, 2, 0
  std::vector<float> none;
  RowMatrix e(1, 2);
  e << 7, 2;
  EXPECT_EQ(forward(max, none, x), e);
  RowMatrix dy(1, 2);
  dy << 10, 20;
  const RowMatrix dx = max.backward(ConstMatrixMap(dy.data(), 1, 2));
  RowMatrix expected(1, 8);
  expected << 0, 0, 10, 20, 0, 0, 0, 0;
  EXPECT_EQ(dx, expected);
}

// The fusion of a relu convolution with the max pooling after it (Model: the pooling applies relu's gradient
// mask, the convolution skips its own pass, relu runs as oneDNN's post-op) against the same network with relu
// as a layer of its own, which fuses nothing: equal logits and equal gradients, bit for bit, at both
// precisions, for pools that tile their input (at bf16 the pooling then writes the convolution's rounded dZ),
// leave cells out, and overlap.
TEST(CnnModel, FusedReluMaxPoolingEqualsTheUnfusedNetwork) {
  const char* pools[] = {R"("pool_size": 2)", R"("pool_size": 2, "strides": 3)", R"("pool_size": 3, "strides": 2, "padding": "same")"};
  for (const char* pool : pools) {
    for (const auto precision : {nn::Precision::fp32, nn::Precision::bf16}) {
      const std::string head = R"({"input_shape": [10, 8, 2], "layers": [{"type": "conv2d", "filters": 5, "kernel_size": 3, )";
      const std::string tail = std::string(R"({"type": "max_pool2d", )") + pool +
                               R"(}, {"type": "flatten"}, {"type": "dense", "units": 4}]})";
      nn::Model fused = nn::build_model(nn::parse_model_spec(head + R"("activation": "relu"}, )" + tail));
      nn::Model apart = nn::build_model(nn::parse_model_spec(head + R"("padding": "valid"}, )" +
                                                             R"({"type": "activation", "activation": "relu"}, )" + tail));
      SCOPED_TRACE(std::string(pool) + " " + nn::to_string(precision));
      ASSERT_EQ(fused.parameters().size(), apart.parameters().size());
      fused.init(7);
      for (auto& p : fused.parameters()) p += 0.02f;  // biases not zero: some pre-activations cross 0 by them
      std::copy(fused.parameters().begin(), fused.parameters().end(), apart.parameters().begin());
      const std::int64_t rows = 3;
      const RowMatrix x = random_matrix(rows, fused.input_size(), 8);
      RowMatrix dy = random_matrix(rows, 4, 9);
      std::vector<std::vector<float>> logits, gradients;
      for (nn::Model* model : {&fused, &apart}) {
        model->set_precision(precision);
        model->reserve(rows);
        const auto y = model->forward(ConstMatrixMap(x.data(), rows, x.cols()), nn::Context::evaluation());
        logits.emplace_back(y.data(), y.data() + y.size());
        model->zero_gradients();
        model->backward(ConstMatrixMap(dy.data(), rows, 4));
        gradients.emplace_back(model->gradients().begin(), model->gradients().end());
      }
      EXPECT_EQ(logits[0], logits[1]);
      EXPECT_EQ(gradients[0], gradients[1]);
      const auto nonzero = std::count_if(gradients[0].begin(), gradients[0].end(), [](float g) { return g != 0.0f; });
      EXPECT_GT(nonzero, static_cast<std::ptrdiff_t>(gradients[0].size() / 2));
    }
  }
}

// One pass from dY to relu's bf16 dZ gives the bits of relu's gradient followed by the rounding, for zeros
// of both signs, NaN and infinity in either operand.
TEST(ReluGradientToBf16, EqualsTheGradientThenTheRounding) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> y = {1.0f, -1.0f, 0.0f, -0.0f, nan, 2.5f, 3.0f, 1e-40f, -inf, inf};
  std::vector<float> dy = {0.3f, 0.3f, 0.7f, 0.7f, 0.1f, nan, -inf, 1.00390625f, 2.0f, -1.0f + 1.0f / 256};
  const RowMatrix more_y = random_matrix(1, 37, 3), more_dy = random_matrix(1, 37, 4);
  y.insert(y.end(), more_y.data(), more_y.data() + more_y.size());
  dy.insert(dy.end(), more_dy.data(), more_dy.data() + more_dy.size());
  const auto n = static_cast<Eigen::Index>(y.size());
  RowMatrix dz(1, n);
  nn::activation_gradient(nn::ActivationKind::relu, ConstMatrixMap(y.data(), 1, n), ConstMatrixMap(dy.data(), 1, n),
                          base::MatrixMap(dz.data(), 1, n));
  std::vector<std::uint16_t> expected(y.size()), fused(y.size());
  base::round_to_bf16({dz.data(), y.size()}, expected);
  nn::relu_gradient_to_bf16(y, dy, fused);
  EXPECT_EQ(fused, expected);
  EXPECT_THROW(nn::relu_gradient_to_bf16(y, dy, std::span<std::uint16_t>(fused).first(3)), std::invalid_argument);
}

TEST(Flatten, KeepsTheRowAndItsMemory) {
  nn::Flatten flatten("flatten", {2, 3, 4});
  EXPECT_EQ(flatten.output_shape(), nn::Shape{24});
  const RowMatrix x = random_matrix(3, 24, 1);
  flatten.reserve(3);
  EXPECT_EQ(flatten.forward(ConstMatrixMap(x.data(), 3, 24), nn::Context::evaluation()).data(), x.data());
  EXPECT_EQ(flatten.backward(ConstMatrixMap(x.data(), 3, 24)).data(), x.data());
}

namespace {
nn::ModelSpec small_cnn() {
  return nn::parse_model_spec(R"({"input_shape": [28, 28, 1], "layers": [
      {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
      {"type": "max_pool2d", "pool_size": 2},
      {"type": "conv2d", "filters": 16, "kernel_size": [3, 3], "strides": 2},
      {"type": "avg_pool2d"}, {"type": "flatten"}, {"type": "dense", "units": 10}]})");
}
}  // namespace

// Keras's names and kernel layout (kh, kw, C_in, C_out) with Keras's Glorot fans (kh·kw·C_in, kh·kw·C_out).
TEST(CnnModel, KerasNamesLayoutsAndInitRules) {
  const nn::Model model = nn::build_model(small_cnn());
  std::vector<std::string> names;
  for (const auto& layer : model.layers()) names.push_back(layer->name() + " " + base::format_shape(layer->output_shape()));
  EXPECT_EQ(names, (std::vector<std::string>{"conv2d (28, 28, 8)", "max_pooling2d (14, 14, 8)", "conv2d_1 (6, 6, 16)",
                                             "average_pooling2d (3, 3, 16)", "flatten (144)", "dense (10)"}));
  std::vector<std::string> tensors;
  for (const auto& p : model.registry().entries()) {
    tensors.push_back(p.name + " " + base::format_shape(p.shape) + " " + nn::to_string(p.init) + (p.decay ? " decay" : ""));
  }
  EXPECT_EQ(tensors, (std::vector<std::string>{"conv2d/kernel:0 (3, 3, 1, 8) glorot_uniform(9, 72) decay",
                                               "conv2d/bias:0 (8) zeros", "conv2d_1/kernel:0 (3, 3, 8, 16) glorot_uniform(72, 144) decay",
                                               "conv2d_1/bias:0 (16) zeros", "dense/kernel:0 (144, 10) glorot_uniform(144, 10) decay",
                                               "dense/bias:0 (10) zeros"}));
  // Without bias, a kernel alone; pools and flatten hold nothing; names count per Keras name.
  nn::ModelSpec spec = small_cnn();
  std::get<nn::Conv2DSpec>(spec.layers[2]).use_bias = false;
  spec.layers.insert(spec.layers.begin() + 4, nn::MaxPool2DSpec{{{1, 1}, {1, 1}, Padding::valid}});
  const nn::Model other = nn::build_model(spec);
  EXPECT_EQ(other.layers()[4]->name(), "max_pooling2d_1");
  EXPECT_FALSE(other.registry().find("conv2d_1/bias:0"));
  EXPECT_EQ(other.registry().total(), 3 * 3 * 8 + 8 + 3 * 3 * 8 * 16 + 144 * 10 + 10);
  EXPECT_FALSE(model.layers()[0]->input_gradient());
  EXPECT_TRUE(model.layers()[1]->input_gradient());
}

// 2·(Ho·Wo)·(kh·kw·C_in)·C_out per product: forward and kernel gradient, and the input gradient except for
// the first convolution (its input is the data); the pools count nothing.
TEST(CnnModel, FlopsCountedByHand) {
  const nn::Model model = nn::build_model(small_cnn());
  const std::int64_t conv = 2 * (28 * 28) * (3 * 3 * 1) * 8 * 2;
  const std::int64_t conv_1 = 2 * (6 * 6) * (3 * 3 * 8) * 16 * 3;
  const std::int64_t dense = 2 * 144 * 10 * 3;
  EXPECT_EQ(model.flops_per_sample(), conv + conv_1 + dense);
}

TEST(ImageLayers, ShapeErrorsNameTheLayerAndBothShapes) {
  const auto build = [](const std::string& text) { return error_of([&] { (void)nn::build_model(nn::parse_model_spec(text)); }); };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"input_shape": [784], "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3}]})",
       "model spec: layer 0: layer conv2d (conv2d): input shape (784) is not three-dimensional (height, width, channels)"},
      {R"({"input_shape": [4, 4, 1], "layers": [{"type": "conv2d", "filters": 4, "kernel_size": [3, 5]}]})",
       "model spec: layer 0: layer conv2d (conv2d): kernel (3, 5) is larger than the input (4, 4, 1) under padding valid"},
      {R"({"input_shape": [6, 6, 1], "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 3},
          {"type": "max_pool2d", "pool_size": 5}, {"type": "flatten"}, {"type": "dense", "units": 2}]})",
       "model spec: layer 1: layer max_pooling2d (max_pool2d): pool (5, 5) is larger than the input (4, 4, 2) under padding valid"},
      {R"({"input_shape": [4, 4, 1], "layers": [{"type": "conv2d", "filters": 1, "kernel_size": 4},
          {"type": "avg_pool2d", "pool_size": 2, "padding": "valid"}]})",
       "model spec: layer 1: layer average_pooling2d (avg_pool2d): pool (2, 2) is larger than the input (1, 1, 1) under padding valid"},
      {R"({"input_shape": [8, 8], "layers": [{"type": "global_avg_pool2d"}, {"type": "dense", "units": 2}]})",
       "model spec: layer 0: layer global_average_pooling2d (global_avg_pool2d): input shape (8, 8) is not three-dimensional"},
  };
  for (const auto& [text, message] : cases) {
    const std::string error = build(text);
    EXPECT_NE(error.find(message), std::string::npos) << text << "\n  gave: " << error;
  }
  // Sizes below 1 (the JSON reader refuses them first; the layers refuse them too).
  const std::vector<std::pair<std::function<void()>, std::string>> direct = {
      {[] { nn::Conv2D("conv2d", {4, 4, 1}, {.filters = 0, .kernel_size = {3, 3}, .activation = std::nullopt}); },
       "layer conv2d (conv2d): filters must be >= 1, got 0"},
      {[] { nn::Conv2D("conv2d", {4, 4, 1}, {.filters = 1, .kernel_size = {0, 3}, .activation = std::nullopt}); },
       "layer conv2d (conv2d): kernel size (0, 3) must be >= 1 in each dimension"},
      {[] { nn::Pool2D("max_pooling2d", nn::PoolKind::max, {4, 4, 1}, {{2, 2}, {2, 0}, Padding::same}); },
       "layer max_pooling2d (max_pool2d): strides (2, 0) must be >= 1 in each dimension"},
      // Sizes a file may give: no overflow, an error.
      {[] { nn::Conv2D("conv2d", {4, 4, 1}, {.filters = 2, .kernel_size = {std::int64_t{1} << 40, std::int64_t{1} << 40},
                                             .padding = Padding::same, .activation = std::nullopt}); },
       "layer conv2d (conv2d): kernel shape (1099511627776, 1099511627776, 1, 2): its element count overflows int64"},
  };
  for (const auto& [f, message] : direct) {
    const std::string error = error_of(f);
    EXPECT_NE(error.find(message), std::string::npos) << error;
  }
}
