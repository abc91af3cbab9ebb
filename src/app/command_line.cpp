#include <iostream>
#include <stdexcept>

#include "app/commands.hpp"
#include "mpitrain/config/config.hpp"

namespace mpitrain::app {

namespace po = boost::program_options;

std::optional<int> parse_command_line(const std::string& command, const std::vector<std::string>& args,
                                      const po::options_description& desc,
                                      std::initializer_list<const char*> required, po::variables_map& vm,
                                      const dist::Communicator& comm) {
  const int code = agreed(comm, exit_usage, [&] {
    for (const auto& a : args) config::check_no_option_placeholders(a, command + ": argument '" + a + "'");
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help") != 0) return;
    for (const char* key : required) {
      if (vm.count(key) == 0) throw std::invalid_argument(command + ": --" + key + " is required");
    }
  });
  if (code != exit_ok) return code;
  if (vm.count("help") != 0) {
    if (comm.rank() == 0) std::cout << desc << '\n';
    return exit_ok;
  }
  return std::nullopt;
}

}  // namespace mpitrain::app
