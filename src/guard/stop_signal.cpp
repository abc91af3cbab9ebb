#include "mpitrain/guard/stop_signal.hpp"

#include <csignal>
#include <initializer_list>

namespace mpitrain::guard {

namespace {
volatile std::sig_atomic_t received = 0;
extern "C" void on_stop_signal(int signal) { received = signal; }
}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaction(s, &action, nullptr);
}

int stop_signal_received() { return received; }

int agree_on_stop_signal(const dist::Communicator& comm) {
  return comm.allreduce(static_cast<int>(received), dist::ReduceOp::max);
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    default: return "a signal";
  }
}

void clear_stop_signal() { received = 0; }

}  // namespace mpitrain::guard
