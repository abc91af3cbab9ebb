#pragma once
/// @file quadrature.hpp
/// The quadrature rules of integrated gradients: points α_i in [0, 1] and weights w_i with
/// ∫₀¹ g(α) dα ≈ Σ_i w_i·g(α_i). Defined as Captum's approximation_methods.py defines them, so that
/// `--steps N` means what it means there.

#include <string>
#include <vector>

namespace mpitrain::explain {

/// A rule for ∫₀¹ over n points.
enum class QuadratureRule {
  gauss_legendre,     ///< Gauss–Legendre on [0, 1]: α = (1 + x)/2, w = w_GL/2 (numpy's leggauss mapped).
  riemann_left,       ///< α_k = k/n, w = 1/n, k = 0..n-1.
  riemann_right,      ///< α_k = (k+1)/n, w = 1/n.
  riemann_middle,     ///< α_k = (k+½)/n, w = 1/n.
  riemann_trapezoid,  ///< α_k = k/(n-1), w = 1/(n-1), halved at both ends (n >= 2).
};

/// The points and weights of one rule, n of each.
struct Quadrature {
  std::vector<double> alphas;   ///< In [0, 1], increasing.
  std::vector<double> weights;  ///< Positive, summing to 1.
};

/// Smallest and largest accepted point counts (`--steps`).
inline constexpr int min_quadrature_points = 1;
inline constexpr int max_quadrature_points = 10000;

/// The rule named @p name: gausslegendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid.
/// @throws std::invalid_argument "--quadrature: unknown rule 'NAME' (expected ...)".
QuadratureRule parse_quadrature_rule(const std::string& name);
/// The option value of @p rule (as parse_quadrature_rule reads it).
std::string to_string(QuadratureRule rule);

/// The @p n points and weights of @p rule. Gauss–Legendre nodes are the roots of the Legendre polynomial
/// P_n found by Newton's method from Tricomi's approximation cos(π(k − ¼)/(n + ½)), weights
/// 2/((1 − x²)·P_n'(x)²) (Abramowitz and Stegun 25.4.29), in double precision.
/// @throws std::invalid_argument "--steps N: ..." when n is outside [1, 10000], or below 2 for the trapezoid.
Quadrature quadrature(QuadratureRule rule, int n);

}  // namespace mpitrain::explain
