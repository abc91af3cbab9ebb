#pragma once
/// @file pictures.hpp
/// explain's PNGs, drawn by gnuplot (telemetry::run_gnuplot) from rank 0: a bar chart of the top features,
/// per-class mean-attribution heat maps and chosen samples beside their image. Heat maps use a diverging
/// palette (blue negative, white 0, red positive) symmetric about 0 and clipped at the 99th percentile of
/// |value| over the picture, so that a few extreme pixels do not wash the rest out.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::explain {

/// The 99th percentile of |values| (the nearest-rank value at ⌈0.99·n⌉), or 1 when it is 0 or @p values is empty.
double clip_level(std::span<const double> values);

/// A horizontal bar chart of @p values (largest first, as given) labelled by @p labels, into @p png.
/// @throws std::runtime_error naming the picture when gnuplot fails.
void draw_bar_chart(const std::filesystem::path& png, const std::vector<std::string>& labels,
                    const std::vector<double>& values, const std::string& title, const std::string& axis);

/// One heat-map panel per entry of @p maps (each H × W row-major, channels already combined), titled by
/// @p titles, in one PNG of @p columns panels per row.
void draw_heat_maps(const std::filesystem::path& png, const std::vector<std::vector<double>>& maps,
                    const std::vector<std::string>& titles, std::int64_t height, std::int64_t width, int columns,
                    const std::string& title);

/// A sample's image (H × W, grey, as the model saw it) beside its attribution map (H × W) in one PNG.
void draw_sample(const std::filesystem::path& png, std::span<const double> image, std::span<const double> map,
                 std::int64_t height, std::int64_t width, const std::string& title);

/// The H × W map of an image sample's values (H × W × C, channels last): the sum over the channels.
std::vector<double> channel_sum(std::span<const double> values, const base::Shape& shape);

}  // namespace mpitrain::explain
