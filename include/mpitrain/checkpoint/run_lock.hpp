#pragma once
/// @file run_lock.hpp
/// One run per run directory. Rank 0 of a training run holds an exclusive lock on its run directory
/// (checkpoint.dir) from before it writes anything there until the process ends, so that a second run
/// started into the same directory is refused at once instead of mixing its checkpoints, train.log and
/// config.ini with the first one's.

#include <filesystem>
#include <stdexcept>
#include <string>

namespace mpitrain::checkpoint {

/// Another process holds the run directory: what() names the directory and the holder (host, pid,
/// start time) as the holder recorded them.
class RunDirectoryBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Exclusive hold of a run directory for the lifetime of the object: flock(LOCK_EX | LOCK_NB) on
/// `<run_dir>/run.lock`. The kernel releases the lock when the process ends in any way (exit, crash,
/// kill -9), so a lock is never stale and nothing needs cleaning up; the file itself stays. The holder
/// writes `host <name> pid <pid> started <ISO 8601 local time>` into it for the message of a refused run.
/// On NFS, Linux implements flock with byte-range locks that the server arbitrates between hosts.
/// Movable, not copyable.
class RunLock {
 public:
  /// Takes the lock without waiting. @p run_dir must exist.
  /// @throws RunDirectoryBusy when another process (or another RunLock of this one) holds it;
  ///         base::FileError naming the lock file and the errno when it cannot be opened or locked.
  explicit RunLock(const std::filesystem::path& run_dir);
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  /// Releases the lock.
  ~RunLock();

  /// `<run_dir>/run.lock`.
  static std::filesystem::path lock_file(const std::filesystem::path& run_dir);

 private:
  int fd_ = -1;
};

}  // namespace mpitrain::checkpoint
