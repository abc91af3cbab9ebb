#include "mpitrain/checkpoint/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>
#include <utility>

#include "mpitrain/base/files.hpp"

namespace mpitrain::checkpoint {

namespace {

std::string holder_record() {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char started[40];
  std::strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%S%z", &local);
  return std::string("host ") + (host[0] != '\0' ? host : "?") + " pid " + std::to_string(::getpid()) +
         " started " + started + "\n";
}

// What the holder wrote, without the line feed ("" if it has not written it yet).
std::string read_holder(int fd) {
  std::string text(512, '\0');
  const ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text;
}

}  // namespace

std::filesystem::path RunLock::lock_file(const std::filesystem::path& run_dir) { return run_dir / "run.lock"; }

RunLock::RunLock(const std::filesystem::path& run_dir) {
  const auto path = lock_file(run_dir);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int error = errno;
    throw base::FileError("cannot open the run directory's lock file " + path.string() + ": " +
                              base::errno_text(error),
                          error);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string holder = error == EWOULDBLOCK ? read_holder(fd) : "";
    ::close(fd);
    if (error != EWOULDBLOCK) {
      throw base::FileError("cannot lock the run directory's lock file " + path.string() + ": " +
                                base::errno_text(error),
                            error);
    }
    throw RunDirectoryBusy("run directory " + run_dir.string() + " is in use by another run (" +
                           (holder.empty() ? std::string("it has not recorded itself yet") : holder) +
                           ", lock file " + path.string() +
                           "): one run per run directory; wait for it to end, or choose another --checkpoint.dir");
  }
  fd_ = fd;
  // Only the holder writes here, and only now: a refused run reads the record of the run that holds the lock.
  const std::string record = holder_record();
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, record.data(), record.size(), 0) != static_cast<ssize_t>(record.size())) {
    // The lock is what matters; without the record a refused run names no holder.
  }
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor of the open file releases the flock
}

}  // namespace mpitrain::checkpoint
