#include "app/explain_outputs.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "mpitrain/base/files.hpp"
#include "mpitrain/checkpoint/array_file.hpp"
#include "mpitrain/explain/pictures.hpp"

namespace mpitrain::app {

namespace {

constexpr double gap_share = 0.05;  // the completeness warning's threshold
constexpr std::size_t bars = 20;

std::string method_title(const ExplainSettings& s) {
  return s.method_text + " of the " + explain::to_string(s.attribution.output) + " of the " + s.target_text +
         " class";
}

void write_h5(const std::filesystem::path& path, const ExplainSettings& s, const data::Dataset& ds,
              const explain::Explanation& e, const std::vector<std::string>& names) {
  base::Shape shape{e.samples};
  for (const auto d : ds.sample_shape()) shape.push_back(d);
  const base::Shape per_sample{e.samples};
  checkpoint::write_array_file(path, [&](const checkpoint::ArrayWriter& w) {
    w.floats("values", shape, e.attributions);
    w.floats("data", shape, std::span<const float>(ds.features.data(), static_cast<std::size_t>(ds.features.size())));
    w.floats("baseline", ds.sample_shape(), e.baseline);
    w.doubles("base_values", per_sample, e.base_values);
    w.doubles("output_values", per_sample, e.values);
    w.doubles("gaps", per_sample, e.gaps);
    w.ints("predictions", per_sample, e.predictions);
    w.ints("targets", per_sample, e.targets);
    w.strings("feature_names", names);
    w.attribute("method", s.method_text);
    w.attribute("target", s.target_text);
    w.attribute("target_output", explain::to_string(s.attribution.output));
    w.attribute("baseline", s.baseline_data.empty() ? s.baseline : "mean of " + s.baseline_data);
    w.attribute("quadrature", explain::to_string(s.attribution.rule) + " " + std::to_string(s.attribution.steps));
    w.attribute("checkpoint", s.checkpoint);
    w.attribute("data", s.data);
  });
}

void warn_gaps(const explain::Explanation& e) {
  const std::vector<std::int64_t> over = explain::samples_over_gap(e, gap_share);
  if (over.empty()) {
    spdlog::info("explain: every completeness gap is within 5% of |f(x) - f(baseline)|");
    return;
  }
  std::string list;
  for (std::size_t i = 0; i < std::min<std::size_t>(over.size(), 20); ++i)
    list += (i ? ", " : "") + std::to_string(over[i]);
  spdlog::warn("explain: {} of {} samples have a completeness gap over 5% of |f(x) - f(baseline)| (more --steps "
               "may help): {}{}", over.size(), e.gaps.size(), list, over.size() > 20 ? ", ..." : "");
}

void draw_images(const std::filesystem::path& dir, const ExplainSettings& s, const data::Dataset& ds,
                 const explain::Explanation& e) {
  const base::Shape shape = ds.sample_shape();
  if (shape.size() != 3) return;  // pictures of images only; text waits for the Transformer (issue 12)
  const explain::FeatureSums& sums = e.sums;
  std::vector<std::vector<double>> maps;
  std::vector<std::string> titles;
  for (int k = 0; k < sums.classes(); ++k) {
    if (sums.count(k) == 0.0) continue;
    std::vector<double> mean(static_cast<std::size_t>(e.features));
    for (std::int64_t j = 0; j < e.features; ++j) mean[static_cast<std::size_t>(j)] = sums.sum(k, j) / sums.count(k);
    maps.push_back(explain::channel_sum(mean, shape));
    titles.push_back("class " + std::to_string(k) + " (" + std::to_string(static_cast<long long>(sums.count(k))) + ")");
  }
  if (!maps.empty()) {
    explain::draw_heat_maps(dir / "class_heat_maps.png", maps, titles, shape[0], shape[1], 5,
                            "mean " + method_title(s) + ", per explained class");
  }
  for (const std::int64_t i : s.show) {
    const auto f = static_cast<std::size_t>(e.features), at = static_cast<std::size_t>(i) * f;
    const std::vector<double> a(e.attributions.begin() + static_cast<std::ptrdiff_t>(at),
                                e.attributions.begin() + static_cast<std::ptrdiff_t>(at + f));
    const std::vector<double> x(ds.features.data() + at, ds.features.data() + at + f);
    explain::draw_sample(dir / ("sample_" + std::to_string(i) + ".png"), explain::channel_sum(x, shape),
                         explain::channel_sum(a, shape), shape[0], shape[1],
                         "sample " + std::to_string(i) + ": predicted " +
                             std::to_string(e.predictions[static_cast<std::size_t>(i)]) + ", explained class " +
                             std::to_string(e.targets[static_cast<std::size_t>(i)]));
  }
}

}  // namespace

void write_attribution_outputs(const std::filesystem::path& dir, const ExplainSettings& s, const data::Dataset& ds,
                               const explain::Explanation& e) {
  const std::vector<std::string> names = explain::feature_names(ds.sample_shape());
  write_h5(dir / "attributions.h5", s, ds, e, names);
  const std::vector<explain::ImportanceRow> rows = explain::importance_rows(e.sums);
  base::write_text_atomically(dir / "importance.csv", explain::importance_csv(rows, names), base::Durability::synced);
  std::printf("%s over %lld samples\n%s", method_title(s).c_str(), static_cast<long long>(e.samples),
              explain::importance_summary(rows, names, static_cast<std::size_t>(s.top)).c_str());
  std::fflush(stdout);
  if (s.attribution.method.method == explain::Method::integrated_gradients) warn_gaps(e);
  std::vector<std::string> labels;
  std::vector<double> values;
  for (std::size_t i = 0; i < std::min(bars, static_cast<std::size_t>(e.features)); ++i) {
    labels.push_back(names[static_cast<std::size_t>(rows[i].feature)]);
    values.push_back(rows[i].mean_abs);
  }
  explain::draw_bar_chart(dir / "top20.png", labels, values, "top features: " + method_title(s), "mean |attribution|");
  draw_images(dir, s, ds, e);
  spdlog::info("explain: wrote attributions.h5, importance.csv and the pictures into {}", dir.string());
}

void write_permutation_outputs(const std::filesystem::path& dir, const ExplainSettings& s,
                               const std::vector<explain::FeatureGroup>& groups,
                               const explain::PermutationResult& result) {
  base::write_text_atomically(dir / "importance.csv", explain::permutation_csv(result, groups),
                              base::Durability::synced);
  base::write_text_atomically(dir / "permutation_repeats.csv", explain::permutation_repeats_csv(result, groups),
                              base::Durability::synced);
  const std::string score = s.score_loss ? "minus the loss" : "accuracy";
  const std::vector<std::size_t> order = explain::permutation_order(result, groups.size());
  std::printf("permutation importance (%s, %lld repeats): unshuffled score %.6f\ngroup              mean drop   std\n",
              score.c_str(), static_cast<long long>(result.repeats), result.score);
  double rest = 0.0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i < static_cast<std::size_t>(s.top)) {
      std::printf("%-18s %10.6f %9.6f\n", groups[order[i]].name.c_str(), result.mean(order[i]), result.std(order[i]));
    } else {
      rest += result.mean(order[i]);
    }
  }
  if (order.size() > static_cast<std::size_t>(s.top)) {
    std::printf("sum of the other %zu features: %.6f\n", order.size() - static_cast<std::size_t>(s.top), rest);
  }
  std::fflush(stdout);
  std::vector<std::string> labels;
  std::vector<double> values;
  for (std::size_t i = 0; i < std::min(bars, order.size()); ++i) {
    labels.push_back(groups[order[i]].name);
    values.push_back(result.mean(order[i]));
  }
  explain::draw_bar_chart(dir / "top20.png", labels, values, "permutation importance (" + score + ")",
                          "mean score drop");
  spdlog::info("explain: wrote importance.csv, permutation_repeats.csv and top20.png into {}", dir.string());
}

}  // namespace mpitrain::app
