// Regression tests of the bugs found with the fuzz harnesses (tests/fuzz, launch/fuzz) in the config parser
// and the checkpoint reader: one by the fuzzer itself, the others by the harnesses' oracles on inputs
// written by hand. Each test builds the offending input here; the fuzz inputs are the seeds
// tests/fuzz/corpus/<target>/regression-*.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mpitrain/config/config.hpp"
#include "mpitrain/nn/parameters.hpp"
#include "mpitrain/checkpoint/checkpoint.hpp"
#include "checkpoint/hdf5.hpp"
#include "common/hdf5_edit.hpp"

namespace mpitrain {
namespace {

namespace fs = std::filesystem;

// --- config: to_ini must write every config that loads so that it reads back the same -----------------

fs::path write_ini(const std::string& text) {
  const fs::path path = fs::temp_directory_path() / ("mpitrain_fuzzreg_" + std::to_string(::getpid()) + ".ini");
  std::ofstream(path) << text;
  return path;
}

const std::string csv_ini = "[data]\nformat = csv\ntrain_csv = train.csv\n";

std::string override_error(const std::string& token) {
  try {
    config::load_config(write_ini(csv_ini), {token});
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

// Found with fuzz_config's round-trip oracle: `--data.test_csv= y` loaded as " y", to_ini wrote "test_csv =  y", which reads back
// as "y"; `a#b` read back as "a" (the INI reader cuts comments at '#'). config.ini and the checkpoint's
// config then named another file than the run used.
TEST(FuzzRegressionConfig, OverrideThatIniCannotHoldIsRejectedNamingTheKey) {
  for (const std::string token : {"--data.test_csv= y", "--data.test_csv=y ", "--data.test_csv=a#b",
                                  "--data.test_csv=a\nb", "--checkpoint.dir=runs\r", "--log.level=\tinfo"}) {
    const std::string error = override_error(token);
    EXPECT_NE(error.find("must not contain '#' or a line break"), std::string::npos) << token << ": " << error;
    const std::string key = token.substr(2, token.find('=') - 2);
    EXPECT_NE(error.find("config key " + key), std::string::npos) << error;
  }
}

TEST(FuzzRegressionConfig, LegalStringValuesSurviveToIni) {
  const config::Config c = config::load_config(
      write_ini(csv_ini), {"--data.test_csv=my data/a=b [1];x.csv", "--checkpoint.dir=runs/x y", "--data.label_column="});
  const config::Config again = config::parse_config_text(config::to_ini(c), "round trip");
  EXPECT_EQ(again.data.test_csv, "my data/a=b [1];x.csv");
  EXPECT_EQ(again.checkpoint.dir, "runs/x y");
  EXPECT_EQ(again.data.label_column, "");
  EXPECT_EQ(config::to_ini(again), config::to_ini(c));
}

// Found by the fuzzer (fuzz_config, a 20 s timeout): Boost.Program_options 1.74 formats an error by replacing
// %option%, %value%, ... until none is left, so the unknown key `fo%original_token%rmat` or the bad value
// `%value%` made ConfigError's construction loop forever. (Before the fix this test hangs; ctest's TIMEOUT
// fails it.)
TEST(FuzzRegressionConfig, BoostPlaceholderInKeyOrValueIsAnErrorNotAHang) {
  const fs::path path = write_ini("[data]\nfo%original_token%rmat = csv\n");
  try {
    config::load_config(path, {});
    ADD_FAILURE() << "no error";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ": line 2: '%original_token%' is not allowed"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NE(override_error("--train.epochs=%value%").find("'%value%' is not allowed"), std::string::npos);
  EXPECT_NE(override_error("--x%canonical_option%=1").find("'%canonical_option%' is not allowed"),
            std::string::npos);
  // Found again by fuzz_config in CI: a malformed line is reported through %invalid_line%, so the line itself
  // must not contain it; any %name% token is refused, whichever placeholders a Boost version has.
  const fs::path bad_line = write_ini("[train]\nbad line %invalid_line% here\n");
  try {
    config::load_config(bad_line, {});
    ADD_FAILURE() << "no error";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(": line 2: '%invalid_line%' is not allowed"), std::string::npos) << e.what();
  }
  EXPECT_NE(override_error("--train.epochs=%some_future_token%").find("'%some_future_token%' is not allowed"),
            std::string::npos);
  // A lone '%' is fine (e.g. in a file name), and so is a '%' pair around anything but letters/underscores.
  EXPECT_EQ(config::load_config(write_ini(csv_ini), {"--data.test_csv=50%-100%.csv"}).data.test_csv, "50%-100%.csv");
  EXPECT_EQ(config::load_config(write_ini(csv_ini), {"--data.test_csv=100%.csv"}).data.test_csv, "100%.csv");
}

// --- checkpoint: sizes read from a file must neither overflow nor allocate what the file does not hold ---

// Found with fuzz_checkpoint (UBSan, edit mode): `inputs` = 2^62 made ParameterRegistry::add compute 2^62 × 2 in int64 (UB).
TEST(FuzzRegressionRegistry, ElementCountOverflowIsAnError) {
  nn::ParameterRegistry registry;
  const auto zeros = nn::InitRule::zeros();
  EXPECT_THROW(registry.add("dense", "dense/kernel:0", {std::int64_t{1} << 62, 2}, zeros, true), std::invalid_argument);
  registry.add("dense", "dense/kernel:0", {std::int64_t{1} << 62, 1}, zeros, true);  // 2^62 elements: fits
  EXPECT_EQ(registry.total(), std::int64_t{1} << 62);
  registry.add("dense", "dense/bias:0", {std::int64_t{1} << 61}, zeros, false);  // total 2^62 + 2^61: fits
  EXPECT_THROW(registry.add("dense_1", "dense_1/kernel:0", {std::int64_t{1} << 61, 1}, zeros, true),  // 2^63: not
               std::invalid_argument);
  EXPECT_EQ(registry.entries().size(), 2u);
}

class FuzzRegressionCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("mpitrain_fuzzreg_" + std::to_string(::getpid()) + ".h5");
    checkpoint::Checkpoint c;
    c.model = nn::mlp_spec(3, {}, nn::ActivationKind::relu, 2);
    c.parameters = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f, 0.125f, -0.0625f};  // kernel 3 × 2, bias 2
    c.info.optimizer_name = "sgd";
    c.info.scaler_method = "none";
    checkpoint::write_checkpoint(path_, c);
    written_ = c;
  }
  void TearDown() override { fs::remove(path_); }

  std::string read_error() const {
    try {
      checkpoint::read_checkpoint(path_);
    } catch (const checkpoint::CheckpointError& e) {
      return e.what();
    }
    return "no error";
  }

  // Rewrites the input size of /mpitrain's model_spec (the file's softmax regression: one Dense of 2 units).
  // The finding was on format 1's int64 attribute `inputs`; format 2 holds the same number in the JSON.
  void set_inputs(std::int64_t value) const {
    const std::string spec = R"({"input_shape": [)" + std::to_string(value) +
                             R"(], "layers": [{"type": "dense", "units": 2}]})";
    const checkpoint::detail::FileHandle file(H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    const checkpoint::detail::Group own(H5Gopen2(file.get(), "mpitrain", H5P_DEFAULT));
    ASSERT_TRUE(test::replace_string_attribute(own.get(), "model_spec", spec));
  }

  // Replaces /dense/dense/kernel:0 by a float32 dataset of @p dims, written with @p values unless empty,
  // deflate-compressed in chunks if @p compress.
  void replace_kernel(std::vector<hsize_t> dims, const std::vector<float>& values, bool compress) const {
    const checkpoint::detail::FileHandle file(H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    ASSERT_GE(H5Ldelete(file.get(), "dense/dense/kernel:0", H5P_DEFAULT), 0);
    const checkpoint::detail::Dataspace space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    const checkpoint::detail::PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE));
    if (compress) {
      ASSERT_GE(H5Pset_chunk(dcpl.get(), static_cast<int>(dims.size()), dims.data()), 0);
      ASSERT_GE(H5Pset_deflate(dcpl.get(), 9), 0);
    }
    const checkpoint::detail::Dataset dataset(H5Dcreate2(file.get(), "dense/dense/kernel:0", H5T_IEEE_F32LE,
                                                    space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
    ASSERT_GE(dataset.get(), 0);
    if (!values.empty()) {
      ASSERT_GE(H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    }
  }

  fs::path path_;
  checkpoint::Checkpoint written_;
};

TEST_F(FuzzRegressionCheckpoint, InputsThatOverflowTheParameterCountAreAnInvalidModelSpec) {
  set_inputs(std::int64_t{1} << 62);  // kernel 2^62 × 2 elements
  const std::string error = read_error();
  EXPECT_NE(error.find("invalid model spec"), std::string::npos) << error;
  EXPECT_NE(error.find("overflow"), std::string::npos) << error;
}

// Found with fuzz_checkpoint (libFuzzer's 2 GB malloc limit, edit mode): `inputs` = 2^30 and a (2^30, 2) kernel created but never written (HDF5
// stores nothing and reads fill values) made a 6 KB file allocate and fill 8 GB. Here 2^26: 512 MB if the
// check were missing.
TEST_F(FuzzRegressionCheckpoint, DatasetWhoseValuesAreNotStoredIsRejectedBeforeAllocating) {
  constexpr hsize_t inputs = hsize_t{1} << 26;
  set_inputs(static_cast<std::int64_t>(inputs));
  replace_kernel({inputs, 2}, {}, false);
  const std::string error = read_error();
  EXPECT_NE(error.find("dense/kernel:0 stores 0 bytes in the file but its shape needs " +
                       std::to_string(inputs * 2 * 4)),
            std::string::npos)
      << error;
}

// The storage check must still accept a legitimately compressed dataset (h5repack -f GZIP, h5py
// compression="gzip"): here the same kernel values, chunked and deflated.
TEST_F(FuzzRegressionCheckpoint, CompressedDatasetIsStillRead) {
  const std::vector<float> kernel(written_.parameters.begin(), written_.parameters.begin() + 6);
  replace_kernel({3, 2}, kernel, true);
  const checkpoint::Checkpoint back = checkpoint::read_checkpoint(path_);
  EXPECT_EQ(back.parameters, written_.parameters);
}

}  // namespace
}  // namespace mpitrain
