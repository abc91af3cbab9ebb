// Gradient reducers under mpirun with 1, 2 and 3 ranks: the bucket layout, the 16-bit formats, and the
// bucketed reducer's sums against the fused MPI_Allreduce's (bit for bit) and against sums computed here
// from every rank's inputs (each rank can regenerate the others' gradients from their seeds).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "mpitrain/base/float16.hpp"
#include "mpitrain/dist/bucketed_reducer.hpp"
#include "common/mpi_gtest.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"
#include "mpitrain/nn/model.hpp"

using namespace mpitrain::dist;
using mpitrain::base::bf16_to_float;
using mpitrain::base::float_to_bf16;
using mpitrain::base::float_to_fp16;
using mpitrain::base::fp16_to_float;

namespace mpitrain::dist {
void PrintTo(const GradientRange& r, std::ostream* os) { *os << "[" << r.first << ", " << r.first + r.count << ")"; }
}  // namespace mpitrain::dist

namespace {
using mpitrain::test::world;

// The ranges of the default MLP 784-256-128-10 in the order its backward makes them final, as the model
// reports them (nn::Model::ready_order, the trainer's source too).
std::vector<GradientRange> model_order() {
  const mpitrain::nn::Model model(mpitrain::nn::mlp_spec(784, {256, 128}, mpitrain::nn::ActivationKind::relu, 10));
  std::vector<GradientRange> order;
  for (const auto& group : model.ready_order()) {
    for (const auto& r : group) order.push_back({r.begin, r.size()});
  }
  return order;
}
const std::vector<GradientRange> mlp_order = model_order();
constexpr std::int64_t mlp_size = 235146;

// Gradients of rank @p rank: magnitudes spread over six decades, so that the order of additions shows.
std::vector<float> gradients_of(int rank, std::int64_t n) {
  std::mt19937 gen(static_cast<unsigned>(1234 + rank));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> g(static_cast<std::size_t>(n));
  for (auto& v : g) v = u(gen) * std::pow(10.0f, 3.0f * u(gen));
  return g;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Reports the ranges as nn::Model::backward does for an MLP (its ready_order): each layer's range, last first.
void run_step(GradientReducer& reducer, std::vector<float>& g, const std::vector<GradientRange>& order) {
  reducer.begin(g);
  for (const auto& r : order) reducer.ready(r.first, r.count);
  reducer.finish();
}
}  // namespace

// By hand: dense_2 = 128·10 + 10 = 1290 floats at 784·256 + 256 + 256·128 + 128 = 233856; dense_1 =
// 256·128 + 128 = 32896 at 200960; dense = 784·256 + 256 = 200960 at 0; last layer first.
TEST(BucketLayout, TheModelReportsTheMlpOrderLastLayerFirst) {
  EXPECT_EQ(mlp_order, (std::vector<GradientRange>{{233856, 1290}, {200960, 32896}, {0, 200960}}));
}

TEST(BucketLayout, MlpLayersLastFirstWithTheBigLayerSplit) {
  // 0.25 MiB = 65536 floats: dense_2 + dense_1 (34186) share a bucket; dense (200960) is cut into
  // ceil(200960 / 65536) = 4 pieces of 50240, from its end backward.
  const auto buckets = bucket_layout(mlp_order, 65536);
  const std::vector<GradientRange> expected = {
      {200960, 34186}, {150720, 50240}, {100480, 50240}, {50240, 50240}, {0, 50240}};
  EXPECT_EQ(buckets, expected);
  // A cap larger than the buffer: one bucket per run of adjacent ranges, i.e. one bucket.
  EXPECT_EQ(bucket_layout(mlp_order, 1 << 20), (std::vector<GradientRange>{{0, mlp_size}}));
  // Cap 3 over ranges of 2 + 2 + 5: [7,9) alone (the next would overflow), [5,7), then 5 cut into
  // ceil(5 / 3) = 2 pieces of 2 and 3 from the end backward: [3,5), [0,3).
  const std::vector<GradientRange> small = {{7, 2}, {5, 2}, {0, 5}};
  EXPECT_EQ(bucket_layout(small, 3), (std::vector<GradientRange>{{7, 2}, {5, 2}, {3, 2}, {0, 3}}));
  // Ranges that are not adjacent in memory never share a bucket.
  EXPECT_EQ(bucket_layout(std::vector<GradientRange>{{0, 2}, {4, 2}, {2, 2}}, 100),
            (std::vector<GradientRange>{{0, 2}, {2, 4}}));
}

TEST(BucketLayout, RejectsRangesThatDoNotCoverTheBuffer) {
  EXPECT_THROW(bucket_layout(std::vector<GradientRange>{{0, 4}, {3, 4}}, 8), std::invalid_argument);  // overlap
  EXPECT_THROW(bucket_layout(std::vector<GradientRange>{{0, 4}, {5, 4}}, 8), std::invalid_argument);  // gap
  EXPECT_THROW(bucket_layout(std::vector<GradientRange>{{0, 0}}, 8), std::invalid_argument);          // empty
  EXPECT_THROW(bucket_layout(mlp_order, 0), std::invalid_argument);
}

TEST(HalfFormats, EveryHalfValueRoundTripsAndVectorCodecsMatchScalar) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = fp16_to_float(bits), b = bf16_to_float(bits);
    if (!std::isnan(f)) {
      ASSERT_EQ(float_to_fp16(f), bits) << h;
    }
    if (!std::isnan(b)) {
      ASSERT_EQ(float_to_bf16(b), bits) << h;
    }
  }
  const std::vector<float> values = gradients_of(99, 10007);  // odd length: vector body and scalar tail
  for (Compression c : {Compression::bf16, Compression::fp16}) {
    std::vector<std::uint16_t> packed(values.size());
    encode(c, values, packed);
    std::vector<float> widened(values.size());
    decode(c, packed, widened);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::uint16_t scalar = c == Compression::bf16 ? float_to_bf16(values[i]) : float_to_fp16(values[i]);
      ASSERT_EQ(packed[i], scalar) << to_string(c) << " at " << i;
      ASSERT_EQ(widened[i], c == Compression::bf16 ? bf16_to_float(scalar) : fp16_to_float(scalar));
    }
  }
  EXPECT_THROW(parse_compression("int8"), std::invalid_argument);
  EXPECT_EQ(parse_compression("bf16"), Compression::bf16);
}

TEST(Reducers, BucketedSumsAreBitIdenticalToFusedAndCorrect) {
  const int n_ranks = world->size();
  const std::vector<float> mine = gradients_of(world->rank(), mlp_size);
  std::vector<float> fused = mine;
  FusedAllreduceReducer(*world).reduce(fused);

  // Reference: the sum in double of every rank's inputs; the float sums must be within a few roundings.
  std::vector<std::vector<float>> all;
  for (int r = 0; r < n_ranks; ++r) all.push_back(gradients_of(r, mlp_size));
  for (std::size_t i = 0; i < fused.size(); ++i) {
    double sum = 0.0, magnitude = 0.0;
    for (int r = 0; r < n_ranks; ++r) {
      sum += all[static_cast<std::size_t>(r)][i];
      magnitude += std::abs(all[static_cast<std::size_t>(r)][i]);
    }
    ASSERT_NEAR(fused[i], sum, 2e-7 * magnitude + 1e-30) << "element " << i;
  }

  for (double mib : {0.25, 0.01, 0.001, 8.0}) {
    BucketedReducer bucketed(*world, mlp_order, static_cast<std::int64_t>(mib * 1024 * 1024));
    for (int step = 0; step < 2; ++step) {  // a second step reuses the reducer's state
      std::vector<float> g = mine;
      run_step(bucketed, g, mlp_order);
      ASSERT_TRUE(bit_equal(g, fused)) << "bucket " << mib << " MiB, step " << step;
    }
    const auto timings = bucketed.last_buckets();
    ASSERT_EQ(timings.size(), bucketed.buckets().size());
    for (std::size_t b = 0; b < timings.size(); ++b) {
      EXPECT_EQ(timings[b].range, bucketed.buckets()[b]);
      EXPECT_LE(timings[b].start, timings[b].end);
    }
  }
  // reduce() (everything final at once) and ready() in small pieces give the same sums too.
  BucketedReducer pieces(*world, mlp_order, 64 * 1024);
  std::vector<float> g = mine;
  pieces.begin(g);
  for (std::int64_t end = mlp_size; end > 0; end -= 1000) pieces.ready(std::max<std::int64_t>(0, end - 1000), std::min<std::int64_t>(1000, end));
  pieces.finish();
  EXPECT_TRUE(bit_equal(g, fused));
}

TEST(Reducers, CompressedSumsMatchTheRoundedSumAndAgreeBetweenReducers) {
  const int n_ranks = world->size();
  const std::vector<float> mine = gradients_of(world->rank(), mlp_size);
  for (Compression c : {Compression::bf16, Compression::fp16}) {
    std::vector<float> fused = mine;
    FusedAllreduceReducer(*world, c, mlp_size).reduce(fused);
    BucketedReducer bucketed(*world, mlp_order, 256 * 1024, c);
    std::vector<float> g = mine;
    run_step(bucketed, g, mlp_order);
    EXPECT_TRUE(bit_equal(g, fused)) << to_string(c);

    const double unit = c == Compression::bf16 ? 0x1p-8 : 0x1p-11;  // relative error of one rounding
    auto round16 = [&](float v) {
      return c == Compression::bf16 ? bf16_to_float(float_to_bf16(v)) : fp16_to_float(float_to_fp16(v));
    };
    std::vector<std::vector<float>> all;
    for (int r = 0; r < n_ranks; ++r) all.push_back(gradients_of(r, mlp_size));
    std::int64_t exact = 0, checked = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
      double magnitude = 0.0, sum = 0.0;
      for (int r = 0; r < n_ranks; ++r) {
        magnitude += std::abs(all[static_cast<std::size_t>(r)][i]);
        sum += all[static_cast<std::size_t>(r)][i];
      }
      if (c == Compression::fp16 && magnitude > 60000.0) continue;  // outside fp16's range
      if (c == Compression::fp16 && magnitude < 1e-3) continue;     // fp16 subnormals: absolute error
      ++checked;
      // Inputs rounded once, then N-1 rounded additions: at most N roundings of at most the magnitude.
      ASSERT_NEAR(g[i], sum, n_ranks * unit * magnitude) << to_string(c) << " element " << i;
      if (n_ranks == 2) {  // one addition: exactly round16(round16(a) + round16(b))
        const float expected = round16(round16(all[0][i]) + round16(all[1][i]));
        exact += g[i] == expected ? 1 : 0;
      }
    }
    EXPECT_GT(checked, mlp_size / 2);
    if (n_ranks == 2) {
      EXPECT_EQ(exact, checked) << to_string(c);
    }
  }
}

TEST(Reducers, ProtocolErrorsAreReported) {
  BucketedReducer reducer(*world, mlp_order, 256 * 1024);
  std::vector<float> wrong(10);
  EXPECT_THROW(reducer.begin(wrong), std::invalid_argument);
  std::vector<float> g(static_cast<std::size_t>(mlp_size), 1.0f);
  EXPECT_THROW(reducer.ready(0, 1), std::logic_error);  // outside a step
  reducer.begin(g);
  EXPECT_THROW(reducer.ready(mlp_size - 1, 2), std::logic_error);  // past the end
  reducer.ready(0, 10);
  EXPECT_THROW(reducer.ready(5, 10), std::logic_error);  // [5, 10) reported twice
  reducer.finish();  // starts what was not reported; every rank got here alike
  EXPECT_EQ(g[100], static_cast<float>(world->size()));
  EXPECT_THROW(make_gradient_reducer(*world, {"ring", 1.0, Compression::none}, mlp_order), std::invalid_argument);
  EXPECT_THROW(make_gradient_reducer(*world, {"bucketed", 0.0, Compression::none}, mlp_order), std::invalid_argument);
  EXPECT_EQ(make_gradient_reducer(*world, {"bucketed", 1.0, Compression::none}, mlp_order)->name(), "bucketed");
}
