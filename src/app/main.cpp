// mpitrain: data-parallel MLP training under MPI. Dispatches to the subcommands.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <exception>

#include "app/commands.hpp"
#include "mpitrain/base/logging.hpp"

namespace {
constexpr const char* usage =
    "usage: mpirun -np N mpitrain <command> [options]\n"
    "commands:\n"
    "  train     --config FILE [--section.key=value ...]   train a model\n"
    "  predict   --checkpoint FILE --input FILE --output FILE.csv   class probabilities\n"
    "  evaluate  --checkpoint FILE --data FILE [--labels FILE]      loss, accuracy, confusion matrix\n"
    "  diagnose  --checkpoint FILE --data FILE --output DIR        calibration, per-class metrics, pruning\n"
    "  explain   --checkpoint FILE --data FILE --method M --output DIR   attributions, feature importance\n"
    "  generate  --checkpoint FILE --prompt TEXT --tokens N [...]   bytes sampled from a language model\n"
    "Run 'mpitrain <command> --help' for a command's options.\n";
}  // namespace

int main(int argc, char** argv) {
  using namespace mpitrain;
  // A file-size limit (ulimit -f) then makes a write fail with EFBIG, reported with the file's name, instead
  // of killing the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  dist::Environment environment(argc, argv);
  int code = base::exit_error;
  {
    dist::Communicator comm(MPI_COMM_WORLD);  // the app owns the world; library code gets this communicator
    base::setup_logging(comm.rank(), "info");
    const std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
    const std::string command = argc > 1 ? argv[1] : "";
    try {
      if (command == "train") {
        code = app::train_command(args, comm);
      } else if (command == "predict") {
        code = app::predict_command(args, comm);
      } else if (command == "evaluate") {
        code = app::evaluate_command(args, comm);
      } else if (command == "diagnose") {
        code = app::diagnose_command(args, comm);
      } else if (command == "explain") {
        code = app::explain_command(args, comm);
      } else if (command == "generate") {
        code = app::generate_command(args, comm);
      } else if (command == "--help" || command == "-h" || command == "help") {
        if (comm.rank() == 0) std::fputs(usage, stdout);
        code = base::exit_ok;
      } else {
        if (comm.rank() == 0) {
          std::fprintf(stderr, "mpitrain: %s\n%s",
                       command.empty() ? "no command given" : ("unknown command '" + command + "'").c_str(), usage);
        }
        code = base::exit_usage;
      }
    } catch (const std::exception& e) {
      // An error on one rank only, past the agreed checks: the others may be waiting in a collective,
      // so bring the whole job down now rather than hang.
      spdlog::error("fatal: {}; aborting all ranks", e.what());
      spdlog::default_logger()->flush();
      comm.abort(base::exit_error);
    }
  }
  return code;
}
