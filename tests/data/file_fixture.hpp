#pragma once
// Shared by the data readers' unit tests: a fresh directory per test with writers of plain and gzipped
// fixture files, big-endian header words, and a check that an action throws DataError with every given
// fragment in its message.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mpitrain/data/dataset.hpp"

namespace mpitrain::data::test {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

/// A test fixture owning a fresh temporary directory (removed after the test).
class FileFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("mpitrain_test_" + std::string(info->test_suite_name()) + "_" +
                                        info->name() + "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  /// Writes @p content to <dir>/@p name as is.
  fs::path write(const std::string& name, const std::string& content) const {
    const fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path;
  }
  fs::path write_plain(const std::string& name, const Bytes& bytes) const {
    return write(name, std::string(bytes.begin(), bytes.end()));
  }
  /// Writes @p bytes gzipped (zlib's gzip writer) to <dir>/@p name.
  fs::path write_gz(const std::string& name, const Bytes& bytes) const {
    const fs::path path = dir_ / name;
    gzFile file = gzopen(path.string().c_str(), "wb");
    EXPECT_NE(file, nullptr);
    EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    EXPECT_EQ(gzclose(file), Z_OK);
    return path;
  }

  fs::path dir_;
};

/// Appends @p value as 4 big-endian bytes (IDX header words).
inline void put_be32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

/// Expects @p action to throw DataError whose message contains every one of @p fragments.
template <typename F>
void expect_data_error(F&& action, const std::vector<std::string>& fragments) {
  try {
    action();
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& error) {
    const std::string message = error.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
    }
  }
}

}  // namespace mpitrain::data::test
