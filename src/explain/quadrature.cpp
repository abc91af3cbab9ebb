#include "mpitrain/explain/quadrature.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace mpitrain::explain {

namespace {

// Gauss–Legendre on [-1, 1], mapped to [0, 1]. The roots are symmetric: the k-th from the top and bottom
// are found together.
Quadrature gauss_legendre(int n) {
  Quadrature q;
  q.alphas.assign(static_cast<std::size_t>(n), 0.0);
  q.weights.assign(static_cast<std::size_t>(n), 0.0);
  for (int k = 1; k <= (n + 1) / 2; ++k) {
    double x = std::cos(std::numbers::pi * (k - 0.25) / (n + 0.5));
    double derivative = 0.0;
    for (int iteration = 0; iteration < 100; ++iteration) {
      double p0 = 1.0, p1 = x;  // P_0, P_1, then Bonnet's recursion (j+1)P_{j+1} = (2j+1)xP_j - jP_{j-1}
      for (int j = 1; j < n; ++j) {
        const double p2 = ((2.0 * j + 1.0) * x * p1 - j * p0) / (j + 1.0);
        p0 = p1;
        p1 = p2;
      }
      derivative = n * (x * p1 - p0) / (x * x - 1.0);  // P_n'(x)
      const double step = p1 / derivative;
      x -= step;
      if (std::abs(step) < 1e-16) break;
    }
    const double w = 2.0 / ((1.0 - x * x) * derivative * derivative);
    const auto lo = static_cast<std::size_t>(k - 1), hi = static_cast<std::size_t>(n - k);
    q.alphas[lo] = 0.5 * (1.0 - x);
    q.alphas[hi] = 0.5 * (1.0 + x);
    q.weights[lo] = q.weights[hi] = 0.5 * w;
  }
  return q;
}

}  // namespace

QuadratureRule parse_quadrature_rule(const std::string& name) {
  if (name == "gausslegendre") return QuadratureRule::gauss_legendre;
  if (name == "riemann_left") return QuadratureRule::riemann_left;
  if (name == "riemann_right") return QuadratureRule::riemann_right;
  if (name == "riemann_middle") return QuadratureRule::riemann_middle;
  if (name == "riemann_trapezoid") return QuadratureRule::riemann_trapezoid;
  throw std::invalid_argument("--quadrature: unknown rule '" + name +
                              "' (expected gausslegendre, riemann_left, riemann_right, riemann_middle or "
                              "riemann_trapezoid)");
}

std::string to_string(QuadratureRule rule) {
  switch (rule) {
    case QuadratureRule::gauss_legendre: return "gausslegendre";
    case QuadratureRule::riemann_left: return "riemann_left";
    case QuadratureRule::riemann_right: return "riemann_right";
    case QuadratureRule::riemann_middle: return "riemann_middle";
    case QuadratureRule::riemann_trapezoid: return "riemann_trapezoid";
  }
  return "?";
}

Quadrature quadrature(QuadratureRule rule, int n) {
  const int least = rule == QuadratureRule::riemann_trapezoid ? 2 : min_quadrature_points;
  if (n < least || n > max_quadrature_points) {
    throw std::invalid_argument("--steps " + std::to_string(n) + ": must be in [" + std::to_string(least) + ", " +
                                std::to_string(max_quadrature_points) + "] for the " + to_string(rule) + " rule");
  }
  if (rule == QuadratureRule::gauss_legendre) return gauss_legendre(n);
  Quadrature q;
  for (int k = 0; k < n; ++k) {
    switch (rule) {
      case QuadratureRule::riemann_left: q.alphas.push_back(double(k) / n); break;
      case QuadratureRule::riemann_right: q.alphas.push_back(double(k + 1) / n); break;
      case QuadratureRule::riemann_middle: q.alphas.push_back((k + 0.5) / n); break;
      default: q.alphas.push_back(double(k) / (n - 1)); break;
    }
    const bool end = k == 0 || k == n - 1;
    q.weights.push_back(rule == QuadratureRule::riemann_trapezoid ? (end ? 0.5 : 1.0) / (n - 1) : 1.0 / n);
  }
  return q;
}

}  // namespace mpitrain::explain
