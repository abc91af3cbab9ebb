#pragma once
/// @file attribution.hpp
/// Gradient attributions of one chunk of samples: each a forward pass in evaluation mode and an input-
/// gradient backward pass (nn::Model::input_gradient: no weight gradients). Rows are samples, columns the
/// model's input features (base/tensor.hpp). A row's result depends on that row and the chunk's shape only,
/// so chunks cut at fixed global positions give the same values at any world size.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/base/tensor.hpp"
#include "mpitrain/explain/quadrature.hpp"
#include "mpitrain/explain/target.hpp"
#include "mpitrain/nn/model.hpp"

namespace mpitrain::explain {

/// The gradient methods.
enum class Method {
  /// |∂f/∂x| (Simonyan, Vedaldi and Zisserman 2013; Captum's Saliency, abs=True).
  saliency,
  /// x ⊙ ∂f/∂x (Shrikumar et al. 2016).
  gradient_x_input,
  /// (x − x′) ⊙ Σ_i w_i ∂f/∂x(x′ + α_i(x − x′)) (Sundararajan, Taly and Yan, ICML 2017, eq. 3 with a
  /// quadrature rule in place of the Riemann sum).
  integrated_gradients,
};

/// A method as named on the command line, possibly wrapped in SmoothGrad.
struct MethodChoice {
  Method method = Method::saliency;
  bool smoothgrad = false;  ///< Average the method over noisy copies of the input (Smilkov et al. 2017).
};

/// `saliency`, `gradient_x_input`, `integrated_gradients`, or `smoothgrad:<one of them>`.
/// @throws std::invalid_argument "--method NAME: unknown method (expected ...)".
MethodChoice parse_method(const std::string& name);
/// The option value of @p method (without smoothgrad).
std::string to_string(Method method);

/// Settings of Attributor.
struct AttributionOptions {
  MethodChoice method;
  TargetOutput output = TargetOutput::probability;
  QuadratureRule rule = QuadratureRule::gauss_legendre;  ///< Integrated gradients' rule.
  int steps = 50;               ///< Integrated gradients' points.
  int samples = 10;             ///< SmoothGrad's noisy copies per sample.
  double noise = 0.15;          ///< SmoothGrad's σ as a share of the sample's range max(x) − min(x).
  std::uint64_t seed = 0;       ///< SmoothGrad's noise: drawn from (seed, global sample index, copy).
};

/// Attributions of one chunk (not thread-safe: it drives the model).
class Attributor {
 public:
  /// @param model in evaluation mode, reserve()d for the chunk rows. @param baseline input_size() values:
  ///        x′ of integrated gradients and f(x′) of base_values (zeros, or the training mean).
  /// @throws std::invalid_argument when the baseline's length differs from the model's input width.
  Attributor(nn::Model& model, AttributionOptions options, std::vector<float> baseline);

  /// Fills the outputs for the rows of @p x (rows × input_size()).
  /// @param targets rows: the explained class of each row. @param first_index the global index of row 0
  ///        (SmoothGrad's noise key).
  /// @param attributions rows × input_size() (written). @param values rows: f(x) (written).
  /// @param base_values rows: f(x′) (written). @param gaps rows (written): the completeness gap
  ///        Σ_j a_j − (f(x) − f(x′)), near 0 for integrated gradients only; under SmoothGrad the mean of
  ///        each noisy copy's gap, with f of that copy.
  void attribute(base::ConstMatrixMap x, std::span<const std::int32_t> targets, std::int64_t first_index,
                 base::MatrixMap attributions, std::span<double> values, std::span<double> base_values,
                 std::span<double> gaps);

  /// The settings given to the constructor.
  [[nodiscard]] const AttributionOptions& options() const { return options_; }

 private:
  // Forwards @p x, writes f into @p values and returns d f / d logits (rows × K).
  base::MatrixMap explained(base::ConstMatrixMap x, std::span<const std::int32_t> targets, std::span<double> values);
  // f(x′) of @p rows rows into @p base_values.
  void baseline_values(std::int64_t rows, std::span<const std::int32_t> targets, std::span<double> base_values);
  // d f / d x at the rows of @p x (also f into @p values); valid until the next call.
  base::ConstMatrixMap gradient(base::ConstMatrixMap x, std::span<const std::int32_t> targets,
                                std::span<double> values);
  // The method without SmoothGrad, summed (+=) into @p sum; its gap and f(x) into @p gaps and @p values.
  void method(base::ConstMatrixMap x, std::span<const std::int32_t> targets, base::MatrixMap sum,
              std::span<double> values, std::span<double> base_values, std::span<double> gaps);

  nn::Model& model_;
  AttributionOptions options_;
  std::vector<float> baseline_;
  Quadrature quadrature_;
  base::RowMatrix grad_output_;  // rows × K
  base::RowMatrix path_;         // rows × F: a point on the path, or a noisy copy
  base::RowMatrix noisy_;        // rows × F: SmoothGrad's copy
  base::RowMatrix step_sum_;     // rows × F: Σ_i w_i ∂f/∂x along the path
  std::vector<double> scratch_;  // rows: values of a point
  std::vector<double> scratch2_; // rows
  std::vector<double> scratch3_; // rows
};

}  // namespace mpitrain::explain
