#pragma once
/// @file files.hpp
/// Writing files so that a crash, a full disk or a second writer never leaves a half-written or foreign
/// file under the final name, and errors that name the file and the errno.

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mpitrain::base {

/// A file operation failed: what() names the operation, the file and the errno, e.g.
/// "cannot write out.csv: File too large (errno 27)". error_number() is the errno (0 if none).
class FileError : public std::runtime_error {
 public:
  FileError(const std::string& what, int error_number)
      : std::runtime_error(what), error_number_(error_number) {}
  [[nodiscard]] int error_number() const { return error_number_; }

 private:
  int error_number_;
};

/// "File too large (errno 27)": strerror and the number, for messages.
std::string errno_text(int error_number);

/// How far write_atomically goes to make the new file survive a crash.
enum class Durability {
  renamed,  ///< temporary file, then rename: a crash of the process leaves the old file or the new one
  synced,   ///< also fsync of the temporary before the rename and of the directory after it (power loss)
};

/// A temporary name beside @p path that no other writer uses: `<path>.<host>-<pid>-<n>.tmp`, where n
/// counts this process's temporaries. Two processes (also on two hosts sharing a file system) or two calls
/// never get the same name.
std::filesystem::path temporary_path(const std::filesystem::path& path);

/// Writes @p path atomically: @p writer fills the temporary file it is given (temporary_path(@p path)),
/// then, as @p durability asks, the temporary is synced, renamed over @p path, and the directory synced.
/// An existing file at @p path is replaced only by a complete new one; on any failure (the writer's
/// exception included) the temporary is removed and @p path is left as it was.
/// @throws FileError naming the file and the errno when syncing or renaming fails; whatever @p writer throws.
void write_atomically(const std::filesystem::path& path,
                      const std::function<void(const std::filesystem::path& temporary)>& writer,
                      Durability durability);

/// write_atomically with a writer that writes @p text (bytes as they are).
/// @throws FileError naming the temporary file and the errno when a write fails (e.g. ENOSPC, EFBIG).
void write_text_atomically(const std::filesystem::path& path, std::string_view text, Durability durability);

/// Appends @p text to @p path (created if missing) with one write per chunk; if a write fails, the file
/// is cut back to its previous size (a new file is removed), so a full disk leaves no partial line and no
/// empty file. @throws FileError naming the file and the errno.
void append_text(const std::filesystem::path& path, std::string_view text);

/// Whether @p a and @p b name the same file (same device and inode: hard links and symbolic links
/// included). False when either does not exist.
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace mpitrain::base
