#include "mpitrain/base/step_phase.hpp"

namespace mpitrain::base {

const char* to_string(StepPhase phase) {
  switch (phase) {
    case StepPhase::step: return "step";
    case StepPhase::data: return "data";
    case StepPhase::forward: return "forward";
    case StepPhase::backward: return "backward";
    case StepPhase::allreduce_wait: return "allreduce_wait";
    case StepPhase::agreement: return "agreement";
    case StepPhase::optimizer: return "optimizer";
    case StepPhase::checkpoint: return "checkpoint";
    case StepPhase::evaluation: return "evaluation";
    case StepPhase::allreduce: return "allreduce";
    case StepPhase::idle: return "idle";
  }
  return "?";
}

const char* describe(StepPhase phase) {
  switch (phase) {
    case StepPhase::data: return "data gathering";
    case StepPhase::allreduce_wait:
    case StepPhase::allreduce: return "gradient allreduce";
    case StepPhase::optimizer: return "optimizer step";
    case StepPhase::agreement: return "step agreement (collective)";
    default: return to_string(phase);
  }
}

}  // namespace mpitrain::base
