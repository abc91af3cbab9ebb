#pragma once
/// @file evaluation.hpp
/// Distributed inference whose results do not depend on the world size: the rows are cut into chunks of
/// a fixed size at fixed global positions, each rank computes whole chunks (a contiguous run of them), and
/// per-chunk sums are combined in chunk order. Every chunk is computed with the same shapes at any world
/// size, so the counts (accuracy, confusion matrix, predicted classes) are identical for any number of
/// ranks; the mean loss and probabilities were seen to differ in the last bits at 3 ranks when each rank
/// computed with the CPUs mpirun's binding left it (1 at 2 ranks on 2 cores, 2 at 3, so kernels chosen by
/// thread count differed); the commands now run at the training run's train.threads (app's load_model),
/// but only the counts are claimed identical, the rest equal to float rounding.

#include <cstdint>
#include <span>
#include <vector>

#include "mpitrain/base/range.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/data/text_windows.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/task.hpp"

namespace mpitrain::train {

/// Rows per evaluation chunk.
inline constexpr std::int64_t evaluation_chunk_rows = 256;

/// The rows [begin, end) of @p rows that this rank evaluates: a contiguous run of whole chunks of
/// evaluation_chunk_rows at fixed global positions (data::split_range of the chunks over the ranks), so
/// that concatenating every rank's per-chunk results in rank order gives them in chunk order.
base::Range evaluation_rows(std::int64_t rows, const dist::Communicator& comm);

/// Adds up per-chunk sums in chunk order, so that the result is the same, bit for bit, at any world size.
/// @param mine this rank's chunks' sums, @p width values per chunk, back to back in chunk order (the
///        chunks of evaluation_rows: every rank's in rank order are every chunk in chunk order).
/// @param root the rank that gets the total (the others get an empty vector), or -1 for every rank.
/// @return width values: Σ over chunks c, in order, of chunk c's values.
/// @throws std::invalid_argument when mine.size() is not a multiple of @p width (width 0 included);
///         dist::MpiError.
std::vector<double> add_chunk_sums(std::span<const double> mine, std::size_t width, const dist::Communicator& comm,
                                   int root = -1);

/// Metrics of a labelled set.
struct EvaluationResult {
  std::int64_t count = 0;                 ///< Targets scored: samples (classification), tokens (language model).
  double loss = 0.0;                      ///< Mean loss per target (nats), without L2 penalty.
  double accuracy = 0.0;                  ///< Share of targets whose arg-max logit is the target.
  int classes = 0;                        ///< K.
  std::vector<std::int64_t> confusion;    ///< K × K row-major: row = true class, column = predicted.
  /// TP / (TP + FP) for class @p k; 0 when nothing was predicted as k.
  [[nodiscard]] double precision(int k) const;
  /// TP / (TP + FN) for class @p k; 0 when class k does not occur.
  [[nodiscard]] double recall(int k) const;
};

/// Evaluates @p model with @p task's loss and metrics on @p ds (samples × features, already scaled; one
/// label per sample) across the ranks of @p comm, in evaluation mode. Every rank gets the same result.
/// @throws dist::MpiError; std::invalid_argument on a feature mismatch or a label outside [0, K).
EvaluationResult evaluate(nn::Model& model, const nn::Task& task, const data::Dataset& ds,
                          const dist::Communicator& comm);

/// Evaluates a language model (@p task: nn::LanguageModelTask) on every window of @p windows (evaluation
/// layout: offset 0, nothing partial), chunk by chunk as above: each rank gathers only its chunks' windows
/// from the mapped bytes. count = windows · T tokens; loss is per token (nats); accuracy per token. The sums
/// are added per chunk in chunk order (add_chunk_sums), so the result is the same at any world size.
/// @throws dist::MpiError; std::invalid_argument when the model's input is not (T).
EvaluationResult evaluate(nn::Model& model, const nn::Task& task, const data::TextWindows& windows,
                          const dist::Communicator& comm);

/// Class probabilities (@p task's softmax of the logits) of every row of @p features (samples ×
/// features, scaled), in evaluation mode.
/// @return on rank 0, samples × K row-major; empty on other ranks.
std::vector<float> predict_probabilities(nn::Model& model, const nn::Task& task, const data::RowMatrix& features,
                                         const dist::Communicator& comm);

}  // namespace mpitrain::train
