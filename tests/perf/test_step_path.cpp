// The training step's hot path (issue 4): no heap allocation in steady-state steps, and the fast paths
// give the same bits as the straightforward code they replace. Runs under `mpirun -np 1` (the reducers
// need a communicator; with one rank MPI moves nothing).
//
// Allocation counting: this executable interposes malloc, calloc, realloc, posix_memalign,
// aligned_alloc and memalign (glibc's allocator stays underneath, via its __libc_* entry points). That
// sees every heap allocation of the process — operator new (libstdc++ calls malloc), Eigen's temporaries
// and GEMM blocking buffers, and MPI's internals — but counts only those of the main thread inside a
// measured window, so that MPI's and the test framework's own threads do not disturb the count.
// oneDNN 2.6's dnnl_primitive_execute turns its argument array into a std::unordered_map on the heap on every
// call: allocations that are not ours. Each counted allocation's call stack (glibc's backtrace) tells them
// apart: one with a frame in libdnnl's code is counted as oneDNN's, separately; every other one still fails
// the tests, and oneDNN's must be as many in every step (no growth).
#include <gtest/gtest.h>

#include <execinfo.h>
#include <link.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>
#include <optional>
#include <random>

#include "common/mpi_gtest.hpp"
#include "mpitrain/data/batch.hpp"
#include "mpitrain/data/sampler.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/nn/matmul.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/task.hpp"
#include "mpitrain/optim/optimizer.hpp"
#include "mpitrain/train/reducer_setup.hpp"
#include "mpitrain/telemetry/step_profile.hpp"
#include "mpitrain/train/model_setup.hpp"
#include "mpitrain/train/step.hpp"
#include "mpitrain/train/step_clock.hpp"
#include "mpitrain/train/trainer.hpp"

namespace {
thread_local bool counting = false;
thread_local bool in_note = false;
thread_local long allocations = 0;
thread_local long onednn_allocations = 0;

// The executable segments of libdnnl, found once before any counting.
struct CodeRange {
  std::uintptr_t begin, end;
};
std::vector<CodeRange> onednn_code;

int find_onednn(dl_phdr_info* info, std::size_t, void*) {
  if (info->dlpi_name == nullptr || std::strstr(info->dlpi_name, "libdnnl") == nullptr) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type == PT_LOAD && (segment.p_flags & PF_X) != 0) {
      const std::uintptr_t begin = info->dlpi_addr + segment.p_vaddr;
      onednn_code.push_back({begin, begin + segment.p_memsz});
    }
  }
  return 0;
}

// Whether the current call stack passes through libdnnl's code.
bool called_from_onednn() {
  void* frames[64];
  const int n = backtrace(frames, 64);
  for (int i = 0; i < n; ++i) {
    const auto address = reinterpret_cast<std::uintptr_t>(frames[i]);
    for (const CodeRange& r : onednn_code) {
      if (address >= r.begin && address < r.end) return true;
    }
  }
  return false;
}

// Before main: the ranges, and a first backtrace (glibc loads libgcc_s for it, allocating, on first use).
const bool onednn_located = [] {
  dl_iterate_phdr(find_onednn, nullptr);
  void* frames[4];
  backtrace(frames, 4);
  return !onednn_code.empty();
}();

// With MPITRAIN_ALLOC_TRAP set, the first counted allocation of ours traps: `gdb -batch -ex run -ex bt
// --args tests/test_perf` then shows who allocated.
inline void note() {
  if (!counting || in_note) return;
  in_note = true;
  const bool onednn = called_from_onednn();
  in_note = false;
  if (onednn) {
    ++onednn_allocations;
    return;
  }
  ++allocations;
  if (std::getenv("MPITRAIN_ALLOC_TRAP") != nullptr) __builtin_trap();
}
}  // namespace

#if !defined(__SANITIZE_ADDRESS__)
extern "C" {
void* __libc_malloc(std::size_t);                // NOLINT: glibc's allocator entry points
void* __libc_calloc(std::size_t, std::size_t);   // NOLINT
void* __libc_realloc(void*, std::size_t);        // NOLINT
void* __libc_memalign(std::size_t, std::size_t); // NOLINT
void __libc_free(void*);                         // NOLINT
void* malloc(std::size_t n) { note(); return __libc_malloc(n); }
void* calloc(std::size_t n, std::size_t size) { note(); return __libc_calloc(n, size); }
void* realloc(void* p, std::size_t n) { note(); return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
void* memalign(std::size_t align, std::size_t n) { note(); return __libc_memalign(align, n); }
void* aligned_alloc(std::size_t align, std::size_t n) { note(); return __libc_memalign(align, n); }
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  note();
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif

using namespace mpitrain;

namespace {
using mpitrain::test::world;

// Counts this thread's heap allocations while alive: ours, and oneDNN's separately.
struct CountAllocations {
  CountAllocations() {
    allocations = 0;
    onednn_allocations = 0;
    counting = true;
  }
  ~CountAllocations() { counting = false; }
  [[nodiscard]] long count() const { return allocations; }
  [[nodiscard]] long onednn() const { return onednn_allocations; }
};

// Runs @p steps(from, to) over steps [from, from + 2n) in two halves and checks that they make no allocation
// of ours and as many of oneDNN's each.
template <class Steps>
void expect_no_allocation(Steps&& steps, std::int64_t from, std::int64_t n, const std::string& what) {
  long ours[2], onednn[2];
  for (int half = 0; half < 2; ++half) {
    CountAllocations counter;
    steps(from + half * n, from + (half + 1) * n);
    ours[half] = counter.count();
    onednn[half] = counter.onednn();
  }
  EXPECT_EQ(ours[0] + ours[1], 0) << what;
  EXPECT_EQ(onednn[0], onednn[1]) << what << ": oneDNN's allocations grow";
}

// A training set of @p n random 28×28 images held as pixels, labels i mod 10.
data::Dataset pixel_set(std::int64_t n) {
  data::Dataset ds;
  std::mt19937 gen(7);
  ds.pixels.resize(n, 784);
  for (Eigen::Index i = 0; i < ds.pixels.size(); ++i) ds.pixels.data()[i] = static_cast<std::uint8_t>(gen() & 0xff);
  ds.features.resize(0, 784);
  for (std::int64_t i = 0; i < n; ++i) ds.labels.push_back(static_cast<std::int32_t>(i % 10));
  ds.source = "pixels";
  return ds;
}

// The trainer's own step (train::Step) with everything it needs, on one rank's share of a batch.
struct StepPath {
  train::TrainingData data;
  config::Config config;
  data::DistributedSampler sampler;
  nn::Model model;
  nn::ClassificationTask task{10};
  std::unique_ptr<optim::Optimizer> optimizer = optim::make_optimizer({}, model.registry());
  std::unique_ptr<dist::GradientReducer> reducer;
  guard::FaultPlan faults;
  telemetry::Timeline timeline{0, 4096};
  telemetry::StepProfile profile{2, &timeline};
  train::StepClock clock{profile};
  std::optional<train::Step> step_unit;

  StepPath(std::int64_t batch_size, const config::DistConfig& dist,
           const nn::ModelSpec& spec = nn::mlp_spec(784, {256, 128}, nn::ActivationKind::relu, 10),
           nn::Precision precision = nn::Precision::fp32)
      : sampler(1024, batch_size * world->size(), 3), model(nn::build_model(spec)),
        reducer(train::make_reducer(dist, *world, model)) {
    nn::set_compute_threads(1);  // train.threads = 1, as the trainer sets it (train::configure_threads)
    model.set_precision(precision);
    data.train = pixel_set(1024);
    data.scaler = data::Scaler("divide", 255.0);
    data.scaler.fit(data.train);
    config.optim.weight_decay = 1e-4;  // every part of the step runs: L2 and clipping too
    config.train.clip_grad_norm = 1.0;
    config.data.augment = "flip_horizontal, shift:2";  // and augmentation
    model.init(1);
    step_unit.emplace(config, model, task, *optimizer, *reducer, *world, batch_size, faults, base::Shape{28, 28, 1});
  }

  void operator()(std::int64_t from, std::int64_t to) {
    for (std::int64_t s = from; s < to; ++s) step(s);
  }

  void step(std::int64_t s) {
    const auto r = step_unit->run(data, sampler, s % sampler.steps_per_epoch(), s, clock);
    ASSERT_TRUE(r.applied);
    ASSERT_GT(r.sums.loss + r.penalty, 0.0);
  }
};
}  // namespace

#if !defined(__SANITIZE_ADDRESS__)
TEST(Allocations, TheCounterSeesOperatorNewAndEigen) {
  CountAllocations counter;
  auto p = std::make_unique<int>(1);
  Eigen::MatrixXf m(100, 100);
  EXPECT_GE(counter.count(), 2);
  EXPECT_EQ(counter.onednn(), 0);
}

// oneDNN's allocations are told apart by their call stack: a product's execute makes some, and ours none.
TEST(Allocations, TheCounterTellsOneDnnsApart) {
  ASSERT_TRUE(onednn_located);
  std::vector<float> a(48 * 48, 0.5f), b(48 * 48, 0.25f), c(48 * 48);
  nn::MatrixProduct product(nn::Transpose::none, false);
  product.run(a.data(), b.data(), c.data(), 48, 48, 48);  // creates the primitive
  CountAllocations counter;
  product.run(a.data(), b.data(), c.data(), 48, 48, 48);
  EXPECT_EQ(counter.count(), 0);
  EXPECT_GT(counter.onednn(), 0);  // its argument map (libdnnl 2.6): if this fails, drop the attribution
  EXPECT_LE(counter.onednn(), 10);
}

TEST(Allocations, NoneInSteadyStateSteps) {
  for (const std::int64_t batch : {32, 64, 256}) {
    for (const char* reducer : {"fused", "bucketed"}) {
      for (const char* compression : {"none", "bf16", "fp16"}) {
        for (const nn::Precision precision : {nn::Precision::fp32, nn::Precision::bf16}) {
          if (precision == nn::Precision::bf16 && compression != std::string("none")) continue;
          config::DistConfig dist;
          dist.reducer = reducer;
          dist.bucket_mb = 0.25;
          dist.compression = compression;
          StepPath path(batch, dist, nn::mlp_spec(784, {256, 128}, nn::ActivationKind::relu, 10), precision);
          for (int s = 0; s < 3; ++s) path.step(s);  // warm-up: first-touch of buffers, MPI set-up
          expect_no_allocation(path, 3, 5,
                               "batch " + std::to_string(batch) + ", " + reducer + ", " + compression + ", " +
                                   nn::to_string(precision));
        }
      }
    }
  }
}

// Batch normalization (its two allreduces of statistics per step, between the bucketed reducer's) and dropout
// allocate nothing in steady-state steps either.
TEST(Allocations, NoneInSteadyStateStepsWithBatchNormAndDropout) {
  const nn::ModelSpec spec{{784},
                           {nn::DenseSpec{256}, nn::BatchNormSpec{}, nn::ActivationSpec{nn::ActivationKind::relu},
                            nn::DropoutSpec{0.3}, nn::DenseSpec{128}, nn::BatchNormSpec{}, nn::DenseSpec{10}}};
  for (const char* reducer : {"fused", "bucketed"}) {
    config::DistConfig dist;
    dist.reducer = reducer;
    dist.bucket_mb = 0.25;
    StepPath path(64, dist, spec);
    for (int s = 0; s < 3; ++s) path.step(s);
    expect_no_allocation(path, 3, 5, reducer);
  }
}

// A CNN with every layer on images (convolutions with and without padding, bias and activation; both
// pools; global pooling and flatten on two branches of the spec list) allocates nothing after warm-up either.
TEST(Allocations, NoneInSteadyStateStepsOfACnn) {
  const char* specs[] = {
      R"({"input_shape": [28, 28, 1], "layers": [
          {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
          {"type": "max_pool2d", "pool_size": 2},
          {"type": "conv2d", "filters": 16, "kernel_size": 3, "strides": 2, "use_bias": false},
          {"type": "avg_pool2d", "padding": "same"}, {"type": "flatten"}, {"type": "dense", "units": 10}]})",
      R"({"input_shape": [28, 28, 1], "layers": [
          {"type": "conv2d", "filters": 4, "kernel_size": [2, 3], "padding": "same"},
          {"type": "max_pool2d", "pool_size": 3, "strides": 2, "padding": "same"},
          {"type": "conv2d", "filters": 10, "kernel_size": 3, "activation": "tanh"},
          {"type": "global_avg_pool2d"}]})"};
  for (const char* spec : specs) {
    for (const std::int64_t batch : {32, 64}) {
      StepPath path(batch, {}, nn::parse_model_spec(spec));
      for (int s = 0; s < 3; ++s) path.step(s);
      expect_no_allocation(path, 3, 3, "batch " + std::to_string(batch) + ": " + spec);
    }
  }
}

// The real trainer (train::train), not a copy of its step: two runs that differ only in their number of
// steps (100 and 255: numbers of the same width, so that the config text stored in the final checkpoint and
// model.h5 has the same length and HDF5 lays both files out alike), all within one epoch, with no interval
// log, checkpoint or timeline in between, make the same number of main-thread heap allocations of ours
// (oneDNN's apart, see the top of this file), up to a few
// (the end-of-run JSON and log text, whose length depends on the measured figures). One allocation per
// step would add 155.
TEST(Allocations, NoneInTheRealTrainersSteadyStateSteps) {
  for (const char* reducer : {"fused", "bucketed"}) {
    const auto run = [&](std::int64_t steps) {
      config::Config c;
      c.name = "alloc";
      c.train.batch_size = 8;  // 2048 samples: 256 steps per epoch
      c.train.epochs = 1;
      c.train.max_steps = steps;
      c.train.log_every = 1'000'000;
      c.log.progress = "false";
      c.checkpoint.every_epochs = 0;
      c.dist.reducer = reducer;
      train::TrainingData data;
      data.train = pixel_set(2048);
      data.scaler = data::Scaler("divide", 255.0);
      data.scaler.fit(data.train);
      const auto dir = std::filesystem::temp_directory_path() /
                       ("mpitrain_alloc_" + std::to_string(::getpid()) + "_" + reducer + std::to_string(steps));
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      auto configured = train::configured_model(c, {784});
      long count = 0;
      {
        CountAllocations counter;
        const auto summary = train::train(c, data, configured.model, *configured.task, *world, dir);
        count = counter.count();
        EXPECT_EQ(summary["steps"].get<std::int64_t>(), steps);
      }
      std::filesystem::remove_all(dir);
      return count;
    };
    static_cast<void>(run(100));  // the process's first run also initialises HDF5, spdlog, ...
    const long short_run = run(100);  // both runs pass the energy prediction at step 50
    const long long_run = run(255);
    // The end-of-run text (JSON, log lines whose length depends on the measured figures) differs by up to
    // about 8 allocations; one allocation every 15 steps would add 10 over the 155 extra steps.
    EXPECT_LE(std::abs(long_run - short_run), 10)
        << reducer << ": " << short_run << " allocations in 100 steps, " << long_run << " in 255";
  }
}
#endif

TEST(FastPaths, AdamMatchesTheScalarFormulaBitForBit) {
  const std::size_t n = 5000;  // not a multiple of the chunk or of a vector
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> params(n), reference(n), m(n, 0.0f), v(n, 0.0f), grads(n);
  for (auto& p : params) p = normal(gen);
  reference = params;
  optim::Adam adam(static_cast<std::int64_t>(n), 1e-3, 0.9, 0.999, 1e-7);
  for (int t = 1; t <= 5; ++t) {
    for (auto& g : grads) g = normal(gen) * 1e-2f;
    adam.step(params, grads);
    // Kingma and Ba (2015), Algorithm 1 with the step size of section 2, written element by element.
    const float lr_t = static_cast<float>(1e-3 * std::sqrt(1.0 - std::pow(0.999, t)) / (1.0 - std::pow(0.9, t)));
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = b1 * m[i] + (1.0f - b1) * grads[i];
      v[i] = b2 * v[i] + (1.0f - b2) * grads[i] * grads[i];
      reference[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
    }
    ASSERT_EQ(std::memcmp(params.data(), reference.data(), n * sizeof(float)), 0) << "step " << t;
  }
  // The same update on buffers shifted by 1 to 15 floats (every position within a 64-byte vector) gives
  // the same bits: the vectorised body and the scalar remainder round alike.
  for (std::size_t shift = 1; shift < 16; ++shift) {
    std::vector<float> p(n + shift), g(n + shift);
    std::copy(reference.begin(), reference.end(), p.begin() + static_cast<std::ptrdiff_t>(shift));
    std::copy(grads.begin(), grads.end(), g.begin() + static_cast<std::ptrdiff_t>(shift));
    std::vector<float> aligned = reference;
    optim::Adam base(static_cast<std::int64_t>(n), 1e-3, 0.9, 0.999, 1e-7);
    optim::Adam shifted(static_cast<std::int64_t>(n), 1e-3, 0.9, 0.999, 1e-7);
    base.step(aligned, grads);
    shifted.step(std::span<float>(p).subspan(shift), std::span<const float>(g).subspan(shift));
    ASSERT_EQ(std::memcmp(p.data() + shift, aligned.data(), n * sizeof(float)), 0) << "shift " << shift;
  }
}

TEST(FastPaths, PixelBatchesEqualTheWholeSetScaledUpFront) {
  const data::Dataset pixels = pixel_set(300);
  data::Dataset floats = pixels;
  floats.features = pixels.pixels.cast<float>();
  floats.pixels.resize(0, 0);
  for (const char* method : {"divide", "none", "shifted"}) {
    data::Scaler scaler(method == std::string("shifted") ? "standardize" : method, 255.0);
    scaler.fit(floats);
    if (method == std::string("shifted")) {  // a standardize-like transform: shift and scale per column
      std::vector<float> shift(784), scale(784);
      for (std::size_t j = 0; j < 784; ++j) {
        shift[j] = 0.37f * static_cast<float>(j % 13);
        scale[j] = 1.0f + 0.11f * static_cast<float>(j % 7);
      }
      scaler.set(shift, scale);
    }
    data::Dataset scaled = floats;
    scaler.apply(scaled);
    const std::vector<std::int64_t> rows = {5, 299, 0, 17, 17};
    data::RowMatrix a(8, 784), b(8, 784);
    std::vector<std::int32_t> la(8), lb(8);
    data::gather_batch(pixels, scaler, rows, a, la);
    data::gather_batch(scaled, scaler, rows, b, lb);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      ASSERT_EQ(std::memcmp(a.row(static_cast<Eigen::Index>(i)).data(), b.row(static_cast<Eigen::Index>(i)).data(),
                            784 * sizeof(float)), 0) << method << " row " << i;
      EXPECT_EQ(la[i], static_cast<std::int32_t>(rows[i] % 10));
    }
    EXPECT_EQ(lb, la);
  }
  data::RowMatrix small(2, 784);
  std::vector<std::int32_t> l(2);
  data::Scaler divide("divide", 255.0);
  divide.fit(floats);
  EXPECT_THROW(data::gather_batch(pixels, divide, std::vector<std::int64_t>{1, 2, 3}, small, l), std::invalid_argument);
  EXPECT_EQ(data::storage_bytes(pixels), 300 * 784 + 300 * 4);
  EXPECT_EQ(data::storage_bytes(floats), 300 * 784 * 4 + 300 * 4);
}
