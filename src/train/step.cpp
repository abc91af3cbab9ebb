#include "mpitrain/train/step.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "mpitrain/data/batch.hpp"
#include "mpitrain/data/text_windows.hpp"
#include "mpitrain/guard/stop_signal.hpp"
#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::train {

using base::StepPhase;

Step::Step(const config::Config& config, nn::Model& model, const nn::Task& task, optim::Optimizer& optimizer,
           dist::GradientReducer& reducer, const dist::Communicator& comm, std::int64_t max_rows,
           const guard::FaultPlan& faults, const base::Shape& sample_shape)
    : model_(model), task_(task), seed_(config.train.seed), optimizer_(optimizer), reducer_(reducer), hook_(reducer),
      post_(model.registry(), {.l2 = optim::l2_coefficient(config.optim), .clip_grad_norm = config.train.clip_grad_norm}),
      schedule_(config.optim), comm_(comm), statistics_(comm), faults_(faults),
      augmenter_(configured_augmentation(config, sample_shape), sample_shape, config.train.seed),
      micro_batches_(config.train.accumulate_steps),
      micro_rows_((max_rows + micro_batches_ - 1) / micro_batches_), x_(max_rows, model.input_size()),
      grad_logits_(micro_rows_, model.output_size()),
      labels_(static_cast<std::size_t>(max_rows * task.targets_per_sample())) {
  model_.reserve(micro_rows_);
}

StepResult Step::run(const TrainingData& data, const data::BatchSampler& sampler, std::int64_t step_in_epoch,
                     std::int64_t global_step, StepClock& clock) {
  const int rank = comm_.rank(), world = comm_.size();
  clock.start_step(global_step);
  const guard::FaultKind fault = faults_.at_step(rank, global_step);
  const bool poison = fault == guard::FaultKind::nan;
  const auto slice = sampler.slice(step_in_epoch, rank, world);
  const auto n = static_cast<std::int64_t>(slice.size());
  const std::int64_t features = x_.cols(), outputs = grad_logits_.cols();
  if (data.text) {  // the slice holds window indices; the epoch's offset is drawn from (train.seed, epoch)
    const data::TextWindows& windows = data.text->train;
    windows.gather(slice, data::epoch_offset(seed_, sampler.epoch(), windows.context()), x_, labels_);
  } else {
    data::gather_batch(data.train, data.scaler, slice, x_, labels_);  // scales 8-bit pixels per batch
    // Augmented after scaling (a shift fills with 0, the scaled value of a black pixel under data.scaling =
    // divide); keyed by the slice's global sample indices, as the dropout masks.
    augmenter_.apply(base::MatrixMap(x_.data(), n, features), slice, sampler.epoch());
    if (step_in_epoch + 1 < sampler.steps_per_epoch()) {  // the next rows load into cache while this step computes
      data::prefetch_rows(data.train, sampler.slice(step_in_epoch + 1, rank, world));
    }
  }
  if (poison && n > 0) x_(0, 0) = std::numeric_limits<float>::quiet_NaN();

  // K micro-batches of up to micro_rows_ rows each (every rank runs K, some possibly empty, so that the
  // collectives inside the forward pass, batch statistics, stay aligned); the gradients add up in the
  // buffer, and the reducer takes them during the last micro-batch's backward only.
  auto grads = model_.gradients();
  model_.zero_gradients();  // backward adds
  StepResult result;
  const std::int64_t per_sample = task_.targets_per_sample();
  for (std::int64_t m = 0; m < micro_batches_; ++m) {
    const std::int64_t first = std::min(m * micro_rows_, n), rows = std::min(micro_rows_, n - first);
    const bool last = m + 1 == micro_batches_;
    clock.enter(StepPhase::forward);
    // The slice's indices are global sample indices with data.shuffle = global; with local, rows of this
    // rank's shard (whose results depend on the world size anyway). Batch statistics are over every rank.
    const auto indices = slice.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(rows));
    auto logits = model_.forward(base::ConstMatrixMap(x_.data() + first * features, rows, features),
                                 nn::Context::training(seed_, global_step, indices, &statistics_));
    const nn::LossSums sums =
        task_.loss(logits,
                   std::span<const std::int32_t>(labels_.data() + first * per_sample,
                                                 static_cast<std::size_t>(rows * per_sample)),
                   base::MatrixMap(grad_logits_.data(), rows, outputs));
    result.sums.loss += sums.loss;
    result.sums.correct += sums.correct;
    result.sums.count += sums.count;

    clock.enter(StepPhase::backward);
    if (last) reducer_.begin(grads);  // the bucketed reducer starts each bucket's allreduce during backward
    model_.backward(base::ConstMatrixMap(grad_logits_.data(), rows, outputs), last ? &hook_ : nullptr);
  }
  clock.enter(StepPhase::allreduce_wait);
  reducer_.finish();

  // One small collective agrees on what every rank must do alike: stop for a signal, and which ranks
  // saw a non-finite loss (a NaN there reaches the summed gradient too, checked below on every rank).
  clock.enter(StepPhase::agreement);
  const bool local_bad = !std::isfinite(result.sums.loss) || (poison && n == 0);
  enum : std::size_t { stop_flag, bad_rank_plus_one };  // the agreed values, reduced with max
  std::array<int, 2> control{};
  control[stop_flag] = guard::stop_signal_received() != 0 ? 1 : 0;
  control[bad_rank_plus_one] = local_bad ? rank + 1 : 0;
  comm_.allreduce(std::span<int>(control), dist::ReduceOp::max);
  result.stop_requested = control[stop_flag] != 0;
  result.nonfinite_rank = control[bad_rank_plus_one] - 1;
  result.global_count = sampler.global_count(step_in_epoch);
  result.applied = control[bad_rank_plus_one] == 0 && nn::all_finite(grads);
  if (result.applied) {
    clock.enter(StepPhase::optimizer);
    // The mean over the global batch's targets: per sample, or per token for a language model.
    result.penalty = post_.process(model_.parameters(), grads, result.global_count * task_.targets_per_sample());
    optimizer_.set_learning_rate(schedule_.at(global_step));
    optimizer_.step(model_.parameters(), grads);
    if (fault == guard::FaultKind::desync) model_.parameters()[0] += 1e-3f;
  }
  clock.end_step(reducer_.last_buckets(), result.global_count);
  return result;
}

}  // namespace mpitrain::train
