#pragma once
/// @file step.hpp
/// One data-parallel training step as one unit, run by the trainer and by the allocation test alike:
/// gather this rank's slice of the global batch (rows of the data set, or windows of the text at the epoch's
/// offset, data/text_windows.hpp), then for each of its train.accumulate_steps micro-batches forward (batch
/// statistics summed over every rank) and loss, and backward adding into the gradients (the last
/// micro-batch's backward starts the reducer's allreduces: one reduction per step), wait for the summed
/// gradient, agree across ranks on stop requests and non-finite values, then average over the global
/// batch's target count (samples; tokens for a language model), add the L2 gradient,
/// clip by global norm (optim::GradientPostProcessor), set the optimizer's rate to the schedule's rate of the
/// global step, and apply the optimizer. A step that is not applied (a non-finite loss or gradient on any
/// rank) leaves the parameters and the optimizer state untouched on every rank (the moving statistics of a
/// batch norm, updated in the forward pass, keep that update unless they were not finite); what to do then
/// is the caller's decision.

#include <cstdint>
#include <vector>

#include "mpitrain/config/config.hpp"
#include "mpitrain/data/augment.hpp"
#include "mpitrain/data/sampler.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/dist/gradient_reducer.hpp"
#include "mpitrain/guard/fault_injection.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/task.hpp"
#include "mpitrain/optim/gradient_processing.hpp"
#include "mpitrain/optim/optimizer.hpp"
#include "mpitrain/optim/schedule.hpp"
#include "mpitrain/train/batch_statistics.hpp"
#include "mpitrain/train/reducer_setup.hpp"
#include "mpitrain/train/step_clock.hpp"
#include "mpitrain/train/training_data.hpp"

namespace mpitrain::train {

/// What one step did, the same on every rank except `sums` (this rank's slice).
struct StepResult {
  nn::LossSums sums;               ///< This rank's loss sum (nats), correct count and targets (text: tokens).
  double penalty = 0.0;            ///< The L2 penalty lambda·Σ‖W‖² added to the reported loss (0 if not applied).
  std::int64_t global_count = 0;   ///< Samples (text: windows) of the global batch in this step (all ranks).
  bool applied = false;            ///< False: a non-finite loss or gradient somewhere; nothing was updated.
  int nonfinite_rank = -1;         ///< The highest rank whose loss was non-finite (-1: none, or only the sum).
  bool stop_requested = false;     ///< A stop signal reached some rank (agreed: every rank sees it).
};

/// The buffers and collaborators of a training step. Sizes its buffers once, for @p max_rows samples per
/// rank; a steady-state run() allocates nothing (tests/perf/test_step_path.cpp).
class Step {
 public:
  /// @param config train.clip_grad_norm, optim.weight_decay (an L2 coefficient unless optim.name = adamw),
  /// the optim.schedule keys, train.seed (the forward pass's Context and the augmentation's draws) and
  /// data.augment, train.accumulate_steps (K). @param task the loss and metrics of the model's outputs.
  /// @param max_rows the largest slice of a global batch on one rank (K micro-batches of ceil(max_rows / K)
  /// rows: the model's work memory is sized for one micro-batch). @param sample_shape the training samples' shape (augmentation
  /// transforms images). The references must outlive the step.
  /// @throws config::ConfigError as configured_augmentation.
  Step(const config::Config& config, nn::Model& model, const nn::Task& task, optim::Optimizer& optimizer,
       dist::GradientReducer& reducer, const dist::Communicator& comm, std::int64_t max_rows,
       const guard::FaultPlan& faults, const base::Shape& sample_shape);

  /// Runs step @p step_in_epoch of the sampler's current epoch as global step @p global_step.
  /// Collective (every rank calls it with the same arguments). @throws dist::MpiError; a planned fault's
  /// std::runtime_error.
  StepResult run(const TrainingData& data, const data::BatchSampler& sampler, std::int64_t step_in_epoch,
                 std::int64_t global_step, StepClock& clock);

 private:
  nn::Model& model_;
  const nn::Task& task_;
  std::uint64_t seed_;  // train.seed, for the forward pass's Context
  optim::Optimizer& optimizer_;
  dist::GradientReducer& reducer_;
  ReducerHook hook_;  // backward tells reducer_ which gradients are final
  optim::GradientPostProcessor post_;  // average, L2 gradient, clipping (after the allreduce)
  optim::LearningRateSchedule schedule_;  // optim.schedule: the rate of each global step
  const dist::Communicator& comm_;
  AllreduceBatchStatistics statistics_;  // a layer's batch statistics over every rank (synchronized BN)
  const guard::FaultPlan& faults_;
  data::Augmenter augmenter_;    // data.augment, drawn from (train.seed, epoch, global sample index)
  std::int64_t micro_batches_;   // train.accumulate_steps: K micro-batches per optimizer step
  std::int64_t micro_rows_;      // ceil(max_rows / K): the rows of one micro-batch
  data::RowMatrix x_;            // max_rows × model inputs: this rank's slice of the global batch
  data::RowMatrix grad_logits_;  // micro_rows_ × model outputs
  std::vector<std::int32_t> labels_;  // max_rows × the task's targets per sample
};

}  // namespace mpitrain::train
