#pragma once
/// @file rank_logits.hpp
/// The logits of this rank's evaluation chunks, computed once and kept for the repeated reductions of
/// calibration and temperature scaling, and sums over every chunk of every rank that do not depend on the
/// world size: each chunk's sums are computed alone and the chunks' results are added in chunk order, the
/// same additions at 1, 2 or 3 ranks (the rule of train::evaluate, evaluation.hpp).

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "mpitrain/base/range.hpp"
#include "mpitrain/base/tensor.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/nn/model.hpp"

namespace mpitrain::diagnose {

/// This rank's rows of a labelled set with their logits.
struct RankLogits {
  base::Range rows;                   ///< train::evaluation_rows of the set: whole chunks at fixed positions.
  base::RowMatrix logits;             ///< rows.size() × K, row r is global sample rows.begin + r.
  std::vector<std::int32_t> labels;   ///< rows.size() labels.
};

/// Forward passes of @p model in evaluation mode over this rank's chunks of @p ds (samples × features,
/// scaled) one chunk of train::evaluation_chunk_rows at a time, as train::evaluate computes them.
/// @throws std::invalid_argument when the features' width is not the model's input size.
RankLogits compute_logits(nn::Model& model, const data::Dataset& ds, const dist::Communicator& comm);

/// Fills @p out (zeroed, the width given to sum_over_chunks) with one chunk's sums.
/// @param logits the chunk's rows × K. @param labels its rows' labels.
using ChunkSums = std::function<void(base::ConstMatrixMap logits, std::span<const std::int32_t> labels,
                                     std::span<double> out)>;

/// The sums @p per_chunk gives for every chunk of every rank's @p local, added in chunk order (the chunks'
/// vectors gathered on every rank, then added from the first chunk to the last). Collective: every rank
/// calls it with the same @p width and gets the same @p width sums, bit for bit at any world size.
/// @throws dist::MpiError.
std::vector<double> sum_over_chunks(const RankLogits& local, std::size_t width, const ChunkSums& per_chunk,
                                    const dist::Communicator& comm);

}  // namespace mpitrain::diagnose
