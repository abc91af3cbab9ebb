#include "fuzz_common.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <system_error>

namespace mpitrain::fuzz {

namespace {

std::filesystem::path scratch_directory() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec)) return "/dev/shm";
  return std::filesystem::temp_directory_path();
}

}  // namespace

ScratchFile::ScratchFile(std::string_view tag, std::string_view suffix)
    : path_(scratch_directory() /
            ("mpitrain-fuzz-" + std::string(tag) + "-" + std::to_string(::getpid()) + std::string(suffix))) {}

ScratchFile::~ScratchFile() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void ScratchFile::write(std::span<const std::uint8_t> bytes) const {
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fuzz_bug("cannot write the scratch file " + path_.string());
}

void ScratchFile::write(std::string_view text) const {
  write(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

void fuzz_bug(const std::string& what) {
  std::fprintf(stderr, "fuzz bug: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace mpitrain::fuzz
