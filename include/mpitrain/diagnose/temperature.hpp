#pragma once
/// @file temperature.hpp
/// Temperature scaling (Guo et al., ICML 2017, section 4.2): the logits z of every sample are divided by
/// one T > 0 fitted by minimising the negative log-likelihood on held-out data. Fitted here in β = 1/T,
/// in which the NLL is convex, by Newton's method.

#include <cstdint>
#include <functional>
#include <span>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/diagnose/rank_logits.hpp"

namespace mpitrain::diagnose {

/// Sums over samples of the softmax cross-entropy of the scaled logits β·z and of its first two derivatives
/// in β (nats).
struct NllSums {
  double nll = 0.0;        ///< Σ_i ℓ_i(β), ℓ_i(β) = log Σ_j exp(β z_ij) − β z_iy.
  double gradient = 0.0;   ///< Σ_i dℓ_i/dβ = Σ_i (E_p[z_i] − z_iy), p = softmax(β z_i).
  double curvature = 0.0;  ///< Σ_i d²ℓ_i/dβ² = Σ_i Var_p(z_i) >= 0.
  double count = 0.0;      ///< Samples.
};

/// The NllSums of the rows of @p logits (rows × K) with their @p labels at @p beta, in double.
/// @throws std::invalid_argument when the labels are not one per row or a label is outside [0, K).
NllSums nll_sums(base::ConstMatrixMap logits, std::span<const std::int32_t> labels, double beta);

/// nll_sums of every rank's @p local logits at @p beta, summed in chunk order (sum_over_chunks): identical
/// on every rank and at any world size. Collective. @throws dist::MpiError.
NllSums nll_sums(const RankLogits& local, double beta, const dist::Communicator& comm);

/// The result of fit_temperature.
struct TemperatureFit {
  double temperature = 1.0;  ///< T = 1/β at the minimum (or at a bound, see converged).
  int evaluations = 0;       ///< Calls of the NLL sums (each a reduction across ranks when distributed).
  bool converged = false;    ///< false: the minimum lies beyond β in [1e-4, 1e4] (T clamped) or 100 steps ran.
};

/// Minimises NLL(β) = Σ_i ℓ_i(β) over β > 0 from β = 1 by Newton's method, β ← β − NLL'(β) / NLL''(β),
/// halving a step that would leave [1e-4, 1e4] or raise the NLL. NLL is convex in β (each ℓ_i is a
/// log-sum-exp of functions affine in β; Boyd and Vandenberghe, Convex Optimization, 3.1.5 and 3.2.2), so
/// a stationary point is the global minimum and Newton's method converges to it quadratically near it;
/// it stops when a step changes β by less than 1e-12·β or the gradient is 0.
/// @param sums the NllSums of the calibration set at β: called the same number of times with the same
///        arguments on every rank when its sums are the same on every rank, so the ranks stay in step.
TemperatureFit fit_temperature(const std::function<NllSums(double beta)>& sums);

}  // namespace mpitrain::diagnose
