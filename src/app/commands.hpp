#pragma once
// The subcommands of the mpitrain executable. Each returns the process exit code (base/exit_codes.hpp).

#include <boost/program_options.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "mpitrain/base/exit_codes.hpp"
#include "mpitrain/dist/communicator.hpp"

namespace mpitrain::app {

int train_command(const std::vector<std::string>& args, const dist::Communicator& comm);
int predict_command(const std::vector<std::string>& args, const dist::Communicator& comm);
int evaluate_command(const std::vector<std::string>& args, const dist::Communicator& comm);
int diagnose_command(const std::vector<std::string>& args, const dist::Communicator& comm);
int explain_command(const std::vector<std::string>& args, const dist::Communicator& comm);
int generate_command(const std::vector<std::string>& args, const dist::Communicator& comm);

/// Runs @p fn under dist::run_agreed; on failure logs the agreed message once (rank 0) and returns
/// @p code on every rank, else returns 0.
template <class F>
int agreed(const dist::Communicator& comm, int code, F&& fn);

/// Parses the arguments of @p command into @p vm on every rank alike: %name% tokens that
/// Boost.Program_options cannot report are refused, and a missing or empty one of @p required is a usage
/// error. Without @p unrecognized, an option not in @p desc or a token that is no option is a usage error
/// too (predict, evaluate); with it, they are not parsed here but collected into *@p unrecognized in their
/// order, as given (po::collect_unrecognized), for a later parser (train's `--section.key=value` overrides).
/// @return std::nullopt to go on; otherwise the exit code every rank returns now: base::exit_usage after an
/// error (logged once), base::exit_ok after `--help` (@p desc printed by rank 0).
std::optional<int> parse_command_line(const std::string& command, const std::vector<std::string>& args,
                                      const boost::program_options::options_description& desc,
                                      std::initializer_list<const char*> required,
                                      boost::program_options::variables_map& vm, const dist::Communicator& comm,
                                      std::vector<std::string>* unrecognized = nullptr);

/// Refuses (base::exit_usage on every rank, the reason logged once) when the file that option @p output names
/// is the same file, by device and inode, as the file of any option in @p inputs that is set: an output
/// must never overwrite a command's own checkpoint or data. Checked by rank 0, which writes the output.
/// @return base::exit_ok (0) to go on, else base::exit_usage.
int refuse_output_over_inputs(const std::string& command, const boost::program_options::variables_map& vm,
                              const char* output, std::initializer_list<const char*> inputs,
                              const dist::Communicator& comm);

}  // namespace mpitrain::app

#include <spdlog/spdlog.h>

namespace mpitrain::app {
template <class F>
int agreed(const dist::Communicator& comm, int code, F&& fn) {
  try {
    dist::run_agreed(comm, std::forward<F>(fn));
  } catch (const dist::AgreedError& e) {
    if (comm.rank() == 0) {
      spdlog::error("{}{}", e.what(),
                    comm.size() > 1 ? " (on rank " + std::to_string(e.failing_rank()) + ")" : std::string());
    }
    return code;
  }
  return base::exit_ok;
}
}  // namespace mpitrain::app
