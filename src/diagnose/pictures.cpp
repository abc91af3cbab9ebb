#include "mpitrain/diagnose/pictures.hpp"

#include <spdlog/fmt/fmt.h>

#include <string>

#include "mpitrain/telemetry/gnuplot.hpp"

namespace mpitrain::diagnose {

namespace {

std::string header(const std::filesystem::path& png, int width, int height) {
  return fmt::format("set terminal pngcairo noenhanced size {},{} font 'sans,10'\nset output {}\n", width, height,
                     telemetry::gnuplot_quoted(png.string()));
}

}  // namespace

void draw_reliability(const std::filesystem::path& png, std::span<const NamedBins> bins) {
  const int panels = static_cast<int>(bins.size());
  std::string script = header(png, 440 * panels, 420);
  for (int i = 0; i < panels; ++i) {
    const CalibrationBins& b = bins[static_cast<std::size_t>(i)].bins;
    script += fmt::format("$bins{} << EOD\n", i);
    for (int m = 0; m < b.bins(); ++m) {
      if (b.count(m) > 0) {
        script += fmt::format("{} {} {} {}\n", (b.lower(m) + b.upper(m)) / 2, b.upper(m) - b.lower(m),
                              b.accuracy(m), b.mean_confidence(m));
      }
    }
    script += "EOD\n";
  }
  script += fmt::format(
      "set multiplot layout 1,{}\nset xrange [0:1]\nset yrange [0:1]\nset size ratio 1\n"
      "set xlabel 'confidence (largest softmax probability)'\nset ylabel 'accuracy'\nset key top left\n"
      "set style fill solid 0.6 border lc rgb '#1f3b73'\nset grid\n",
      panels);
  for (int i = 0; i < panels; ++i) {
    const NamedBins& n = bins[static_cast<std::size_t>(i)];
    script += fmt::format(
        "set title {}\nplot $bins{} using 1:3:2 with boxes lc rgb '#4c72b0' title 'accuracy', "
        "$bins{} using 4:3 with points pt 7 ps 0.6 lc rgb '#c44e52' title 'mean confidence', "
        "x with lines dt 2 lc rgb 'black' title 'perfect calibration'\n",
        telemetry::gnuplot_quoted(fmt::format("{}: ECE {:.4f} ({} bins)", n.model, n.bins.expected_calibration_error(),
                                              n.bins.bins())),
        i, i);
  }
  script += "unset multiplot\n";
  telemetry::run_gnuplot(script, "reliability diagram " + png.string());
}

void draw_confusion(const std::filesystem::path& png, std::span<const std::int64_t> confusion, int classes) {
  std::string script = header(png, 560, 500);
  script += "$cells << EOD\n";
  for (int t = 0; t < classes; ++t) {
    std::int64_t row = 0;
    for (int p = 0; p < classes; ++p) row += confusion[static_cast<std::size_t>(t * classes + p)];
    for (int p = 0; p < classes; ++p) {
      const std::int64_t n = confusion[static_cast<std::size_t>(t * classes + p)];
      script += fmt::format("{} {} {} {}\n", p, t, row > 0 ? static_cast<double>(n) / static_cast<double>(row) : 0.0, n);
    }
  }
  script += fmt::format(
      "EOD\nset title 'confusion matrix (colour: share of the true class)'\nset xlabel 'predicted class'\n"
      "set ylabel 'true class'\nset xrange [-0.5:{0}-0.5]\nset yrange [{0}-0.5:-0.5]\nset xtics 1\nset ytics 1\n"
      "set cbrange [0:1]\nset palette defined (0 'white', 0.1 '#c6dbef', 0.5 '#4292c6', 1 '#08306b')\n"
      "set size ratio 1\nunset key\n"
      "plot $cells using 1:2:3 with image, $cells using 1:2:(sprintf('%d', $4)):($3 > 0.5 ? 1 : 0) "
      "with labels font 'sans,8' tc variable\n",
      classes);
  // tc variable picks line type 0 or 1 by the 4th column: dark cells get a light label.
  script.insert(script.find("plot $cells"), "set linetype 1 lc rgb 'white'\nset linetype 2 lc rgb 'black'\n");
  telemetry::run_gnuplot(script, "confusion heat map " + png.string());
}

void draw_simplification(const std::filesystem::path& png, std::span<const SimplifiedModel> rows) {
  std::string script = header(png, 640, 420);
  double trained_accuracy = 0.0;
  for (const auto& r : rows) {
    if (r.method == "none") trained_accuracy = r.accuracy;
  }
  for (const std::string method : {"prune_layer", "prune_global", "int8"}) {
    script += fmt::format("${} << EOD\n", method);
    // The pruning lines start at the trained model (0 % pruned).
    if (method != "int8") script += fmt::format("0 {}\n", trained_accuracy);
    for (const auto& r : rows) {
      if (r.method == method) script += fmt::format("{} {}\n", 100.0 * r.kernel_sparsity, r.accuracy);
    }
    script += "EOD\n";
  }
  script += fmt::format(
      "set title 'accuracy of the simplified models (no retraining)'\nset xlabel 'kernel entries set to 0 (%)'\n"
      "set ylabel 'accuracy'\nset xrange [-2:100]\nset yrange [0:1]\nset grid\nset key bottom left\n"
      "plot $prune_layer with linespoints pt 7 lc rgb '#4c72b0' title 'magnitude pruning, per layer', "
      "$prune_global with linespoints pt 5 lc rgb '#dd8452' title 'magnitude pruning, global', "
      "$int8 with points pt 9 ps 1.8 lc rgb '#55a868' title 'int8 per channel (dequantized)', "
      "{} with lines dt 2 lc rgb 'gray' title 'trained'\n",
      trained_accuracy);
  telemetry::run_gnuplot(script, "simplification plot " + png.string());
}

}  // namespace mpitrain::diagnose
