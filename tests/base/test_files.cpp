// base/files: atomic writes that leave nothing behind on failure, appends undone on a full disk (simulated
// with RLIMIT_FSIZE, which makes write() fail with EFBIG), temporary names unique to their writer, and
// same_file by device and inode.
#include "mpitrain/base/files.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/file_size_limit.hpp"
#include "data/file_fixture.hpp"

namespace mpitrain::base {
namespace {

namespace fs = std::filesystem;
using test_support::FileSizeLimit;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

using FilesTest = data::test::FileFixture;  // a fresh directory dir_ per test

TEST_F(FilesTest, WriteTextAtomicallyReplacesTheFileAndLeavesNoTemporary) {
  const fs::path path = dir_ / "out.json";
  write_text_atomically(path, "first\n", Durability::synced);
  write_text_atomically(path, "second, longer\n", Durability::renamed);
  EXPECT_EQ(read_all(path), "second, longer\n");
  EXPECT_EQ(names_in(dir_), std::set<std::string>{"out.json"});
}

TEST_F(FilesTest, AFailingWriterLeavesTheOldFileAndNoTemporary) {
  const fs::path path = dir_ / "summary.json";
  write_text_atomically(path, "old\n", Durability::synced);
  fs::path seen;
  EXPECT_THROW(write_atomically(
                   path,
                   [&](const fs::path& tmp) {
                     seen = tmp;
                     std::ofstream(tmp) << "half";
                     throw std::runtime_error("writer failed");
                   },
                   Durability::synced),
               std::runtime_error);
  EXPECT_EQ(seen.parent_path(), dir_);
  EXPECT_EQ(read_all(path), "old\n");
  EXPECT_EQ(names_in(dir_), std::set<std::string>{"summary.json"});
}

TEST_F(FilesTest, TemporaryNamesAreUniqueToTheWriter) {
  const fs::path path = dir_ / "checkpoint-00000010.h5";
  const fs::path a = temporary_path(path), b = temporary_path(path);
  EXPECT_NE(a, b);
  for (const auto& t : {a, b}) {
    EXPECT_EQ(t.parent_path(), dir_);
    EXPECT_TRUE(t.filename().string().starts_with("checkpoint-00000010.h5.")) << t;
    EXPECT_TRUE(t.filename().string().ends_with(".tmp")) << t;
    EXPECT_NE(t.filename().string().find("-" + std::to_string(::getpid()) + "-"), std::string::npos) << t;
  }
  // Another process (a second run's rank 0) gets another name for the same file.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string name = temporary_path(path).string();
    const ssize_t n = ::write(fds[1], name.data(), name.size());
    ::_exit(n == static_cast<ssize_t>(name.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string theirs(4096, '\0');
  const ssize_t n = ::read(fds[0], theirs.data(), theirs.size());
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_GT(n, 0);
  theirs.resize(static_cast<std::size_t>(n));
  EXPECT_NE(theirs, a.string());
  EXPECT_NE(theirs, b.string());
  EXPECT_NE(theirs.find("-" + std::to_string(child) + "-"), std::string::npos) << theirs;
}

TEST_F(FilesTest, AFullDiskNamesTheErrnoAndLeavesNeitherTemporaryNorEmptyFile) {
  const fs::path path = dir_ / "predictions.csv";
  const std::string text(5000, 'x');
  FileSizeLimit limit(1000);  // write() beyond 1000 bytes fails with EFBIG, as on a full disk with ENOSPC
  try {
    write_text_atomically(path, text, Durability::synced);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.error_number(), EFBIG);
    EXPECT_NE(std::string(e.what()).find("predictions.csv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(errno " + std::to_string(EFBIG) + ")"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(FilesTest, AFailedAppendRestoresTheFileOrRemovesTheOneItCreated) {
  const fs::path existing = dir_ / "emissions.csv";
  const std::string before = "header\nrow 1\n";
  std::ofstream(existing, std::ios::binary) << before;
  {
    FileSizeLimit limit(before.size() + 10);
    EXPECT_THROW(append_text(existing, std::string(100, 'y') + "\n"), FileError);
    try {
      append_text(dir_ / "new.csv", std::string(100, 'z'));
      FAIL() << "no error";
    } catch (const FileError& e) {
      EXPECT_EQ(e.error_number(), EFBIG);
    }
  }
  EXPECT_EQ(read_all(existing), before);  // the 10 bytes that fitted are cut away again
  EXPECT_FALSE(fs::exists(dir_ / "new.csv"));
  append_text(existing, "row 2\n");
  EXPECT_EQ(read_all(existing), before + "row 2\n");
}

TEST_F(FilesTest, SameFileComparesDeviceAndInode) {
  const fs::path a = dir_ / "model.h5", b = dir_ / "other.h5";
  std::ofstream(a) << "a";
  std::ofstream(b) << "a";
  fs::create_hard_link(a, dir_ / "hard.h5");
  fs::create_symlink(a, dir_ / "soft.h5");
  EXPECT_TRUE(same_file(a, a));
  EXPECT_TRUE(same_file(a, dir_ / "hard.h5"));
  EXPECT_TRUE(same_file(dir_ / "soft.h5", a));
  EXPECT_TRUE(same_file(dir_ / "." / "model.h5", a));
  EXPECT_FALSE(same_file(a, b));  // equal contents, another file
  EXPECT_FALSE(same_file(a, dir_ / "missing.h5"));
  EXPECT_FALSE(same_file(dir_ / "missing.h5", dir_ / "missing.h5"));
}

}  // namespace
}  // namespace mpitrain::base
