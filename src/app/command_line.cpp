#include <iostream>
#include <stdexcept>

#include "app/commands.hpp"
#include "mpitrain/base/files.hpp"
#include "mpitrain/config/config.hpp"

namespace mpitrain::app {

namespace po = boost::program_options;

std::optional<int> parse_command_line(const std::string& command, const std::vector<std::string>& args,
                                      const po::options_description& desc,
                                      std::initializer_list<const char*> required, po::variables_map& vm,
                                      const dist::Communicator& comm, std::vector<std::string>* unrecognized) {
  const int code = agreed(comm, base::exit_usage, [&] {
    for (const auto& a : args) {
      // Only option names reach program_options' error messages; values (file names) may hold any text.
      if (a.starts_with("-")) {
        config::check_no_option_placeholders(a.substr(0, a.find('=')), command + ": option '" + a + "'");
      }
    }
    po::command_line_parser parser(args);
    parser.options(desc).style(config::command_line_style());  // no abbreviations (--conf for --config)
    if (unrecognized != nullptr) parser.allow_unregistered();
    const po::parsed_options parsed = parser.run();
    if (unrecognized != nullptr) {
      *unrecognized = po::collect_unrecognized(parsed.options, po::include_positional);
    } else {
      for (const auto& option : parsed.options) {
        if (option.position_key >= 0) {  // a token that is no option: program_options would drop it
          const std::string token = option.original_tokens.empty() ? std::string() : option.original_tokens.front();
          throw std::invalid_argument(command + ": unexpected argument '" + token + "'");
        }
      }
    }
    po::store(parsed, vm);
    po::notify(vm);
    if (vm.count("help") != 0) return;
    for (const char* key : required) {
      if (vm.count(key) == 0) throw std::invalid_argument(command + ": --" + key + " is required");
      if (vm[key].as<std::string>().empty()) throw std::invalid_argument(command + ": --" + key + " is empty");
    }
  });
  if (code != base::exit_ok) return code;
  if (vm.count("help") != 0) {
    if (comm.rank() == 0) std::cout << desc << '\n';
    return base::exit_ok;
  }
  return std::nullopt;
}

int refuse_output_over_inputs(const std::string& command, const po::variables_map& vm, const char* output,
                              std::initializer_list<const char*> inputs, const dist::Communicator& comm) {
  return agreed(comm, base::exit_usage, [&] {
    if (comm.rank() != 0 || vm.count(output) == 0) return;
    const std::string out = vm[output].as<std::string>();
    if (out.empty()) return;
    for (const char* key : inputs) {
      if (vm.count(key) == 0 || vm[key].as<std::string>().empty()) continue;
      if (base::same_file(out, vm[key].as<std::string>())) {
        throw std::invalid_argument(command + ": --" + output + " " + out + " is the same file as --" + key + " " +
                                    vm[key].as<std::string>() + "; it would be overwritten: choose another --" +
                                    output);
      }
    }
  });
}

}  // namespace mpitrain::app
