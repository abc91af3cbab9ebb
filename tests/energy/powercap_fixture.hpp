#pragma once
// Helpers for tests on the fake powercap trees in tests/fixtures/powercap/.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace mpitrain::test {

// Temporary files and folders removed when the test program exits.
struct RemoveAtExit {
  std::vector<std::filesystem::path> paths;
  ~RemoveAtExit() {
    std::error_code ec;
    for (const auto& p : paths) std::filesystem::remove_all(p, ec);
  }
};
inline RemoveAtExit remove_at_exit;

// Copies tests/fixtures/powercap/<name> to a fresh temporary folder named after @p tag and returns it.
inline std::filesystem::path copy_powercap_fixture(const std::string& name, const std::string& tag) {
  const auto source = std::filesystem::path(MPITRAIN_TEST_DIR) / "fixtures" / "powercap" / name;
  const auto target = std::filesystem::temp_directory_path() /
                      ("mpitrain_powercap_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(target);
  std::filesystem::copy(source, target, std::filesystem::copy_options::recursive);
  remove_at_exit.paths.push_back(target);
  return target;
}

// Sets a zone's counter (µJ), atomically (write then rename) so that a concurrent reader never sees a
// partial value.
inline void set_energy_uj(const std::filesystem::path& root, const std::string& zone, std::uint64_t value) {
  const auto file = root / zone / "energy_uj";
  const auto tmp = root / zone / "energy_uj.tmp";
  std::ofstream(tmp) << value << '\n';
  std::filesystem::rename(tmp, file);
}

// Reads a zone's counter (µJ).
inline std::uint64_t energy_uj(const std::filesystem::path& root, const std::string& zone) {
  std::uint64_t value = 0;
  std::ifstream(root / zone / "energy_uj") >> value;
  return value;
}

// Advances a zone's counter by @p delta µJ (no wraparound).
inline void add_energy_uj(const std::filesystem::path& root, const std::string& zone, std::uint64_t delta) {
  set_energy_uj(root, zone, energy_uj(root, zone) + delta);
}

}  // namespace mpitrain::test
