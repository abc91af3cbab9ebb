#pragma once
/// @file stop_signal.hpp
/// Preemption: SIGTERM, SIGINT and SIGUSR1 set a flag (async-signal-safe) that the training loop reads at
/// each step boundary; the ranks then agree (allreduce max), rank 0 writes a checkpoint, and every rank
/// exits with exit_preempted. A signal is process-wide state, so this is the one global of the project.

namespace mpitrain::guard {

/// Exit code of a run stopped by a signal after its checkpoint was written (EX_TEMPFAIL, sysexits.h:
/// "try again later"): resume with `--checkpoint.resume=auto`.
inline constexpr int exit_preempted = 75;

/// Installs the handlers for SIGTERM, SIGINT and SIGUSR1 (sigaction, SA_RESTART). Idempotent.
void install_stop_handlers();

/// The signal number received since install_stop_handlers (0: none).
int stop_signal_received();

/// Clears the flag (tests).
void clear_stop_signal();

}  // namespace mpitrain::guard
