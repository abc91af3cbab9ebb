#pragma once
/// @file fault_injection.hpp
/// Fault injection for tests of failure handling. The environment variable MPITRAIN_FAULT holds a
/// comma-separated list of `KIND@RANK:STEP` (STEP is the 0-based global step), for example
/// `MPITRAIN_FAULT=throw@1:5,nan@0:9`. Kinds:
///   throw   the rank throws std::runtime_error at the start of the step
///   abort   the rank calls std::abort()
///   nan     the rank's loss and gradients for that step become NaN
///   hang    the rank sleeps forever at the start of the step (the watchdog must end the job)
///   sigterm the rank raises SIGTERM (preemption at a known step)
///   kill    the rank sends itself SIGKILL (kill -9)
///   desync  the rank perturbs one of its parameters after the step (replicas diverge)
///   kill_in_checkpoint  SIGKILL while writing the checkpoint after that step: the temporary file is
///           complete but not yet renamed
/// Unset: no faults. The app reads it once (FaultPlan::from_environment) and passes the plan to the
/// trainer; nothing reads it as a global.

#include <cstdint>
#include <string>
#include <vector>

namespace mpitrain::guard {

/// What to inject.
enum class FaultKind { none, throw_error, abort, nan, hang, sigterm, kill, kill_in_checkpoint, desync };

/// One planned fault.
struct Fault {
  FaultKind kind = FaultKind::none;
  int rank = 0;
  std::int64_t step = 0;
};

/// Parses a MPITRAIN_FAULT value. @throws std::invalid_argument naming the bad item.
std::vector<Fault> parse_faults(const std::string& text);

/// The faults planned for a run; empty (no fault) by default.
class FaultPlan {
 public:
  FaultPlan() = default;
  explicit FaultPlan(std::vector<Fault> faults) : faults_(std::move(faults)) {}
  /// The plan in MPITRAIN_FAULT (empty when unset). @throws std::invalid_argument naming a bad item.
  static FaultPlan from_environment();

  /// At the start of step @p step on rank @p rank: performs throw, abort, hang, sigterm or kill when
  /// planned, and returns FaultKind::nan or FaultKind::desync when the caller must act (else none).
  /// @throws std::runtime_error for a planned `throw`.
  FaultKind at_step(int rank, std::int64_t step) const;
  /// Inside the checkpoint writer, after the temporary file is complete and before the rename:
  /// SIGKILLs the process when `kill_in_checkpoint` is planned for (rank, step).
  void in_checkpoint(int rank, std::int64_t step) const;
  /// Whether any fault is planned.
  [[nodiscard]] bool empty() const { return faults_.empty(); }

 private:
  FaultKind lookup(int rank, std::int64_t step, bool checkpoint) const;
  std::vector<Fault> faults_;
};

}  // namespace mpitrain::guard
