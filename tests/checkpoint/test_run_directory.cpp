// The run directory: one run at a time (RunLock, also against another process and after a kill -9),
// which checkpoint a session resumes from (resolve_resume, newest_valid_checkpoint: an I/O error is not an
// invalid checkpoint), and which checkpoints pruning may remove (prune_checkpoints: the current lineage
// only; an abandoned branch only with prune_newer). Expected sets are worked out by hand per scenario.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "mpitrain/checkpoint/checkpoint.hpp"
#include "mpitrain/checkpoint/checkpoint_store.hpp"
#include "mpitrain/checkpoint/lineage.hpp"
#include "mpitrain/checkpoint/resume.hpp"
#include "mpitrain/checkpoint/run_lock.hpp"
#include "mpitrain/nn/model.hpp"
#include "data/file_fixture.hpp"

namespace mpitrain::checkpoint {
namespace {

namespace fs = std::filesystem;

// A small valid checkpoint at @p step written by the last session of @p lineage.
Checkpoint tiny(std::int64_t step, const Lineage& lineage) {
  Checkpoint c;
  c.model = nn::mlp_spec(2, {}, nn::ActivationKind::relu, 2);
  c.parameters.assign(static_cast<std::size_t>(nn::registry_of(c.model).total()), 0.25f * static_cast<float>(step));
  c.info.optimizer_name = "sgd";
  c.info.global_step = step;
  c.info.lineage = lineage.text();
  return c;
}

std::set<std::string> checkpoint_names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& p : list_checkpoints(dir)) names.insert(p.filename().string());
  return names;
}

std::string name(std::int64_t step) { return checkpoint_path("", step).filename().string(); }

// Holds an exclusive flock on a file, as HDF5 does for a file open for writing in another process.
class HeldFile {
 public:
  explicit HeldFile(const fs::path& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::flock(fd_, LOCK_EX | LOCK_NB), 0);
  }
  HeldFile(const HeldFile&) = delete;
  HeldFile& operator=(const HeldFile&) = delete;
  ~HeldFile() { ::close(fd_); }

 private:
  int fd_;
};

class RunDirectoryTest : public data::test::FileFixture {  // a fresh directory dir_ per test
 protected:
  void SetUp() override {
    FileFixture::SetUp();
    ::unsetenv("HDF5_USE_FILE_LOCKING");  // HDF5 locks files it opens (shared for reading), as by default
  }

  void write_at(std::int64_t step, const Lineage& lineage) { write_checkpoint(checkpoint_path(dir_, step), tiny(step, lineage)); }

  Lineage a_ = Lineage::fresh("run-a");
};

TEST_F(RunDirectoryTest, ASecondLockIsRefusedNamingTheHolderAndReleasedWithTheFirst) {
  {
    RunLock first(dir_);
    try {
      RunLock second(dir_);
      FAIL() << "a second lock was granted";
    } catch (const RunDirectoryBusy& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(dir_.string()), std::string::npos) << what;
      EXPECT_NE(what.find("pid " + std::to_string(::getpid()) + " started "), std::string::npos) << what;
      EXPECT_NE(what.find("host "), std::string::npos) << what;
    }
  }
  EXPECT_NO_THROW(RunLock again(dir_));
}

TEST_F(RunDirectoryTest, ALockHeldByAKilledProcessIsNeverStale) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RunLock held(dir_);
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    for (;;) ::pause();  // until killed
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  try {
    RunLock refused(dir_);
    ADD_FAILURE() << "granted while another process holds it";
  } catch (const RunDirectoryBusy& e) {
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(child) + " "), std::string::npos) << e.what();
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_NO_THROW(RunLock after(dir_));  // the kernel released it: no stale lock to clean up
}

TEST_F(RunDirectoryTest, WriteCheckpointLeavesAnotherWritersTemporaryAlone) {
  // The temporary name of the old code: a second run writing the same checkpoint used it too.
  const fs::path path = checkpoint_path(dir_, 6);
  fs::path theirs = path;
  theirs += ".tmp";
  std::ofstream(theirs) << "another writer's half-written file";
  write_checkpoint(path, tiny(6, a_));
  EXPECT_EQ(read_checkpoint(path).info.global_step, 6);
  std::ifstream in(theirs);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "another writer's half-written file");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 2);  // nothing else left
}

TEST_F(RunDirectoryTest, NewestValidSkipsACorruptFileButStopsOnAnIoError) {
  write_at(6, a_);
  write_at(12, a_);
  std::ofstream(checkpoint_path(dir_, 18)) << "not an HDF5 file";
  EXPECT_EQ(newest_valid_checkpoint(dir_), checkpoint_path(dir_, 12));  // 18 is invalid: skipped
  const HeldFile held(checkpoint_path(dir_, 12));
  try {
    newest_valid_checkpoint(dir_);
    FAIL() << "a locked checkpoint was skipped";
  } catch (const CheckpointIoError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.error_number(), EWOULDBLOCK) << what;
    EXPECT_NE(what.find(checkpoint_path(dir_, 12).string()), std::string::npos) << what;
    EXPECT_NE(what.find("errno = " + std::to_string(EWOULDBLOCK)), std::string::npos) << what;
  }
}

TEST_F(RunDirectoryTest, MissingFileIsAnIoErrorAndGarbageIsAFormatError) {
  try {
    read_checkpoint(dir_ / "missing.h5");
    FAIL();
  } catch (const CheckpointIoError& e) {
    EXPECT_EQ(e.error_number(), ENOENT);
  }
  std::ofstream(dir_ / "garbage.h5") << "plain text";
  try {
    read_checkpoint(dir_ / "garbage.h5");
    FAIL();
  } catch (const CheckpointIoError& e) {
    FAIL() << "garbage is not an I/O error: " << e.what();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("not a readable HDF5 checkpoint"), std::string::npos) << e.what();
  }
}

TEST_F(RunDirectoryTest, IdentityAndLineageReadBack) {
  const Lineage b = a_.resumed("run-a-2", 6);
  write_at(9, b);
  const CheckpointIdentity id = read_checkpoint_identity(checkpoint_path(dir_, 9));
  EXPECT_EQ(id.global_step, 9);
  EXPECT_EQ(Lineage::parse(id.lineage), b);
  EXPECT_EQ(read_checkpoint(checkpoint_path(dir_, 9)).info.lineage, "run-a@0,run-a-2@6");
}

TEST_F(RunDirectoryTest, PruningKeepsTheNewestOfTheLineageOnly) {
  // A wrote 5, 10, 15, 20; B resumed from A's 10 and wrote 12 and 14; X is another run; 1 is garbage.
  for (int s : {5, 10, 15, 20}) write_at(s, a_);
  const Lineage b = a_.resumed("run-b", 10);
  write_at(12, b);
  write_at(14, b);
  const Lineage x = Lineage::fresh("run-x");
  write_at(3, x);
  std::ofstream(checkpoint_path(dir_, 1)) << "garbage";

  // B's lineage is A's 5 and 10, then B's 12 and 14: keep 2 removes 5 and 10 only.
  const auto removed = prune_checkpoints(dir_, {b, 2, std::nullopt});
  EXPECT_EQ(removed, (std::vector<fs::path>{checkpoint_path(dir_, 5), checkpoint_path(dir_, 10)}));
  EXPECT_EQ(checkpoint_names(dir_), (std::set<std::string>{name(1), name(3), name(12), name(14), name(15), name(20)}));

  // keep = 0 and no prune_newer: nothing at all.
  EXPECT_TRUE(prune_checkpoints(dir_, {b, 0, std::nullopt}).empty());

  // prune_newer from step 10: A's 15 and 20 (same run, newer than the resume point, off the lineage) go;
  // the other run's 3 and the garbage stay.
  EXPECT_EQ(prune_checkpoints(dir_, {b, 0, 10}),
            (std::vector<fs::path>{checkpoint_path(dir_, 15), checkpoint_path(dir_, 20)}));
  EXPECT_EQ(checkpoint_names(dir_), (std::set<std::string>{name(1), name(3), name(12), name(14)}));
}

TEST_F(RunDirectoryTest, PruningLeavesAFileItCannotReadAlone) {
  for (int s : {5, 10, 15}) write_at(s, a_);
  const HeldFile held(checkpoint_path(dir_, 5));
  EXPECT_EQ(prune_checkpoints(dir_, {a_, 1, std::nullopt}), (std::vector<fs::path>{checkpoint_path(dir_, 10)}));
  EXPECT_EQ(checkpoint_names(dir_), (std::set<std::string>{name(5), name(15)}));
}

TEST_F(RunDirectoryTest, AFreshRunRefusesADirectoryWithCheckpoints) {
  config::CheckpointConfig c;
  EXPECT_EQ(resolve_resume(c, dir_), std::nullopt);
  write_at(4, a_);
  EXPECT_THROW(resolve_resume(c, dir_), std::runtime_error);
  c.resume = "auto";
  EXPECT_EQ(resolve_resume(c, dir_), checkpoint_path(dir_, 4));
}

TEST_F(RunDirectoryTest, AResumeFromAFileRefusesAnotherRunsDirectory) {
  const fs::path elsewhere = dir_ / "elsewhere";
  const fs::path run = dir_ / "run";
  fs::create_directories(elsewhere);
  fs::create_directories(run);
  const fs::path file = elsewhere / "checkpoint-00000008.h5";
  write_checkpoint(file, tiny(8, Lineage::fresh("run-y")));
  config::CheckpointConfig c;
  c.resume = file.string();
  EXPECT_EQ(resolve_resume(c, run), file);  // an empty run directory
  write_checkpoint(checkpoint_path(run, 4), tiny(4, a_));
  try {
    resolve_resume(c, run);
    FAIL() << "resumed into another run's directory";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("another run"), std::string::npos) << what;
    EXPECT_NE(what.find(name(4)), std::string::npos) << what;
  }
  // The same run's checkpoint, copied elsewhere, may continue it there.
  write_checkpoint(file, tiny(8, a_));
  EXPECT_EQ(resolve_resume(c, run), file);
}

TEST_F(RunDirectoryTest, AResumeFromAnOlderCheckpointNeedsPruneNewer) {
  for (int s : {6, 12, 18, 24}) write_at(s, a_);
  config::CheckpointConfig c;
  c.resume = checkpoint_path(dir_, 12).string();
  try {
    resolve_resume(c, dir_);
    FAIL() << "a branch beside newer checkpoints was accepted";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(name(18) + ", " + name(24)), std::string::npos) << what;
    EXPECT_NE(what.find("--checkpoint.prune_newer=true"), std::string::npos) << what;
  }
  c.prune_newer = true;
  EXPECT_EQ(resolve_resume(c, dir_), checkpoint_path(dir_, 12));
  c.resume = checkpoint_path(dir_, 24).string();  // the newest: no branch
  c.prune_newer = false;
  EXPECT_EQ(resolve_resume(c, dir_), checkpoint_path(dir_, 24));
  EXPECT_EQ(checkpoint_names(dir_).size(), 4u);  // resolving never removes anything
}

}  // namespace
}  // namespace mpitrain::checkpoint
