// Writes the valid seed checkpoints of fuzz_checkpoint into a directory, with the current writer so that
// they follow the current format: launch/fuzz runs it before fuzzing (the seeds are not committed).
// Usage: fuzz_checkpoint_seeds DIR
#include <cstdio>
#include <exception>
#include <filesystem>

#include "checkpoint_edits.hpp"
#include "mpitrain/train/checkpoint.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    // Adam with moments and a standardize scaler: inputs 3, hidden {2}, classes 2 (about 13 KB).
    mpitrain::train::Checkpoint adam = mpitrain::fuzz::template_checkpoint();
    mpitrain::train::write_checkpoint(dir / "valid-adam.h5", adam);
    // SGD without state, no hidden layer, no scaler values.
    mpitrain::train::Checkpoint sgd = adam;
    sgd.architecture.hidden.clear();
    sgd.parameters.resize(3 * 2 + 2);
    sgd.optimizer_name = "sgd";
    sgd.optimizer_iterations = 0;
    sgd.optimizer_state_names.clear();
    sgd.optimizer_state.clear();
    sgd.scaler_method = "none";
    sgd.scaler_shift.clear();
    sgd.scaler_scale.clear();
    mpitrain::train::write_checkpoint(dir / "valid-sgd.h5", sgd);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "fuzz_checkpoint_seeds: %s\n", error.what());
    return 1;
  }
  return 0;
}
