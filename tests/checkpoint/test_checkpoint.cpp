// Checkpoint tests: exact round trips, the Keras 2 layout read back with the raw HDF5 C API, atomic
// replacement, and every kind of broken file the reader must reject with a CheckpointError.
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
#include "mpitrain/nn/model.hpp"
#include "checkpoint/hdf5.hpp"

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

// A checkpoint with every field set to a distinct value drawn from @p seed.
Checkpoint make_checkpoint(const nn::ModelSpec& spec, unsigned seed) {
  std::mt19937 gen(seed);
  const auto total = static_cast<std::size_t>(nn::registry_of(spec).total());
  Checkpoint c;
  c.architecture = spec;
  c.parameters = random_floats(gen, total);
  c.optimizer_name = "adam";
  c.optimizer_iterations = 1234 + seed;
  c.optimizer_state_names = {"m", "v"};
  c.optimizer_state = {random_floats(gen, total), random_floats(gen, total)};
  c.epoch = 3;
  c.step_in_epoch = 17;
  c.global_step = 4242 + seed;
  c.scaler_method = "standardize";
  c.scaler_shift = random_floats(gen, static_cast<std::size_t>(spec.input_shape.front()));
  c.scaler_scale = random_floats(gen, static_cast<std::size_t>(spec.input_shape.front()));
  c.config_ini = "[model]\nhidden = 5,4\n[train]\nseed = " + std::to_string(seed) + "\n";
  c.progress = {0.1 * seed + 1234.5678901234567, 300.0 + seed, 640.0, 0.25 / 3, 7, 2, 11 + seed, 1};
  return c;
}

void expect_equal(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.parameters, b.parameters);
  EXPECT_EQ(a.optimizer_name, b.optimizer_name);
  EXPECT_EQ(a.optimizer_iterations, b.optimizer_iterations);
  EXPECT_EQ(a.optimizer_state_names, b.optimizer_state_names);
  EXPECT_EQ(a.optimizer_state, b.optimizer_state);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.step_in_epoch, b.step_in_epoch);
  EXPECT_EQ(a.global_step, b.global_step);
  EXPECT_EQ(a.scaler_method, b.scaler_method);
  EXPECT_EQ(a.scaler_shift, b.scaler_shift);
  EXPECT_EQ(a.scaler_scale, b.scaler_scale);
  EXPECT_EQ(a.config_ini, b.config_ini);
  // Doubles bit for bit: the resumed epoch's metrics are sums continued from these.
  EXPECT_EQ(a.progress.epoch_loss_sum, b.progress.epoch_loss_sum);
  EXPECT_EQ(a.progress.epoch_correct, b.progress.epoch_correct);
  EXPECT_EQ(a.progress.epoch_samples, b.progress.epoch_samples);
  EXPECT_EQ(a.progress.epoch_penalty_sum, b.progress.epoch_penalty_sum);
  EXPECT_EQ(a.progress.epoch_applied_steps, b.progress.epoch_applied_steps);
  EXPECT_EQ(a.progress.epoch_skipped_steps, b.progress.epoch_skipped_steps);
  EXPECT_EQ(a.progress.skipped_steps, b.progress.skipped_steps);
  EXPECT_EQ(a.progress.consecutive_skipped_steps, b.progress.consecutive_skipped_steps);
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
  ASSERT_GE(H5Adelete(g.get(), name), 0);
  Datatype type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), value.size());
  Dataspace space(H5Screate(H5S_SCALAR));
  Attribute attr(H5Acreate2(g.get(), name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  ASSERT_GE(H5Awrite(attr.get(), type.get(), value.data()), 0);
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
  original.optimizer_name = "sgd";
  original.optimizer_state_names.clear();
  original.optimizer_state.clear();
  original.scaler_method = "none";
  original.scaler_shift.clear();
  original.scaler_scale.clear();
  original.config_ini.clear();
  const fs::path path = dir_ / "softmax.h5";
  write_checkpoint(path, original);
  const Checkpoint back = read_checkpoint(path);
  expect_equal(back, original);
  EXPECT_EQ(back.architecture, (nn::ModelSpec{{4}, {nn::DenseSpec{2}}}));

  FileHandle f = open_raw(path);
  EXPECT_EQ(raw_fixed_strings(f.get(), "layer_names"), std::vector<std::string>{"dense"});
  detail::Group own(H5Gopen2(f.get(), "mpitrain", H5P_DEFAULT));
  EXPECT_EQ(raw_fixed_strings(own.get(), "hidden"), std::vector<std::string>{""});
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

// Format 1 stores an MLP's attributes: another spec is refused with a clear error, and nothing is written.
TEST_F(CheckpointTest, FormatOneRefusesASpecThatIsNotAnMlp) {
  Checkpoint c = make_checkpoint(spec_, 3);
  c.architecture.layers.push_back(nn::ActivationSpec{nn::ActivationKind::tanh});  // logits through tanh
  const fs::path path = dir_ / "not_mlp.h5";
  try {
    write_checkpoint(path, c);
    FAIL() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint format 1 stores only an MLP"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(dir_ / "not_mlp.h5.tmp"));
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

TEST_F(CheckpointTest, ChangedArchitectureNamesTheLayerAndBothShapes) {
  const fs::path path = dir_ / "arch.h5";
  write_checkpoint(path, make_checkpoint(spec_, 4));
  rewrite_string_attr(path, "mpitrain", "hidden", "5,3");  // dense_1 is now 5 -> 3 instead of 5 -> 4
  const std::string message = read_error(path);
  EXPECT_NE(message.find("checkpoint " + path.string() +
                         ": dense_1/kernel:0 has shape (5, 4), the architecture needs (5, 3)"),
            std::string::npos)
      << message;
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
  EXPECT_NE(message.find("optimizer state v of dense/bias:0 has shape (2,), the architecture needs (5,)"),
            std::string::npos)
      << message;
}

TEST_F(CheckpointTest, OtherFormatVersionIsNamed) {
  const fs::path path = dir_ / "future.h5";
  write_checkpoint(path, make_checkpoint(spec_, 8));
  {
    FileHandle f = open_raw(path, H5F_ACC_RDWR);
    detail::Group own(H5Gopen2(f.get(), "mpitrain", H5P_DEFAULT));
    Attribute attr(H5Aopen(own.get(), "format_version", H5P_DEFAULT));
    const int version = 99;
    ASSERT_GE(H5Awrite(attr.get(), H5T_NATIVE_INT, &version), 0);
  }
  const std::string message = read_error(path);
  EXPECT_NE(message.find("format_version is 99, this build reads version 1"), std::string::npos) << message;
}

// A checkpoint written before the progress attributes existed (format 1 all the same) reads as zeros; the
// attributes are where the header says, with h5py-readable types.
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
    EXPECT_EQ(loss, original.progress.epoch_loss_sum);
    attr.close();
    for (const char* name : {"epoch_loss_sum", "epoch_correct", "epoch_samples", "epoch_penalty_sum",
                             "epoch_applied_steps", "epoch_skipped_steps", "skipped_steps", "consecutive_skipped_steps"}) {
      ASSERT_GE(H5Adelete(own.get(), name), 0) << name;
    }
  }
  const Checkpoint back = read_checkpoint(path);
  EXPECT_EQ(back.progress.epoch_loss_sum, 0.0);
  EXPECT_EQ(back.progress.epoch_samples, 0.0);
  EXPECT_EQ(back.progress.skipped_steps, 0);
  EXPECT_EQ(back.progress.consecutive_skipped_steps, 0);
  EXPECT_EQ(back.global_step, original.global_step);
}

}  // namespace
}  // namespace mpitrain::checkpoint
