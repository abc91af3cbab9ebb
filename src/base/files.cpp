#include "mpitrain/base/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace mpitrain::base {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& file, int error) {
  throw FileError("cannot " + what + " " + file + ": " + errno_text(error), error);
}

// fsync of a file or directory; EINVAL (a file system that cannot sync directories) is not an error.
void sync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail("open (to sync it)", path.string(), errno);
  const int status = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (status != 0 && error != EINVAL) fail("sync", path.string(), error);
}

// Writes all of @p text to @p fd; returns 0 or the errno of the failed write.
int write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "host";
  return name;
}

}  // namespace

std::string errno_text(int error_number) {
  return std::string(std::strerror(error_number)) + " (errno " + std::to_string(error_number) + ")";
}

std::filesystem::path temporary_path(const std::filesystem::path& path) {
  static std::atomic<unsigned long long> counter{0};
  static const std::string host = host_name();
  std::filesystem::path tmp = path;
  tmp += "." + host + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".tmp";
  return tmp;
}

void write_atomically(const std::filesystem::path& path,
                      const std::function<void(const std::filesystem::path& temporary)>& writer,
                      Durability durability) {
  const std::filesystem::path tmp = temporary_path(path);
  try {
    writer(tmp);
    if (durability == Durability::synced) sync_path(tmp, O_RDONLY);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      const int error = errno;
      throw FileError("cannot rename " + tmp.string() + " to " + path.string() + ": " + errno_text(error), error);
    }
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
  if (durability == Durability::synced) {
    sync_path(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."), O_RDONLY | O_DIRECTORY);
  }
}

void write_text_atomically(const std::filesystem::path& path, std::string_view text, Durability durability) {
  write_atomically(
      path,
      [&](const std::filesystem::path& tmp) {
        const std::string what = path.string() + " (through the temporary " + tmp.filename().string() + ")";
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) fail("create", what, errno);
        const int error = write_all(fd, text);
        const int closed = ::close(fd) == 0 ? 0 : errno;  // NFS reports a failed write at close
        if (error != 0 || closed != 0) fail("write", what, error != 0 ? error : closed);
      },
      durability);
}

void append_text(const std::filesystem::path& path, std::string_view text) {
  bool created = true;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) fail("open", path.string(), errno);
  struct stat before {};
  if (::fstat(fd, &before) != 0) {
    const int error = errno;
    ::close(fd);
    fail("stat", path.string(), error);
  }
  int error = write_all(fd, text);
  if (::close(fd) != 0 && error == 0) error = errno;  // NFS reports a failed write at close
  if (error == 0) return;
  // Undo the partial line: the file this call created goes away, an existing one gets its old size back.
  if (created) {
    ::unlink(path.c_str());
  } else if (::truncate(path.c_str(), before.st_size) != 0) {
    // The partial line stays; the append's errno is still the cause to report.
  }
  fail("append to", path.string(), error);
}

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec) && !ec;  // device and inode
}

}  // namespace mpitrain::base
