// Checkpoint tests: exact round trips, the Keras 2 layout read back with the raw HDF5 C API, atomic
// replacement, a format-1 file kept in tests/fixtures/checkpoint-v1, and every kind of broken file the reader
// must reject with a CheckpointError.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mpitrain/checkpoint/checkpoint.hpp"
#include "mpitrain/checkpoint/resume.hpp"
#include "mpitrain/nn/model.hpp"
#include "checkpoint/hdf5.hpp"
#include "common/hdf5_edit.hpp"

namespace mpitrain::checkpoint {
namespace {

namespace fs = std::filesystem;
using detail::Attribute;
using detail::Dataset;
using detail::Dataspace;
using detail::Datatype;
using detail::FileHandle;

std::vector<float> random_floats(std::mt19937& gen, std::size_t n) {
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// A checkpoint of @p spec with every field set to a distinct value drawn from @p seed.
Checkpoint make_checkpoint(const nn::ModelSpec& spec, unsigned seed) {
  std::mt19937 gen(seed);
  const auto total = static_cast<std::size_t>(nn::registry_of(spec).total());
  const auto inputs = static_cast<std::size_t>(base::element_count(spec.input_shape));
  Checkpoint c;
  c.model = spec;
  c.parameters = random_floats(gen, total);
  c.buffers = random_floats(gen, static_cast<std::size_t>(nn::buffer_registry_of(spec).total()));
  c.info.optimizer_name = "adam";
  c.info.optimizer_iterations = 1234 + seed;
  c.optimizer_state = {{"m", random_floats(gen, total)}, {"v", random_floats(gen, total)}};
  c.info.epoch = 3;
  c.info.step_in_epoch = 17;
  c.info.global_step = 4242 + seed;
  c.info.scaler_method = "standardize";
  c.info.scaler_shift = random_floats(gen, inputs);
  c.info.scaler_scale = random_floats(gen, inputs);
  c.info.config_ini = "[model]\nhidden = 5,4\n[train]\nseed = " + std::to_string(seed) + "\n";
  c.info.sampler_seed = 77 + seed;
  c.info.trajectory = "optim.name = adam\n";
  c.info.lineage = "run-" + std::to_string(seed) + "@0,resumed@" + std::to_string(seed + 3);
  c.info.progress = {0.1 * seed + 1234.5678901234567, 300.0 + seed, 640.0, 0.25 / 3, 7, 2, 11 + seed, 1};
  return c;
}

void expect_equal(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.buffers, b.buffers);
  EXPECT_EQ(a.weights_only, b.weights_only);
  ASSERT_EQ(a.optimizer_state.size(), b.optimizer_state.size());
  for (std::size_t i = 0; i < a.optimizer_state.size(); ++i) {
    EXPECT_EQ(a.optimizer_state[i].name, b.optimizer_state[i].name);
    EXPECT_EQ(a.optimizer_state[i].values, b.optimizer_state[i].values);
  }
  EXPECT_EQ(a.info.optimizer_name, b.info.optimizer_name);
  EXPECT_EQ(a.info.optimizer_iterations, b.info.optimizer_iterations);
  EXPECT_EQ(a.info.epoch, b.info.epoch);
  EXPECT_EQ(a.info.step_in_epoch, b.info.step_in_epoch);
  EXPECT_EQ(a.info.global_step, b.info.global_step);
  EXPECT_EQ(a.info.scaler_method, b.info.scaler_method);
  EXPECT_EQ(a.info.scaler_shift, b.info.scaler_shift);
  EXPECT_EQ(a.info.scaler_scale, b.info.scaler_scale);
  EXPECT_EQ(a.info.config_ini, b.info.config_ini);
  EXPECT_EQ(a.info.sampler_seed, b.info.sampler_seed);
  EXPECT_EQ(a.info.trajectory, b.info.trajectory);
  EXPECT_EQ(a.info.lineage, b.info.lineage);
  // Doubles bit for bit: the resumed epoch's metrics are sums continued from these.
  const RunProgress& p = a.info.progress;
  const RunProgress& q = b.info.progress;
  EXPECT_EQ(p.epoch_loss_sum, q.epoch_loss_sum);
  EXPECT_EQ(p.epoch_correct, q.epoch_correct);
  EXPECT_EQ(p.epoch_samples, q.epoch_samples);
  EXPECT_EQ(p.epoch_penalty_sum, q.epoch_penalty_sum);
  EXPECT_EQ(p.epoch_applied_steps, q.epoch_applied_steps);
  EXPECT_EQ(p.epoch_skipped_steps, q.epoch_skipped_steps);
  EXPECT_EQ(p.skipped_steps, q.skipped_steps);
  EXPECT_EQ(p.consecutive_skipped_steps, q.consecutive_skipped_steps);
}

// The message of the CheckpointError that read_checkpoint throws for @p path ("" if none).
std::string read_error(const fs::path& path) {
  try {
    read_checkpoint(path);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

// Raw HDF5 readers, independent of the code under test.
FileHandle open_raw(const fs::path& path, unsigned flags = H5F_ACC_RDONLY) {
  FileHandle f(H5Fopen(path.c_str(), flags, H5P_DEFAULT));
  EXPECT_GE(f.get(), 0) << path;
  return f;
}

std::vector<std::string> raw_fixed_strings(hid_t loc, const char* name, std::size_t* size = nullptr) {
  Attribute attr(H5Aopen(loc, name, H5P_DEFAULT));
  Datatype type(H5Aget_type(attr.get()));
  Dataspace space(H5Aget_space(attr.get()));
  EXPECT_EQ(H5Tget_class(type.get()), H5T_STRING);
  EXPECT_EQ(H5Tis_variable_str(type.get()), 0) << name << " must be fixed-length";
  EXPECT_EQ(H5Tget_strpad(type.get()), H5T_STR_NULLPAD) << name;
  const std::size_t n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get()));
  const std::size_t width = H5Tget_size(type.get());
  if (size != nullptr) *size = width;
  std::vector<char> buffer(n * width);
  EXPECT_GE(H5Aread(attr.get(), type.get(), buffer.data()), 0);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    const char* s = buffer.data() + i * width;
    out.emplace_back(s, strnlen(s, width));
  }
  return out;
}

std::vector<hsize_t> raw_shape(hid_t dataset) {
  Dataspace space(H5Dget_space(dataset));
  std::vector<hsize_t> dims(static_cast<std::size_t>(H5Sget_simple_extent_ndims(space.get())));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

// Replaces string attribute @p name of @p object in the file with @p value (as h5py would).
void rewrite_string_attr(const fs::path& path, const char* object, const char* name, const std::string& value) {
  FileHandle f = open_raw(path, H5F_ACC_RDWR);
  detail::Group g(H5Gopen2(f.get(), object, H5P_DEFAULT));
  ASSERT_TRUE(test::replace_string_attribute(g.get(), name, value)) << object << " " << name;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("mpitrain_ckpt_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  nn::ModelSpec spec_ = nn::mlp_spec(7, {5, 4}, nn::ActivationKind::tanh, 3);
  fs::path dir_;
};

TEST_F(CheckpointTest, RoundTripsEveryField) {
  const Checkpoint original = make_checkpoint(spec_, 42);
  const fs::path path = dir_ / "ckpt.h5";
  write_checkpoint(path, original);
  expect_equal(read_checkpoint(path), original);
  EXPECT_FALSE(fs::exists(dir_ / "ckpt.h5.tmp"));
}

TEST_F(CheckpointTest, RoundTripsEmptyHiddenEmptyScalerAndStatelessOptimizer) {
  Checkpoint original = make_checkpoint(nn::mlp_spec(4, {}, nn::ActivationKind::sigmoid, 2), 7);
  original.info.optimizer_name = "sgd";
  original.optimizer_state.clear();
  original.info.scaler_method = "none";
  original.info.scaler_shift.clear();
  original.info.scaler_scale.clear();
  original.info.config_ini.clear();
  const fs::path path = dir_ / "softmax.h5";
  write_checkpoint(path, original);
  const Checkpoint back = read_checkpoint(path);
  expect_equal(back, original);
  EXPECT_EQ(back.model.layers.size(), 1u);

  FileHandle f = open_raw(path);
  EXPECT_EQ(raw_fixed_strings(f.get(), "layer_names"), std::vector<std::string>{"dense"});
  Dataset kernel(H5Dopen2(f.get(), "/dense/dense/kernel:0", H5P_DEFAULT));
  EXPECT_EQ(raw_shape(kernel.get()), (std::vector<hsize_t>{4, 2}));
}

TEST_F(CheckpointTest, WritesTheKerasLayout) {
  const Checkpoint c = make_checkpoint(spec_, 3);
  const fs::path path = dir_ / "keras.h5";
  write_checkpoint(path, c);

  FileHandle f = open_raw(path);
  std::size_t width = 0;
  EXPECT_EQ(raw_fixed_strings(f.get(), "layer_names", &width),
            (std::vector<std::string>{"dense", "dense_1", "dense_2"}));
  EXPECT_EQ(width, 7u);  // longest name, like numpy's 'S7'
  EXPECT_EQ(raw_fixed_strings(f.get(), "backend"), std::vector<std::string>{"tensorflow"});
  EXPECT_EQ(raw_fixed_strings(f.get(), "keras_version"), std::vector<std::string>{"2.15.0"});

  // Layer widths 7 -> 5 -> 4 -> 3; offsets of kernel and bias laid out back to back, computed by hand.
  struct Layer { const char* name; hsize_t in, out; std::size_t kernel_offset; };
  const Layer layers[] = {{"dense", 7, 5, 0}, {"dense_1", 5, 4, 7 * 5 + 5}, {"dense_2", 4, 3, 40 + 5 * 4 + 4}};
  for (const Layer& l : layers) {
    SCOPED_TRACE(l.name);
    const std::string name = l.name;
    detail::Group g(H5Gopen2(f.get(), l.name, H5P_DEFAULT));
    ASSERT_GE(g.get(), 0);
    EXPECT_EQ(raw_fixed_strings(g.get(), "weight_names"),
              (std::vector<std::string>{name + "/kernel:0", name + "/bias:0"}));

    Dataset kernel(H5Dopen2(g.get(), (name + "/kernel:0").c_str(), H5P_DEFAULT));
    ASSERT_GE(kernel.get(), 0);
    EXPECT_EQ(raw_shape(kernel.get()), (std::vector<hsize_t>{l.in, l.out}));
    Datatype type(H5Dget_type(kernel.get()));
    EXPECT_GT(H5Tequal(type.get(), H5T_IEEE_F32LE), 0);
    std::vector<float> k(l.in * l.out);
    ASSERT_GE(H5Dread(kernel.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, k.data()), 0);
    for (hsize_t i = 0; i < l.in; ++i) {
      for (hsize_t j = 0; j < l.out; ++j) {
        ASSERT_EQ(k[i * l.out + j], c.parameters[l.kernel_offset + i * l.out + j]) << i << "," << j;
      }
    }
    Dataset bias(H5Dopen2(f.get(), ("/" + name + "/" + name + "/bias:0").c_str(), H5P_DEFAULT));
    EXPECT_EQ(raw_shape(bias.get()), (std::vector<hsize_t>{l.out}));
    std::vector<float> b(l.out);
    ASSERT_GE(H5Dread(bias.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data()), 0);
    const std::size_t bias_offset = l.kernel_offset + l.in * l.out;
    EXPECT_EQ(b, std::vector<float>(c.parameters.begin() + bias_offset, c.parameters.begin() + bias_offset + l.out));
  }

  // parameter_crc32 is zlib's crc32 of the whole flat buffer's bytes.
  detail::Group own(H5Gopen2(f.get(), "mpitrain", H5P_DEFAULT));
  Attribute crc_attr(H5Aopen(own.get(), "parameter_crc32", H5P_DEFAULT));
  std::uint32_t stored = 0;
  ASSERT_GE(H5Aread(crc_attr.get(), H5T_NATIVE_UINT32, &stored), 0);
  const auto expected = crc32(0L, reinterpret_cast<const Bytef*>(c.parameters.data()),
                              static_cast<uInt>(c.parameters.size() * sizeof(float)));
  EXPECT_EQ(stored, expected);
  // Optimizer state for dense_1/kernel:0 sits in nested groups with the kernel's shape.
  Dataset m(H5Dopen2(own.get(), "optimizer/m/dense_1/kernel:0", H5P_DEFAULT));
  ASSERT_GE(m.get(), 0);
  EXPECT_EQ(raw_shape(m.get()), (std::vector<hsize_t>{5, 4}));
}

TEST_F(CheckpointTest, OverwriteReplacesTheWholeFile) {
  const fs::path path = dir_ / "ckpt.h5";
  write_checkpoint(path, make_checkpoint(spec_, 1));
  const Checkpoint second = make_checkpoint(nn::mlp_spec(7, {6}, nn::ActivationKind::relu, 3), 2);
  write_checkpoint(path, second);
  expect_equal(read_checkpoint(path), second);
  FileHandle f = open_raw(path);
  EXPECT_EQ(raw_fixed_strings(f.get(), "layer_names"), (std::vector<std::string>{"dense", "dense_1"}));
  EXPECT_EQ(H5Lexists(f.get(), "dense_2", H5P_DEFAULT), 0);  // nothing of the old file survives
  EXPECT_FALSE(fs::exists(dir_ / "ckpt.h5.tmp"));
}

TEST_F(CheckpointTest, WriteIntoMissingDirectoryThrowsAndLeavesNoTemporary) {
  const fs::path path = dir_ / "missing" / "ckpt.h5";
  try {
    write_checkpoint(path, make_checkpoint(spec_, 1));
    FAIL() << "no exception";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(CheckpointTest, FailedRenameRemovesTheTemporaryAndKeepsTheTarget) {
  // The target is a non-empty directory: the temporary is complete, then rename() fails.
  const fs::path path = dir_ / "ckpt.h5";
  fs::create_directories(path);
  std::ofstream(path / "keep") << "x";
  EXPECT_THROW(write_checkpoint(path, make_checkpoint(spec_, 1)), CheckpointError);
  EXPECT_FALSE(fs::exists(dir_ / "ckpt.h5.tmp"));
  EXPECT_TRUE(fs::exists(path / "keep"));
}

TEST_F(CheckpointTest, RejectsBuffersOfTheWrongSize) {
  Checkpoint c = make_checkpoint(spec_, 1);
  c.parameters.pop_back();
  EXPECT_THROW(write_checkpoint(dir_ / "bad.h5", c), CheckpointError);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(CheckpointTest, MissingFileIsReported) {
  const std::string message = read_error(dir_ / "nope.h5");
  EXPECT_NE(message.find((dir_ / "nope.h5").string() + ": not a readable HDF5 checkpoint"), std::string::npos)
      << message;
}

TEST_F(CheckpointTest, NonHdf5FileIsReported) {
  const fs::path path = dir_ / "data.csv";
  std::ofstream(path) << "label,x0,x1\n1,0.5,0.25\n";
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path.string() + ": not a readable HDF5 checkpoint"), std::string::npos) << message;
}

TEST_F(CheckpointTest, TruncatedFileIsReported) {
  const fs::path good = dir_ / "good.h5";
  const fs::path cut = dir_ / "cut.h5";
  write_checkpoint(good, make_checkpoint(spec_, 5));
  fs::copy_file(good, cut);
  fs::resize_file(cut, fs::file_size(good) / 2);
  const std::string message = read_error(cut);
  EXPECT_NE(message.find("checkpoint " + cut.string() + ": "), std::string::npos) << message;
  EXPECT_NE(message.find("not a readable HDF5 checkpoint"), std::string::npos) << message;
}

TEST_F(CheckpointTest, FlippedParameterBytesFailTheChecksum) {
  const fs::path path = dir_ / "flipped.h5";
  write_checkpoint(path, make_checkpoint(spec_, 9));
  haddr_t offset = HADDR_UNDEF;
  {
    FileHandle f = open_raw(path);
    Dataset kernel(H5Dopen2(f.get(), "/dense_1/dense_1/kernel:0", H5P_DEFAULT));
    offset = H5Dget_offset(kernel.get());  // contiguous layout: the raw floats start here
  }
  ASSERT_NE(offset, HADDR_UNDEF);
  {
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    char bytes[8];
    io.seekg(static_cast<std::streamoff>(offset) + 4);
    io.read(bytes, sizeof bytes);
    for (char& b : bytes) b = static_cast<char>(b ^ 0x5A);
    io.seekp(static_cast<std::streamoff>(offset) + 4);
    io.write(bytes, sizeof bytes);
  }
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path.string() + ": parameter checksum mismatch (corrupt file)"), std::string::npos)
      << message;
}

TEST_F(CheckpointTest, Hdf5FileWithoutMpitrainGroupIsReported) {
  const fs::path path = dir_ / "keras_only.h5";
  {
    FileHandle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    detail::Group g(H5Gcreate2(f.get(), "dense", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  }
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path.string() + ": not an mpitrain checkpoint"), std::string::npos) << message;
}

TEST_F(CheckpointTest, ChangedModelSpecNamesTheTensorAndBothShapes) {
  const fs::path path = dir_ / "arch.h5";
  write_checkpoint(path, make_checkpoint(spec_, 4));
  // dense_1 is now 5 -> 3 instead of 5 -> 4
  rewrite_string_attr(path, "mpitrain", "model_spec",
                      nn::to_json_text(nn::mlp_spec(7, {5, 3}, nn::ActivationKind::tanh, 3)));
  const std::string message = read_error(path);
  EXPECT_NE(message.find("checkpoint " + path.string() + ": dense_1/kernel:0 has shape (5, 4), the model needs (5, 3)"),
            std::string::npos)
      << message;
}

TEST_F(CheckpointTest, BadModelSpecJsonIsNamed) {
  const fs::path path = dir_ / "json.h5";
  write_checkpoint(path, make_checkpoint(spec_, 4));
  rewrite_string_attr(path, "mpitrain", "model_spec", "{\"input_shape\": [7], \"layers\": [{\"type\": \"conv9\"}]}");
  const std::string message = read_error(path);
  EXPECT_NE(message.find("checkpoint " + path.string() + ": attribute model_spec of /mpitrain: "), std::string::npos)
      << message;
  EXPECT_NE(message.find("conv9"), std::string::npos) << message;
}

TEST_F(CheckpointTest, StoresTheModelSpecAsJson) {
  const fs::path path = dir_ / "spec.h5";
  write_checkpoint(path, make_checkpoint(spec_, 4));
  FileHandle f = open_raw(path);
  detail::Group own(H5Gopen2(f.get(), "mpitrain", H5P_DEFAULT));
  const auto text = raw_fixed_strings(own.get(), "model_spec");
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(nn::parse_model_spec(text[0]), spec_);
  EXPECT_EQ(raw_fixed_strings(own.get(), "kind"), std::vector<std::string>{"checkpoint"});
}

TEST_F(CheckpointTest, WeightsFileHoldsNoOptimizerStateAndReadsBack) {
  Checkpoint c = make_checkpoint(spec_, 12);
  c.optimizer_state.clear();
  c.info.optimizer_name.clear();
  c.info.optimizer_iterations = 0;
  c.weights_only = true;
  const fs::path path = dir_ / "model.h5";
  write_checkpoint(path, c);
  expect_equal(read_checkpoint(path), c);
  FileHandle f = open_raw(path);
  EXPECT_EQ(H5Lexists(f.get(), "/mpitrain/optimizer", H5P_DEFAULT), 0);
  detail::Group own(H5Gopen2(f.get(), "mpitrain", H5P_DEFAULT));
  EXPECT_EQ(raw_fixed_strings(own.get(), "kind"), std::vector<std::string>{"weights"});
  // and a weights file cannot carry optimizer state
  c.optimizer_state = {{"m", c.parameters}};
  EXPECT_THROW(write_checkpoint(dir_ / "bad.h5", c), CheckpointError);
}

TEST_F(CheckpointTest, GzipCompressedFileReadsBackAndCarriesItsDerivation) {
  Checkpoint c = make_checkpoint(spec_, 21);
  c.weights_only = true;
  c.optimizer_state.clear();
  c.info.optimizer_name.clear();
  c.info.optimizer_iterations = 0;
  std::fill(c.parameters.begin(), c.parameters.begin() + 30, 0.0f);  // zeros compress
  c.info.derivation = "magnitude pruning (global) at 50% of the kernels";
  CheckpointView view = c.view();
  view.gzip_level = 9;
  const fs::path path = dir_ / "gzip.h5";
  write_checkpoint(path, view);
  const Checkpoint back = read_checkpoint(path);
  expect_equal(back, c);
  EXPECT_EQ(back.info.derivation, c.info.derivation);
  // Read with the raw C API: the kernel is chunked with the deflate filter (h5py's compression="gzip").
  FileHandle f = open_raw(path);
  Dataset kernel(H5Dopen2(f.get(), "/dense/dense/kernel:0", H5P_DEFAULT));
  detail::PropertyList dcpl(H5Dget_create_plist(kernel.get()));
  EXPECT_EQ(H5Pget_layout(dcpl.get()), H5D_CHUNKED);
  ASSERT_EQ(H5Pget_nfilters(dcpl.get()), 1);
  unsigned flags = 0;
  std::size_t cd_count = 1;
  unsigned level = 0;
  EXPECT_EQ(H5Pget_filter2(dcpl.get(), 0, &flags, &cd_count, &level, 0, nullptr, nullptr), H5Z_FILTER_DEFLATE);
  EXPECT_EQ(level, 9u);
  // An uncompressed file has no derivation attribute at all.
  c.info.derivation.clear();
  write_checkpoint(dir_ / "plain.h5", c);
  FileHandle plain = open_raw(dir_ / "plain.h5");
  detail::Group own(H5Gopen2(plain.get(), "mpitrain", H5P_DEFAULT));
  EXPECT_EQ(H5Aexists(own.get(), "derivation"), 0);
}

TEST_F(CheckpointTest, Int8WeightsAreStoredAsInt8WithScalesAndRefusedByTheReader) {
  Checkpoint c = make_checkpoint(spec_, 22);
  const nn::ParameterRegistry registry = nn::registry_of(spec_);
  const nn::ParameterInfo kernel = *registry.find("dense/kernel:0");  // (7, 5)
  std::vector<std::int8_t> q(static_cast<std::size_t>(kernel.size()));
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = static_cast<std::int8_t>(static_cast<int>(i * 9 % 255) - 127);
  const std::vector<float> scales = {0.5f, 0.25f, 1.0f, 2.0f, 0.125f};
  const std::vector<Int8TensorView> int8 = {{kernel.name, q, scales}};
  CheckpointView view = c.view();
  view.gzip_level = 6;
  const fs::path path = dir_ / "int8.h5";
  write_int8_weights(path, view, int8);
  FileHandle f = open_raw(path);
  Dataset values(H5Dopen2(f.get(), "/dense/dense/kernel:0", H5P_DEFAULT));
  Datatype type(H5Dget_type(values.get()));
  EXPECT_EQ(H5Tget_class(type.get()), H5T_INTEGER);
  EXPECT_EQ(H5Tget_size(type.get()), 1u);
  EXPECT_EQ(raw_shape(values.get()), (std::vector<hsize_t>{7, 5}));
  std::vector<std::int8_t> q_back(q.size());
  ASSERT_GE(H5Dread(values.get(), H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, q_back.data()), 0);
  EXPECT_EQ(q_back, q);
  Dataset scale(H5Dopen2(f.get(), "/dense/dense/kernel:0_scale", H5P_DEFAULT));
  std::vector<float> scales_back(5);
  ASSERT_GE(H5Dread(scale.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, scales_back.data()), 0);
  EXPECT_EQ(scales_back, scales);
  EXPECT_EQ(H5Lexists(f.get(), "/mpitrain/optimizer", H5P_DEFAULT), 0);
  EXPECT_NE(read_error(path).find("attribute kind of /mpitrain is 'weights_int8'"), std::string::npos)
      << read_error(path);
  // A tensor the model does not have, or one of the wrong size, is named.
  const std::vector<Int8TensorView> foreign = {{"dense_9/kernel:0", q, scales}};
  EXPECT_THROW(write_int8_weights(dir_ / "foreign.h5", view, foreign), CheckpointError);
  const std::vector<Int8TensorView> short_scales = {{kernel.name, q, std::span(scales).first(4)}};
  try {
    write_int8_weights(dir_ / "short.h5", view, short_scales);
    ADD_FAILURE() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("dense/kernel:0 has 35 values and 4 scales"), std::string::npos) << e.what();
  }
}

TEST_F(CheckpointTest, OptimizerStateIsFoundByName) {
  const Checkpoint c = make_checkpoint(spec_, 13);
  EXPECT_EQ(c.state("v").values, c.optimizer_state[1].values);
  try {
    static_cast<void>(c.state("velocity"));
    FAIL() << "no exception";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("'velocity'"), std::string::npos) << e.what();
  }
}

// A format-1 file (written by the build before format 2; tests/fixtures/checkpoint-v1/README.md) reads as
// the MLP its attributes describe, with the values the raw HDF5 API reads from the same datasets.
TEST_F(CheckpointTest, FormatOneFileStillReads) {
  const fs::path path = fs::path(MPITRAIN_TEST_DIR) / "fixtures/checkpoint-v1/checkpoint-00000003.h5";
  const Checkpoint c = read_checkpoint(path);
  EXPECT_EQ(c.format_version, 1);
  EXPECT_FALSE(c.weights_only);
  EXPECT_EQ(c.model, nn::mlp_spec(4, {5}, nn::ActivationKind::tanh, 3));
  EXPECT_TRUE(c.buffers.empty());
  EXPECT_EQ(c.info.optimizer_name, "adam");
  EXPECT_EQ(c.info.optimizer_iterations, 3);
  EXPECT_EQ(c.info.global_step, 3);
  ASSERT_EQ(c.optimizer_state.size(), 2u);
  EXPECT_EQ(c.optimizer_state[0].name, "m");
  EXPECT_EQ(c.optimizer_state[1].name, "v");
  EXPECT_EQ(c.info.scaler_method, "standardize");
  EXPECT_EQ(c.info.scaler_shift.size(), 4u);
  // Layout of nn::mlp_spec's registry: dense kernel 4x5, bias 5, dense_1 kernel 5x3, bias 3.
  ASSERT_EQ(c.parameters.size(), 4u * 5 + 5 + 5 * 3 + 3);
  FileHandle f = open_raw(path);
  const std::pair<const char*, std::size_t> tensors[] = {
      {"/dense/dense/kernel:0", 0}, {"/dense/dense/bias:0", 20}, {"/dense_1/dense_1/kernel:0", 25},
      {"/dense_1/dense_1/bias:0", 40}};
  for (const auto& [name, offset] : tensors) {
    Dataset d(H5Dopen2(f.get(), name, H5P_DEFAULT));
    ASSERT_GE(d.get(), 0) << name;
    std::vector<float> raw(static_cast<std::size_t>(H5Sget_simple_extent_npoints(Dataspace(H5Dget_space(d.get())).get())));
    ASSERT_GE(H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), 0);
    EXPECT_EQ(raw, std::vector<float>(c.parameters.begin() + static_cast<std::ptrdiff_t>(offset),
                                      c.parameters.begin() + static_cast<std::ptrdiff_t>(offset + raw.size())))
        << name;
  }
  // Written again, it becomes a format-2 file with the same contents.
  const fs::path again = dir_ / "v2.h5";
  write_checkpoint(again, c);
  Checkpoint back = read_checkpoint(again);
  EXPECT_EQ(back.format_version, 2);
  back.format_version = 1;
  expect_equal(back, c);
}

TEST_F(CheckpointTest, WrongOptimizerStateShapeIsNamed) {
  const fs::path path = dir_ / "state.h5";
  write_checkpoint(path, make_checkpoint(spec_, 6));
  {
    FileHandle f = open_raw(path, H5F_ACC_RDWR);
    ASSERT_GE(H5Ldelete(f.get(), "/mpitrain/optimizer/v/dense/bias:0", H5P_DEFAULT), 0);
    const hsize_t two = 2;
    Dataspace space(H5Screate_simple(1, &two, nullptr));
    Dataset d(H5Dcreate2(f.get(), "/mpitrain/optimizer/v/dense/bias:0", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                         H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_GE(d.get(), 0);
  }
  const std::string message = read_error(path);
  EXPECT_NE(message.find("optimizer state v of dense/bias:0 has shape (2,), the model needs (5,)"),
            std::string::npos)
      << message;
}

TEST_F(CheckpointTest, OtherFormatVersionIsNamed) {
  const fs::path path = dir_ / "future.h5";
  write_checkpoint(path, make_checkpoint(spec_, 8));
  {
    FileHandle f = open_raw(path, H5F_ACC_RDWR);
    detail::Group own(H5Gopen2(f.get(), "mpitrain", H5P_DEFAULT));
    ASSERT_TRUE(test::replace_int_attribute(own.get(), "format_version", H5T_STD_I32LE, 99));
  }
  const std::string message = read_error(path);
  EXPECT_NE(message.find("format_version is 99, this build reads versions 1 and 2"), std::string::npos) << message;
}


// A checkpoint written before the progress attributes existed reads as zeros; the attributes are where the
// header says, with h5py-readable types.
TEST_F(CheckpointTest, ProgressAttributesAreOptional) {
  const fs::path path = dir_ / "old.h5";
  const Checkpoint original = make_checkpoint(spec_, 3);
  write_checkpoint(path, original);
  {
    FileHandle f = open_raw(path, H5F_ACC_RDWR);
    detail::Group own(H5Gopen2(f.get(), "mpitrain", H5P_DEFAULT));
    double loss = 0.0;
    Attribute attr(H5Aopen(own.get(), "epoch_loss_sum", H5P_DEFAULT));
    ASSERT_GE(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &loss), 0);
    EXPECT_EQ(loss, original.info.progress.epoch_loss_sum);
    attr.close();
    for (const char* name : {"epoch_loss_sum", "epoch_correct", "epoch_samples", "epoch_penalty_sum",
                             "epoch_applied_steps", "epoch_skipped_steps", "skipped_steps", "consecutive_skipped_steps"}) {
      ASSERT_GE(H5Adelete(own.get(), name), 0) << name;
    }
  }
  const Checkpoint back = read_checkpoint(path);
  EXPECT_EQ(back.info.progress.epoch_loss_sum, 0.0);
  EXPECT_EQ(back.info.progress.epoch_samples, 0.0);
  EXPECT_EQ(back.info.progress.skipped_steps, 0);
  EXPECT_EQ(back.info.progress.consecutive_skipped_steps, 0);
  EXPECT_EQ(back.info.global_step, original.info.global_step);
}

// Format 2 stores any model spec, not only format 1's MLP chain: logits through a final tanh (which format 1
// refused) and a model without hidden activation round-trip, each tensor with its registry shape.
TEST_F(CheckpointTest, RoundTripsASpecFormatOneCouldNotStore) {
  nn::ModelSpec spec = spec_;
  spec.layers.push_back(nn::ActivationSpec{nn::ActivationKind::tanh});
  const Checkpoint c = make_checkpoint(spec, 21);
  const fs::path path = dir_ / "tanh_logits.h5";
  write_checkpoint(path, c);
  const Checkpoint back = read_checkpoint(path);
  expect_equal(back, c);
  EXPECT_EQ(back.format_version, 2);
  EXPECT_NE(back.model, spec_);
}

// A CNN (issue 14): its spec and every tensor round-trip; the convolution kernels are stored in Keras's
// layout (kh, kw, C_in, C_out), element (i, j, c, o) at the registry offset + ((i·kw + j)·C_in + c)·C_out + o,
// read back with the raw HDF5 API; only the layers with tensors are in layer_names, a bias-free convolution
// has its kernel alone.
TEST_F(CheckpointTest, RoundTripsACnnInKerasLayout) {
  const nn::ModelSpec spec = nn::parse_model_spec(R"({"input_shape": [8, 8, 1], "layers": [
      {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
      {"type": "max_pool2d", "pool_size": 2},
      {"type": "conv2d", "filters": 3, "kernel_size": [2, 3], "strides": 2, "use_bias": false},
      {"type": "avg_pool2d", "pool_size": 1}, {"type": "flatten"}, {"type": "dense", "units": 5}]})");
  const Checkpoint c = make_checkpoint(spec, 31);
  const fs::path path = dir_ / "cnn.h5";
  write_checkpoint(path, c);
  expect_equal(read_checkpoint(path), c);

  FileHandle f = open_raw(path);
  EXPECT_EQ(raw_fixed_strings(f.get(), "layer_names"), (std::vector<std::string>{"conv2d", "conv2d_1", "dense"}));
  detail::Group g(H5Gopen2(f.get(), "conv2d_1", H5P_DEFAULT));
  EXPECT_EQ(raw_fixed_strings(g.get(), "weight_names"), std::vector<std::string>{"conv2d_1/kernel:0"});
  Dataset kernel(H5Dopen2(g.get(), "conv2d_1/kernel:0", H5P_DEFAULT));
  ASSERT_GE(kernel.get(), 0);
  EXPECT_EQ(raw_shape(kernel.get()), (std::vector<hsize_t>{2, 3, 4, 3}));
  std::vector<float> k(2 * 3 * 4 * 3);
  ASSERT_GE(H5Dread(kernel.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, k.data()), 0);
  const std::size_t offset = 3 * 3 * 1 * 4 + 4;  // after conv2d's kernel and bias
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      for (std::size_t ci = 0; ci < 4; ++ci) {
        for (std::size_t o = 0; o < 3; ++o) {
          ASSERT_EQ(k[((i * 3 + j) * 4 + ci) * 3 + o], c.parameters[offset + ((i * 3 + j) * 4 + ci) * 3 + o]);
        }
      }
    }
  }
  Dataset first(H5Dopen2(f.get(), "/conv2d/conv2d/kernel:0", H5P_DEFAULT));
  EXPECT_EQ(raw_shape(first.get()), (std::vector<hsize_t>{3, 3, 1, 4}));
  Dataset dense(H5Dopen2(f.get(), "/dense/dense/kernel:0", H5P_DEFAULT));
  EXPECT_EQ(raw_shape(dense.get()), (std::vector<hsize_t>{2 * 1 * 3, 5}));  // (4 - 2) / 2 + 1 rows, (4 - 3) / 2 + 1 column
}

// A file whose convolution kernel does not have the model's shape is refused, naming the tensor and both
// shapes: the stored spec now says kernel 5 × 5 (with `same` padding nothing else changes shape).
TEST_F(CheckpointTest, WrongConvKernelShapeNamesTheTensorAndBothShapes) {
  const auto cnn = [](int kernel) {
    return nn::parse_model_spec(R"({"input_shape": [6, 6, 2], "layers": [{"type": "conv2d", "filters": 4, "kernel_size": )" +
                                std::to_string(kernel) + R"(, "padding": "same"}, {"type": "global_avg_pool2d"}]})");
  };
  const fs::path path = dir_ / "conv.h5";
  write_checkpoint(path, make_checkpoint(cnn(3), 4));
  rewrite_string_attr(path, "mpitrain", "model_spec", nn::to_json_text(cnn(5)));
  const std::string message = read_error(path);
  EXPECT_NE(message.find("checkpoint " + path.string() + ": conv2d/kernel:0 has shape (3, 3, 2, 4), the model needs (5, 5, 2, 4)"),
            std::string::npos)
      << message;
}

// A resume needs the same model, the same optimizer and its states by name; a weights file cannot resume.
class ResumableTest : public ::testing::Test {
 protected:
  nn::ModelSpec spec_ = nn::mlp_spec(7, {5, 4}, nn::ActivationKind::tanh, 3);
  Checkpoint ckpt_ = make_checkpoint(spec_, 5);
  fs::path path_ = "run/checkpoint-00004247.h5";

  std::string error(const ResumeTarget& target) const {
    try {
      check_resumable(ckpt_, path_, target);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  }
  ResumeTarget adam() const { return {spec_, "adam", {"v", "m"}, ckpt_.info.trajectory}; }
};

TEST_F(ResumableTest, TheSameRunResumes) { EXPECT_EQ(error(adam()), "no error"); }

TEST_F(ResumableTest, AMissingOptimizerStateIsNamed) {
  ckpt_.optimizer_state.pop_back();  // no "v"
  const std::string e = error(adam());
  EXPECT_NE(e.find("checkpoint run/checkpoint-00004247.h5 has no optimizer state 'v', which adam needs"),
            std::string::npos) << e;
}

TEST_F(ResumableTest, AnExtraOptimizerStateIsNamed) {
  ckpt_.optimizer_state.push_back({"velocity", ckpt_.parameters});
  const std::string e = error(adam());
  EXPECT_NE(e.find("has an optimizer state 'velocity' that adam does not have"), std::string::npos) << e;
}

TEST_F(ResumableTest, AnotherModelOrOptimizerIsRefused) {
  const nn::ModelSpec wider = nn::mlp_spec(7, {6, 4}, nn::ActivationKind::tanh, 3);
  const ResumeTarget other_model{wider, "adam", {"m", "v"}, ckpt_.info.trajectory};
  EXPECT_NE(error(other_model).find("holds another model than the config"), std::string::npos) << error(other_model);
  const ResumeTarget other_optimizer{spec_, "sgd", {}, ckpt_.info.trajectory};
  EXPECT_NE(error(other_optimizer).find("holds adam state, the config asks for sgd"), std::string::npos)
      << error(other_optimizer);
}

TEST_F(ResumableTest, AWeightsFileIsRefused) {
  ckpt_.weights_only = true;
  EXPECT_NE(error(adam()).find("is a weights file"), std::string::npos) << error(adam());
}

// A checkpoint written before a config key existed lacks it in its trajectory: the key's default matches,
// another value is a difference named as such.
TEST_F(ResumableTest, AKeyNewerThanTheCheckpointMatchesItsDefault) {
  config::Config now;
  const std::string ours = trajectory_config(now, 128, 2);
  const std::string line = "data.augment = none\n";
  const auto at = ours.find(line);
  ASSERT_NE(at, std::string::npos) << ours;
  ckpt_.info.trajectory = std::string(ours).erase(at, line.size());  // as an older build wrote it
  EXPECT_EQ(error({spec_, "adam", {"m", "v"}, ours}), "no error");
  now.data.augment = "flip_horizontal";
  const std::string e = error({spec_, "adam", {"m", "v"}, trajectory_config(now, 128, 2)});
  EXPECT_NE(e.find("data.augment = (unset) in the checkpoint, flip_horizontal now"), std::string::npos) << e;
}

TEST_F(ResumableTest, AnotherTrajectoryNamesTheKey) {
  ResumeTarget other = adam();
  other.trajectory = "optim.name = adam\ntrain.seed = 9\n";
  EXPECT_NE(error(other).find("train.seed = (unset) in the checkpoint, 9 now"), std::string::npos) << error(other);
}

}  // namespace
}  // namespace mpitrain::checkpoint
