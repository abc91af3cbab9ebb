#include "mpitrain/data/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "mpitrain/data/dataset.hpp"

namespace mpitrain::data {

namespace {
// Closes the descriptor on every path out of the constructor; the mapping outlives it (POSIX keeps a
// mapping valid after close).
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) : name_(path.string()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw DataError(name_ + ": no such file (or not a regular file)");
  const Descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) throw DataError(name_ + ": cannot open for reading: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw DataError(name_ + ": cannot read its size: " + std::strerror(errno));
  if (st.st_size == 0) throw DataError(name_ + ": the file is empty");
  size_ = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, file.fd, 0);
  if (map == MAP_FAILED) throw DataError(name_ + ": mmap failed: " + std::strerror(errno));
  data_ = static_cast<const std::uint8_t*>(map);
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : name_(std::move(other.name_)), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    name_ = std::move(other.name_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace mpitrain::data
