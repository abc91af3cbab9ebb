#include "mpitrain/explain/pictures.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include "mpitrain/telemetry/gnuplot.hpp"

namespace mpitrain::explain {

namespace {

using telemetry::gnuplot_quoted;

constexpr const char* diverging_palette = "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\n";

// A gnuplot datablock $NAME holding an H × W matrix (rows top to bottom), each value clipped to ±clip.
void append_matrix(std::string& script, const std::string& name, std::span<const double> values, std::int64_t h,
                   std::int64_t w, double clip) {
  script += "$" + name + " << EOD\n";
  for (std::int64_t r = 0; r < h; ++r) {
    for (std::int64_t c = 0; c < w; ++c) {
      const double v = values[static_cast<std::size_t>(r * w + c)];
      fmt::format_to(std::back_inserter(script), "{}{:.6g}", c == 0 ? "" : " ", std::clamp(v, -clip, clip));
    }
    script += '\n';
  }
  script += "EOD\n";
}

// Axes of an image panel: row 0 at the top, square pixels, no tics.
std::string image_axes(std::int64_t h, std::int64_t w) {
  return fmt::format(
      "set xrange [-0.5:{}-0.5]\nset yrange [{}-0.5:-0.5]\nset size ratio -1\nunset xtics\nunset ytics\n", w, h);
}

}  // namespace

double clip_level(std::span<const double> values) {
  if (values.empty()) return 1.0;
  std::vector<double> magnitudes;
  magnitudes.reserve(values.size());
  for (const double v : values) magnitudes.push_back(std::abs(v));
  const auto rank = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(magnitudes.size())));
  const std::size_t at = std::clamp<std::size_t>(rank, 1, magnitudes.size()) - 1;
  std::nth_element(magnitudes.begin(), magnitudes.begin() + static_cast<std::ptrdiff_t>(at), magnitudes.end());
  const double level = magnitudes[at];
  return level > 0.0 && std::isfinite(level) ? level : 1.0;
}

void draw_bar_chart(const std::filesystem::path& png, const std::vector<std::string>& labels,
                    const std::vector<double>& values, const std::string& title, const std::string& axis) {
  std::string script = "$bars << EOD\n";
  const std::size_t n = values.size();
  for (std::size_t i = 0; i < n; ++i) {  // largest at the top: last line drawn highest
    // A data file's strings are double-quoted; feature and group names hold no double quote.
    fmt::format_to(std::back_inserter(script), "{} {:.9g} \"{}\"\n", n - 1 - i, values[i], labels[i]);
  }
  script += "EOD\n";
  script += fmt::format("set terminal pngcairo size 800,{} font ',9' noenhanced\nset output {}\n", 120 + 22 * n,
                        gnuplot_quoted(png.string()));
  script += fmt::format("set title {} noenhanced\nset xlabel {} noenhanced\nset key off\nset grid xtics\n",
                        gnuplot_quoted(title), gnuplot_quoted(axis));
  script += fmt::format("set yrange [-0.7:{}-0.3]\nset style fill solid 0.8\nset xrange [0:*]\n", n);
  script += "plot $bars using ($2*0.5):1:($2*0.5):(0.4):ytic(3) with boxxyerror lc rgb '#b2182b'\n";
  telemetry::run_gnuplot(script, "bar chart " + png.string());
}

void draw_heat_maps(const std::filesystem::path& png, const std::vector<std::vector<double>>& maps,
                    const std::vector<std::string>& titles, std::int64_t height, std::int64_t width, int columns,
                    const std::string& title) {
  std::vector<double> every;
  for (const auto& m : maps) every.insert(every.end(), m.begin(), m.end());
  const double clip = clip_level(every);
  std::string script;
  for (std::size_t i = 0; i < maps.size(); ++i)
    append_matrix(script, fmt::format("m{}", i), maps[i], height, width, clip);
  const int rows =
      static_cast<int>((maps.size() + static_cast<std::size_t>(columns) - 1) / static_cast<std::size_t>(columns));
  script += fmt::format("set terminal pngcairo size {},{} font ',9'\nset output {}\n", 170 * columns + 80,
                        170 * rows + 40, gnuplot_quoted(png.string()));
  script += diverging_palette + fmt::format("set cbrange [{:.6g}:{:.6g}]\nunset colorbox\n", -clip, clip);
  script += image_axes(height, width);
  script += fmt::format("set multiplot layout {},{} title {} noenhanced\n", rows, columns,
                        gnuplot_quoted(title + fmt::format(" (colour clipped at ±{:.3g})", clip)));
  for (std::size_t i = 0; i < maps.size(); ++i) {
    script +=
        fmt::format("set title {} noenhanced\nplot $m{} matrix with image notitle\n", gnuplot_quoted(titles[i]), i);
  }
  script += "unset multiplot\n";
  telemetry::run_gnuplot(script, "heat maps " + png.string());
}

void draw_sample(const std::filesystem::path& png, std::span<const double> image, std::span<const double> map,
                 std::int64_t height, std::int64_t width, const std::string& title) {
  const double clip = clip_level(map);
  std::string script;
  append_matrix(script, "image", image, height, width, std::numeric_limits<double>::max());
  append_matrix(script, "map", map, height, width, clip);
  script += fmt::format("set terminal pngcairo size 640,340 font ',9'\nset output {}\n", gnuplot_quoted(png.string()));
  script += image_axes(height, width);
  script += fmt::format("set multiplot layout 1,2 title {} noenhanced\n", gnuplot_quoted(title));
  script += "set title 'input'\nset palette grey\nunset colorbox\nplot $image matrix with image notitle\n";
  script += diverging_palette +
            fmt::format("set cbrange [{:.6g}:{:.6g}]\nset colorbox\nset title 'attribution (clipped at ±{:.3g})'\n",
                        -clip, clip, clip);
  script += "plot $map matrix with image notitle\nunset multiplot\n";
  telemetry::run_gnuplot(script, "sample picture " + png.string());
}

std::vector<double> channel_sum(std::span<const double> values, const base::Shape& shape) {
  const std::int64_t h = shape[0], w = shape[1], c = shape.size() > 2 ? shape[2] : 1;
  std::vector<double> out(static_cast<std::size_t>(h * w), 0.0);
  for (std::int64_t p = 0; p < h * w; ++p) {
    for (std::int64_t ch = 0; ch < c; ++ch)
      out[static_cast<std::size_t>(p)] += values[static_cast<std::size_t>(p * c + ch)];
  }
  return out;
}

}  // namespace mpitrain::explain
