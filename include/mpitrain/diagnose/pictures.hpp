#pragma once
/// @file pictures.hpp
/// The PNG pictures of `mpitrain diagnose`, drawn by gnuplot (telemetry::run_gnuplot) from the values
/// the CSV files hold, passed to gnuplot inline (data blocks). Rank 0 only.

#include <cstdint>
#include <filesystem>
#include <span>

#include "mpitrain/diagnose/reports.hpp"

namespace mpitrain::diagnose {

/// A reliability diagram (Guo et al. 2017, figure 1) at @p png: per bin with samples, the accuracy as a bar
/// over the bin's width and the mean confidence as a point, beside the diagonal of perfect calibration;
/// one panel per entry of @p bins (1 or 2), titled with its model and ECE.
/// @throws std::runtime_error naming the picture when gnuplot fails.
void draw_reliability(const std::filesystem::path& png, std::span<const NamedBins> bins);

/// A heat map of the K × K @p confusion (row = true class) at @p png: each cell coloured by its share of
/// its row (recall on the diagonal) and labelled with its count.
/// @throws std::runtime_error naming the picture when gnuplot fails.
void draw_confusion(const std::filesystem::path& png, std::span<const std::int64_t> confusion, int classes);

/// Accuracy against the kernels' sparsity (percent) at @p png: per-layer and global pruning as lines from
/// the trained model's point, and the int8 point (its sparsity: the kernel entries rounded to 0).
/// @throws std::runtime_error naming the picture when gnuplot fails.
void draw_simplification(const std::filesystem::path& png, std::span<const SimplifiedModel> rows);

}  // namespace mpitrain::diagnose
