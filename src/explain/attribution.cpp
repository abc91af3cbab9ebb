#include "mpitrain/explain/attribution.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "mpitrain/base/random.hpp"

namespace mpitrain::explain {

namespace {

using base::ConstMatrixMap;
using base::MatrixMap;

constexpr std::uint64_t smoothgrad_key = 0x536d6f6f74684772;  // "SmoothGr": keeps the noise apart from other draws

// A standard normal draw from two 53-bit uniforms (Box–Muller; u1 in (0, 1] so that its log is finite).
double normal(base::SplitMix64& rng) {
  const double u1 = 1.0 - rng.uniform_double();
  const double u2 = rng.uniform_double();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

template <class M>
auto top_rows(M& m, std::int64_t rows) {
  return MatrixMap(m.data(), rows, m.cols());
}

ConstMatrixMap as_const(MatrixMap m) { return {m.data(), m.rows(), m.cols()}; }

}  // namespace

MethodChoice parse_method(const std::string& name) {
  std::string base = name;
  MethodChoice choice;
  if (name.starts_with("smoothgrad:")) {
    choice.smoothgrad = true;
    base = name.substr(std::string("smoothgrad:").size());
  }
  if (base == "saliency") {
    choice.method = Method::saliency;
  } else if (base == "gradient_x_input") {
    choice.method = Method::gradient_x_input;
  } else if (base == "integrated_gradients") {
    choice.method = Method::integrated_gradients;
  } else {
    throw std::invalid_argument("--method " + name +
                                ": unknown method (expected saliency, gradient_x_input, integrated_gradients, "
                                "smoothgrad:<one of these three> or permutation_importance)");
  }
  return choice;
}

std::string to_string(Method method) {
  switch (method) {
    case Method::saliency: return "saliency";
    case Method::gradient_x_input: return "gradient_x_input";
    case Method::integrated_gradients: return "integrated_gradients";
  }
  return "?";
}

Attributor::Attributor(nn::Model& model, AttributionOptions options, std::vector<float> baseline)
    : model_(model), options_(options), baseline_(std::move(baseline)) {
  if (static_cast<std::int64_t>(baseline_.size()) != model_.input_size()) {
    throw std::invalid_argument("baseline: " + std::to_string(baseline_.size()) + " values, the model has " +
                                std::to_string(model_.input_size()) + " input features");
  }
  if (options_.method.method == Method::integrated_gradients) quadrature_ = quadrature(options_.rule, options_.steps);
  if (options_.method.smoothgrad && options_.samples < 1) {
    throw std::invalid_argument("--samples " + std::to_string(options_.samples) + ": must be >= 1");
  }
  if (options_.method.smoothgrad && !(options_.noise >= 0.0 && std::isfinite(options_.noise))) {
    throw std::invalid_argument("--noise " + std::to_string(options_.noise) + ": must be a finite share >= 0");
  }
}

MatrixMap Attributor::explained(ConstMatrixMap x, std::span<const std::int32_t> targets, std::span<double> values) {
  const ConstMatrixMap logits = model_.forward(x, nn::Context::evaluation());
  if (grad_output_.rows() < x.rows() || grad_output_.cols() != logits.cols()) {
    grad_output_.resize(std::max(grad_output_.rows(), x.rows()), logits.cols());
  }
  MatrixMap grad = top_rows(grad_output_, x.rows());
  explained_outputs(logits, targets, options_.output, values, grad);
  return grad;
}

ConstMatrixMap Attributor::gradient(ConstMatrixMap x, std::span<const std::int32_t> targets,
                                    std::span<double> values) {
  return model_.input_gradient(as_const(explained(x, targets, values)));
}

void Attributor::baseline_values(std::int64_t rows, std::span<const std::int32_t> targets,
                                 std::span<double> base_values) {
  MatrixMap path = top_rows(path_, rows);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < path.cols(); ++j) path(i, j) = baseline_[static_cast<std::size_t>(j)];
  }
  (void)explained(as_const(path), targets, base_values);
}

void Attributor::method(ConstMatrixMap x, std::span<const std::int32_t> targets, MatrixMap sum,
                        std::span<double> values, std::span<double> base_values, std::span<double> gaps) {
  const std::int64_t rows = x.rows(), f = x.cols();
  baseline_values(rows, targets, base_values);
  MatrixMap path = top_rows(path_, rows);
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> attribution(rows, f);
  if (options_.method.method == Method::integrated_gradients) {
    attribution.setZero();
    for (std::size_t s = 0; s < quadrature_.alphas.size(); ++s) {
      const double alpha = quadrature_.alphas[s];
      for (std::int64_t i = 0; i < rows; ++i) {
        for (std::int64_t j = 0; j < f; ++j) {
          const double b = baseline_[static_cast<std::size_t>(j)];
          path(i, j) = static_cast<float>(b + alpha * (static_cast<double>(x(i, j)) - b));
        }
      }
      const ConstMatrixMap g =
          gradient(as_const(path), targets, std::span<double>(scratch_).first(static_cast<std::size_t>(rows)));
      attribution += quadrature_.weights[s] * g.cast<double>();
    }
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t j = 0; j < f; ++j) {
        attribution(i, j) *= static_cast<double>(x(i, j)) - baseline_[static_cast<std::size_t>(j)];
      }
    }
    (void)explained(x, targets, values);
  } else {
    const ConstMatrixMap g = gradient(x, targets, values);
    if (options_.method.method == Method::saliency) {
      attribution = g.cast<double>().cwiseAbs();
    } else {
      attribution = g.cast<double>().cwiseProduct(x.cast<double>());
    }
  }
  for (std::int64_t i = 0; i < rows; ++i) {
    double total = 0.0;
    for (std::int64_t j = 0; j < f; ++j) total += attribution(i, j);
    const auto r = static_cast<std::size_t>(i);
    gaps[r] += total - (values[r] - base_values[r]);
  }
  sum += attribution.cast<float>();
}

void Attributor::attribute(ConstMatrixMap x, std::span<const std::int32_t> targets, std::int64_t first_index,
                           MatrixMap attributions, std::span<double> values, std::span<double> base_values,
                           std::span<double> gaps) {
  const std::int64_t rows = x.rows(), f = x.cols();
  if (path_.rows() < rows || path_.cols() != f) {
    path_.resize(rows, f);
    scratch_.resize(static_cast<std::size_t>(rows));
    scratch2_.resize(static_cast<std::size_t>(rows));
    scratch3_.resize(static_cast<std::size_t>(rows));
  }
  attributions.setZero();
  std::fill(gaps.begin(), gaps.end(), 0.0);
  if (!options_.method.smoothgrad) {
    method(x, targets, attributions, values, base_values, gaps);
    return;
  }
  if (noisy_.rows() < rows || noisy_.cols() != f) noisy_.resize(rows, f);
  MatrixMap noisy = top_rows(noisy_, rows);
  const auto n = static_cast<std::size_t>(rows);
  for (int s = 0; s < options_.samples; ++s) {
    for (std::int64_t i = 0; i < rows; ++i) {
      const float lo = x.row(i).minCoeff(), hi = x.row(i).maxCoeff();
      const double sigma = options_.noise * (static_cast<double>(hi) - lo);
      base::SplitMix64 rng(base::keyed_seed(
          {options_.seed, smoothgrad_key, static_cast<std::uint64_t>(first_index + i), static_cast<std::uint64_t>(s)}));
      for (std::int64_t j = 0; j < f; ++j) noisy(i, j) = static_cast<float>(x(i, j) + sigma * normal(rng));
    }
    method(as_const(noisy), targets, attributions, std::span<double>(scratch2_).first(n),
           std::span<double>(scratch3_).first(n), gaps);
  }
  const double copies = options_.samples;
  attributions /= static_cast<float>(copies);
  for (double& g : gaps) g /= copies;
  baseline_values(rows, targets, base_values);  // f(x′) and f(x) of the clean input
  (void)explained(x, targets, values);
}

}  // namespace mpitrain::explain
