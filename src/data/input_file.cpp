#include "data/input_file.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>

#include "mpitrain/data/dataset.hpp"

namespace mpitrain::data::detail {

namespace {
constexpr std::size_t input_block = std::size_t{1} << 18;  // compressed bytes read at a time
}  // namespace

InputFile::InputFile(const std::filesystem::path& path) : name_(path.string()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw DataError(name_ + ": no such file (or not a regular file)");
  file_.reset(std::fopen(name_.c_str(), "rb"));
  if (!file_) throw DataError(name_ + ": cannot open for reading: " + std::strerror(errno));
  file_size_ = std::filesystem::file_size(path, ec);
  if (ec) throw DataError(name_ + ": cannot get the file size: " + ec.message());
  std::array<unsigned char, 2> magic{};
  const std::size_t got = std::fread(magic.data(), 1, magic.size(), file_.get());
  gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (!gzip_) {
    if (std::fseek(file_.get(), 0, SEEK_SET) != 0) throw DataError(name_ + ": cannot seek: " + std::strerror(errno));
    return;
  }
  input_.resize(input_block);
  std::copy(magic.begin(), magic.end(), input_.begin());
  consumed_ = 2;
  stream_.next_in = input_.data();
  stream_.avail_in = 2;
  if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) throw DataError(name_ + ": cannot initialise zlib");
  stream_open_ = true;
}

InputFile::~InputFile() {
  if (stream_open_) inflateEnd(&stream_);
}

bool InputFile::refill() {
  const std::size_t got = std::fread(input_.data(), 1, input_.size(), file_.get());
  if (std::ferror(file_.get()) != 0) throw DataError(name_ + ": read error: " + std::strerror(errno));
  consumed_ += got;
  stream_.next_in = input_.data();
  stream_.avail_in = static_cast<uInt>(got);
  return got > 0;
}

std::size_t InputFile::inflate_some(unsigned char* out, std::size_t size) {
  stream_.next_out = out;
  stream_.avail_out = static_cast<uInt>(std::min<std::size_t>(size, UINT_MAX));
  const uInt wanted = stream_.avail_out;
  while (stream_.avail_out > 0) {
    if (member_done_) {
      if (stream_.avail_in == 0 && !refill()) break;  // the last member ended with the file
      if (stream_.next_in[0] != 0x1f) {  // not another member (whose header inflate checks in full)
        const std::uint64_t end = consumed_ - stream_.avail_in;
        throw DataError(name_ + ": " + std::to_string(file_size_ - end) + " trailing bytes after the gzip stream " +
                        "(it ends at byte " + std::to_string(end) + " of " + std::to_string(file_size_) + ")");
      }
      inflateReset(&stream_);
      member_done_ = false;
    }
    if (stream_.avail_in == 0 && !refill()) {
      throw DataError(name_ + ": truncated gzip stream (the file ends at byte " + std::to_string(file_size_) +
                      " inside compressed data)");
    }
    const int code = inflate(&stream_, Z_NO_FLUSH);
    if (code == Z_STREAM_END) {
      member_done_ = true;
    } else if (code != Z_OK && !(code == Z_BUF_ERROR && stream_.avail_in == 0)) {
      throw DataError(name_ + ": corrupt gzip data near compressed byte " +
                      std::to_string(consumed_ - stream_.avail_in) + ": " +
                      (stream_.msg != nullptr ? stream_.msg : zError(code)));
    }
  }
  return wanted - stream_.avail_out;
}

std::size_t InputFile::read(void* out, std::size_t size) {
  auto* bytes = static_cast<unsigned char*>(out);
  std::size_t done = 0;
  while (done < size) {
    std::size_t got = 0;
    if (gzip_) {
      got = inflate_some(bytes + done, size - done);
    } else {
      got = std::fread(bytes + done, 1, size - done, file_.get());
      if (std::ferror(file_.get()) != 0) throw DataError(name_ + ": read error: " + std::strerror(errno));
    }
    if (got == 0) break;
    done += got;
  }
  position_ += done;
  return done;
}

std::uint64_t InputFile::skip(std::uint64_t bytes) {
  if (!gzip_) {
    bytes = std::min(bytes, file_size_ - std::min(position_, file_size_));
    if (fseeko(file_.get(), static_cast<off_t>(position_ + bytes), SEEK_SET) != 0) {
      throw DataError(name_ + ": cannot seek to byte " + std::to_string(position_ + bytes) + ": " +
                      std::strerror(errno));
    }
    position_ += bytes;
    return bytes;
  }
  std::vector<unsigned char> scratch(static_cast<std::size_t>(std::min<std::uint64_t>(bytes, input_block)));
  std::uint64_t done = 0;
  while (done < bytes) {
    const std::size_t got = read(scratch.data(), static_cast<std::size_t>(std::min<std::uint64_t>(bytes - done, scratch.size())));
    if (got == 0) break;
    done += got;
  }
  return done;
}

}  // namespace mpitrain::data::detail
