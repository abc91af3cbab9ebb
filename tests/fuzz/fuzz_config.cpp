// libFuzzer target of the config parser: config::load_config (INI file plus command-line overrides) and
// config::parse_config_text.
//
// Input: INI text, optionally followed by a line `%%` and then one override token per line (e.g.
// `--train.epochs=3`, or `--train.epochs` and `3` on two lines). The INI part is written to a file for
// load_config(file, overrides) and given to parse_config_text(text) on its own.
//
// Oracle: to_ini's documented contract: the INI text of a Config that loaded must parse back (no
// ConfigError) to a Config whose INI text is the same. ConfigError is the only expected exception.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "mpitrain/config/config.hpp"

namespace {

using mpitrain::config::Config;
using mpitrain::config::ConfigError;
using mpitrain::fuzz::fuzz_bug;
using mpitrain::fuzz::fuzz_check;

constexpr std::string_view separator = "\n%%\n";

std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    out.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

void check_round_trip(const Config& config) {
  const std::string ini = mpitrain::config::to_ini(config);
  try {
    const Config again = mpitrain::config::parse_config_text(ini, "to_ini output");
    fuzz_check(mpitrain::config::to_ini(again) == ini, "to_ini -> parse_config_text -> to_ini changed:\n" + ini);
  } catch (const ConfigError& error) {
    fuzz_bug(std::string("to_ini output does not parse back: ") + error.what() + "\n" + ini);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mpitrain::fuzz::ScratchFile file("config", ".ini");
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = input.find(separator);
  const std::string_view ini = input.substr(0, cut);
  const std::vector<std::string> overrides =
      cut == std::string_view::npos ? std::vector<std::string>{} : lines(input.substr(cut + separator.size()));
  file.write(ini);
  try {
    check_round_trip(mpitrain::config::load_config(file.path(), overrides));
  } catch (const ConfigError&) {
  }
  try {
    check_round_trip(mpitrain::config::parse_config_text(std::string(ini), "fuzz input"));
  } catch (const ConfigError&) {
  }
  return 0;
}
