// libFuzzer target of train::read_checkpoint (HDF5).
//
// Input, two kinds, told apart by the HDF5 signature:
// - starting with the 8-byte HDF5 signature (89 'HDF' 0d 0a 1a 0a): the bytes are the checkpoint file
//   (raw mode). The seeds are valid checkpoints written by fuzz_checkpoint_seeds; as the file uses the
//   1.8 format, flipped metadata bytes mostly fail HDF5's checksums, and flipped data bytes reach the
//   reader's crc32 and shape checks.
// - anything else: a list of structure-aware edits (checkpoint_edits.hpp) applied through the HDF5 API to
//   a valid template checkpoint (edit mode), which keeps the file well-formed HDF5 while fuzzing what
//   the reader sees: attribute types and values, dataset shapes, types and storage, links.
//
// Oracle: CheckpointError (naming the file) is the only expected exception; no HDF5 object stays open
// after the reader returns; and a checkpoint that reads must write back and read again to the same values
// (what resume does).
#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "checkpoint_edits.hpp"
#include "fuzz_common.hpp"
#include "mpitrain/train/checkpoint.hpp"

namespace {

using mpitrain::fuzz::fuzz_bug;
using mpitrain::fuzz::fuzz_check;
using mpitrain::fuzz::ScratchFile;
using mpitrain::train::Checkpoint;
using mpitrain::train::CheckpointError;

constexpr std::uint8_t hdf5_signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

void check_consistent(const Checkpoint& c) {
  const auto total = static_cast<std::size_t>(mpitrain::nn::mlp_registry(c.architecture).total());
  fuzz_check(c.parameters.size() == total, "parameters differ in size from the architecture's registry");
  fuzz_check(c.optimizer_state.size() == c.optimizer_state_names.size(), "state buffers differ from state names");
  for (const auto& state : c.optimizer_state) fuzz_check(state.size() == total, "optimizer state of wrong size");
  fuzz_check(c.scaler_shift.size() == c.scaler_scale.size(), "scaler shift and scale differ in size");
  fuzz_check(c.scaler_shift.empty() || c.scaler_shift.size() == static_cast<std::size_t>(c.architecture.inputs),
             "scaler size is neither 0 nor the input count");
}

void check_equal(const Checkpoint& a, const Checkpoint& b) {
  fuzz_check(a.architecture == b.architecture, "round trip changed the architecture");
  fuzz_check(same_bytes(a.parameters, b.parameters), "round trip changed the parameters");
  fuzz_check(a.optimizer_name == b.optimizer_name && a.optimizer_iterations == b.optimizer_iterations &&
                 a.optimizer_state_names == b.optimizer_state_names,
             "round trip changed the optimizer");
  for (std::size_t i = 0; i < a.optimizer_state.size(); ++i) {
    fuzz_check(same_bytes(a.optimizer_state[i], b.optimizer_state[i]), "round trip changed an optimizer state");
  }
  fuzz_check(a.epoch == b.epoch && a.step_in_epoch == b.step_in_epoch && a.global_step == b.global_step,
             "round trip changed the position");
  fuzz_check(a.scaler_method == b.scaler_method && same_bytes(a.scaler_shift, b.scaler_shift) &&
                 same_bytes(a.scaler_scale, b.scaler_scale),
             "round trip changed the scaler");
  fuzz_check(a.config_ini == b.config_ini, "round trip changed the config");
}

void expect_named(const CheckpointError& error, const ScratchFile& file) {
  fuzz_check(std::string(error.what()).starts_with("checkpoint " + file.path().string() + ": "),
             std::string("CheckpointError does not name the file: ") + error.what());
}

void check_no_open_objects(const char* when) {
  const ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  fuzz_check(open == 0, std::to_string(open) + " HDF5 objects left open " + when);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ScratchFile file("checkpoint", ".h5");
  static const ScratchFile rewritten("checkpoint-rewritten", ".h5");
  static const ScratchFile template_file("checkpoint-template", ".h5");
  static const bool template_written = [] {
    mpitrain::train::write_checkpoint(template_file.path(), mpitrain::fuzz::template_checkpoint());
    return true;
  }();
  (void)template_written;

  if (size >= sizeof hdf5_signature && std::memcmp(data, hdf5_signature, sizeof hdf5_signature) == 0) {
    file.write(std::span(data, size));
  } else {
    std::filesystem::copy_file(template_file.path(), file.path(), std::filesystem::copy_options::overwrite_existing);
    FuzzedDataProvider input(data, size);
    mpitrain::fuzz::apply_checkpoint_edits(file.path(), input);
    check_no_open_objects("by the edits");
  }

  Checkpoint ckpt;
  try {
    ckpt = mpitrain::train::read_checkpoint(file.path());
  } catch (const CheckpointError& error) {
    expect_named(error, file);
    check_no_open_objects("after a rejected checkpoint");
    return 0;
  }
  check_no_open_objects("after reading a checkpoint");
  check_consistent(ckpt);
  try {
    mpitrain::train::write_checkpoint(rewritten.path(), ckpt);
    check_equal(ckpt, mpitrain::train::read_checkpoint(rewritten.path()));
  } catch (const CheckpointError& error) {
    fuzz_bug(std::string("a checkpoint that reads does not write back and read again: ") + error.what());
  }
  check_no_open_objects("after the round trip");
  return 0;
}
