#pragma once
/// @file stop_signal.hpp
/// Preemption: SIGTERM, SIGINT and SIGUSR1 set a flag (async-signal-safe) that the training loop reads at
/// each step boundary; the ranks then agree (allreduce max), rank 0 writes a checkpoint, and every rank
/// exits with base::exit_preempted (base/exit_codes.hpp). The train command installs the handlers first
/// thing, so a signal during the config checks or the data loading is not fatal either:
/// agree_on_stop_signal before the first step finds it, and every rank exits with base::exit_preempted
/// without a checkpoint (nothing was trained).
/// A signal is process-wide state, so this is the one global of the project.

#include "mpitrain/dist/communicator.hpp"

namespace mpitrain::guard {

/// Installs the handlers for SIGTERM, SIGINT and SIGUSR1 (sigaction, SA_RESTART). Idempotent.
void install_stop_handlers();

/// The signal number received since install_stop_handlers (0: none).
int stop_signal_received();

/// Whether any rank has received a stop signal: the largest signal number over the ranks (0: none).
/// Collective (one allreduce of an int). @throws dist::MpiError.
int agree_on_stop_signal(const dist::Communicator& comm);

/// The name of stop signal @p signal: "SIGTERM", "SIGINT", "SIGUSR1" (another number: "a signal").
const char* signal_name(int signal);

/// Clears the flag (tests).
void clear_stop_signal();

}  // namespace mpitrain::guard
