#include "mpitrain/telemetry/gnuplot.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace mpitrain::telemetry {

namespace {

/// A script file in the temporary directory, removed when it goes out of scope.
class ScriptFile {
 public:
  ScriptFile(std::string_view script, const std::string& what) {
    path_ = (std::filesystem::temp_directory_path() / "mpitrain-gnuplot-XXXXXX").string();
    const int fd = ::mkstemp(path_.data());
    if (fd < 0) throw std::runtime_error(what + ": cannot create a script file: " + std::strerror(errno));
    std::size_t done = 0;
    while (done < script.size()) {
      const ssize_t n = ::write(fd, script.data() + done, script.size() - done);
      if (n <= 0) {
        ::close(fd);
        std::filesystem::remove(path_);
        throw std::runtime_error(what + ": cannot write a script file " + path_);
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  ~ScriptFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  ScriptFile(const ScriptFile&) = delete;
  ScriptFile& operator=(const ScriptFile&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

void run_gnuplot(std::string_view script, const std::string& what) {
  const ScriptFile file(script, what);
  std::string quoted = "'";  // for /bin/sh: a quote inside becomes '\''
  for (const char c : file.path()) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  // /bin/sh reports a missing command as exit status 127.
  const int status = std::system(("gnuplot " + quoted + " </dev/null").c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
    throw std::runtime_error(what + ": gnuplot could not be run (is it installed? run launch/install-deps)");
  }
  if (WEXITSTATUS(status) != 0) {
    throw std::runtime_error(what + ": gnuplot failed with exit status " + std::to_string(WEXITSTATUS(status)) +
                             " (its messages are above)");
  }
}

std::string gnuplot_quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

}  // namespace mpitrain::telemetry
