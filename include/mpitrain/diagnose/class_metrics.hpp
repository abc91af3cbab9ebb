#pragma once
/// @file class_metrics.hpp
/// Per-class precision, recall, F1 and support from a confusion matrix.

#include <cstdint>
#include <span>
#include <vector>

namespace mpitrain::diagnose {

/// The metrics of one class k.
struct ClassMetrics {
  double precision = 0.0;    ///< TP / (TP + FP); 0 when nothing was predicted as k.
  double recall = 0.0;       ///< TP / (TP + FN); 0 when k does not occur.
  double f1 = 0.0;           ///< 2 · precision · recall / (precision + recall); 0 when both are 0.
  std::int64_t support = 0;  ///< Samples of true class k: TP + FN.
};

/// The metrics of every class of a K × K @p confusion matrix (row-major, row = true class, column =
/// predicted class, as train::EvaluationResult::confusion).
/// @throws std::invalid_argument when @p confusion does not have classes² entries.
std::vector<ClassMetrics> class_metrics(std::span<const std::int64_t> confusion, int classes);

}  // namespace mpitrain::diagnose
