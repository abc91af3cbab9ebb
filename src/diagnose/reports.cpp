#include "mpitrain/diagnose/reports.hpp"

#include <spdlog/fmt/fmt.h>

namespace mpitrain::diagnose {

std::string calibration_csv(std::span<const NamedBins> bins) {
  std::string out = "model,bin,lower,upper,count,mean_confidence,accuracy,gap\n";
  for (const auto& [model, b] : bins) {
    for (int m = 0; m < b.bins(); ++m) {
      out += fmt::format("{},{},{},{},{},{},{},{}\n", model, m, b.lower(m), b.upper(m), b.count(m),
                         b.mean_confidence(m), b.accuracy(m), b.accuracy(m) - b.mean_confidence(m));
    }
  }
  return out;
}

std::string temperature_csv(const TemperatureReport& r) {
  return fmt::format(
      "quantity,value\ntemperature,{}\nconverged,{}\nevaluations,{}\nnll_before,{}\nnll_after,{}\n"
      "ece_before,{}\nece_after,{}\n",
      r.temperature, r.converged ? 1 : 0, r.evaluations, r.nll_before, r.nll_after, r.ece_before, r.ece_after);
}

std::string classes_csv(std::span<const ClassMetrics> classes) {
  std::string out = "class,precision,recall,f1,support\n";
  for (std::size_t k = 0; k < classes.size(); ++k) {
    const ClassMetrics& m = classes[k];
    out += fmt::format("{},{},{},{},{}\n", k, m.precision, m.recall, m.f1, m.support);
  }
  return out;
}

std::string confusion_csv(std::span<const std::int64_t> confusion, int classes) {
  std::string out = "true\\predicted";
  for (int p = 0; p < classes; ++p) out += fmt::format(",{}", p);
  out += '\n';
  for (int t = 0; t < classes; ++t) {
    out += fmt::format("{}", t);
    for (int p = 0; p < classes; ++p) out += fmt::format(",{}", confusion[static_cast<std::size_t>(t * classes + p)]);
    out += '\n';
  }
  return out;
}

std::string simplification_csv(std::span<const SimplifiedModel> rows) {
  std::string out = "method,sparsity_percent,kernel_sparsity,nonzero_parameters,parameters,accuracy,loss,bytes\n";
  for (const auto& r : rows) {
    out += fmt::format("{},{},{},{},{},{},{},{}\n", r.method, r.sparsity_percent, r.kernel_sparsity,
                       r.nonzero_parameters, r.parameters, r.accuracy, r.loss, r.bytes);
  }
  return out;
}

std::string simplification_table(std::span<const SimplifiedModel> rows) {
  std::string out = fmt::format("{:<13} {:>8} {:>15} {:>9} {:>9} {:>19} {:>10}\n", "model", "target", "kernels zero",
                                "accuracy", "loss", "nonzero parameters", "bytes");
  for (const auto& r : rows) {
    const std::string target = r.method.starts_with("prune") ? fmt::format("{:g}%", r.sparsity_percent) : "-";
    out += fmt::format("{:<13} {:>8} {:>14.2f}% {:>9.4f} {:>9.4f} {:>9}/{:<9} {:>10}\n", r.method, target,
                       100.0 * r.kernel_sparsity, r.accuracy, r.loss, r.nonzero_parameters, r.parameters, r.bytes);
  }
  return out;
}

}  // namespace mpitrain::diagnose
