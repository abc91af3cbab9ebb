#pragma once
/// @file exit_codes.hpp
/// The exit codes of the mpitrain executable (README, "Exit codes"), in one place. Every rank of a run
/// returns the same code, except exit_watchdog, which ends one process and lets mpirun end the others.

namespace mpitrain::base {

/// The command did what it was asked.
inline constexpr int exit_ok = 0;

/// A data, checkpoint or run-time error (agreed by every rank, or a rank that could not agree).
inline constexpr int exit_error = 1;

/// A usage or configuration error: bad command line, bad config key or value.
inline constexpr int exit_usage = 2;

/// A process ended by the watchdog (guard/watchdog.hpp) because one phase of a step took too long
/// (EX_SOFTWARE, sysexits.h: "internal software error").
inline constexpr int exit_watchdog = 70;

/// A run stopped by a signal after its checkpoint was written (EX_TEMPFAIL, sysexits.h: "try again
/// later"): resume with `--checkpoint.resume=auto` (guard/stop_signal.hpp, launch/slurm.sbatch).
inline constexpr int exit_preempted = 75;

}  // namespace mpitrain::base
