#include "mpitrain/diagnose/temperature.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace mpitrain::diagnose {

namespace {
constexpr double min_beta = 1e-4;
constexpr double max_beta = 1e4;
constexpr int max_steps = 100;
constexpr int max_halvings = 60;
}  // namespace

NllSums nll_sums(base::ConstMatrixMap logits, std::span<const std::int32_t> labels, double beta) {
  if (static_cast<std::int64_t>(labels.size()) != logits.rows()) {
    throw std::invalid_argument("nll_sums: " + std::to_string(labels.size()) + " labels for " +
                                std::to_string(logits.rows()) + " rows");
  }
  NllSums s;
  for (std::int64_t r = 0; r < logits.rows(); ++r) {
    const std::int32_t y = labels[static_cast<std::size_t>(r)];
    if (y < 0 || y >= logits.cols()) {
      throw std::invalid_argument("nll_sums: label " + std::to_string(y) + " outside [0, " +
                                  std::to_string(logits.cols()) + ")");
    }
    const double z_max = logits.row(r).maxCoeff();
    // p_j = exp(β (z_j − z_max)) / Σ; E_p[z − z_y], then Var_p(z) in a second pass (no cancellation).
    double sum = 0.0;
    double mean = 0.0;
    for (std::int64_t j = 0; j < logits.cols(); ++j) {
      const double w = std::exp(beta * (logits(r, j) - z_max));
      sum += w;
      mean += w * (logits(r, j) - logits(r, y));
    }
    mean /= sum;
    double variance = 0.0;
    for (std::int64_t j = 0; j < logits.cols(); ++j) {
      const double d = logits(r, j) - logits(r, y) - mean;
      variance += std::exp(beta * (logits(r, j) - z_max)) * d * d;
    }
    s.nll += beta * (z_max - logits(r, y)) + std::log(sum);
    s.gradient += mean;
    s.curvature += variance / sum;
    s.count += 1.0;
  }
  return s;
}

NllSums nll_sums(const RankLogits& local, double beta, const dist::Communicator& comm) {
  const std::vector<double> sums = sum_over_chunks(
      local, 4,
      [&](base::ConstMatrixMap logits, std::span<const std::int32_t> labels, std::span<double> out) {
        const NllSums s = nll_sums(logits, labels, beta);
        out[0] = s.nll;
        out[1] = s.gradient;
        out[2] = s.curvature;
        out[3] = s.count;
      },
      comm);
  return {sums[0], sums[1], sums[2], sums[3]};
}

TemperatureFit fit_temperature(const std::function<NllSums(double beta)>& sums) {
  TemperatureFit fit;
  double beta = 1.0;
  NllSums at = sums(beta);
  fit.evaluations = 1;
  for (int step = 0; step < max_steps; ++step) {
    if (at.gradient == 0.0) {
      fit.converged = true;
      break;
    }
    // Newton's step; without curvature (every sample's logits equal, or p one-hot to double precision)
    // the NLL no longer changes with β.
    if (at.curvature <= 0.0) {
      fit.converged = true;
      break;
    }
    double delta = -at.gradient / at.curvature;
    NllSums next;
    double candidate = beta;
    bool accepted = false;
    for (int h = 0; h < max_halvings; ++h, delta /= 2) {
      candidate = std::clamp(beta + delta, min_beta, max_beta);
      if (candidate == beta) break;
      next = sums(candidate);
      ++fit.evaluations;
      if (next.nll <= at.nll) {
        accepted = true;
        break;
      }
    }
    if (!accepted) {  // no step lowers the NLL: β is the minimum to the NLL's rounding
      fit.converged = candidate != min_beta && candidate != max_beta;
      break;
    }
    const double change = std::abs(candidate - beta);
    beta = candidate;
    at = next;
    if (change <= 1e-12 * beta) {
      fit.converged = beta != min_beta && beta != max_beta;
      break;
    }
  }
  fit.temperature = 1.0 / beta;
  return fit;
}

}  // namespace mpitrain::diagnose
