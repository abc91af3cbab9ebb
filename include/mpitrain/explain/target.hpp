#pragma once
/// @file target.hpp
/// What an attribution explains: one scalar per sample, the softmax probability (default, the Integrated
/// Gradients authors' advice) or the logit of a target class, and its gradient with respect to the logits.

#include <cstdint>
#include <span>
#include <string>

#include "mpitrain/base/tensor.hpp"

namespace mpitrain::explain {

/// The explained output of the target class c.
enum class TargetOutput {
  probability,  ///< p_c = softmax(z)_c; d p_c / d z_j = p_c·(δ_cj − p_j).
  logit,        ///< z_c; its gradient is the one-hot row of c.
};

/// `--target-output probability|logit`. @throws std::invalid_argument naming the option and the value.
TargetOutput parse_target_output(const std::string& name);
/// The option value of @p output.
std::string to_string(TargetOutput output);

/// Which class each sample's attribution explains (`--target`).
struct TargetChoice {
  enum class Kind { predicted, true_class, fixed };
  Kind kind = Kind::predicted;  ///< The arg-max logit, the label, or one class for every sample.
  int fixed_class = 0;          ///< The class when kind is fixed.
};

/// `--target predicted|true|K` with K in [0, @p classes).
/// @throws std::invalid_argument "--target VALUE: ..." naming the range for a class out of it.
TargetChoice parse_target(const std::string& text, int classes);

/// The explained scalar of each row and its gradient with respect to the logits.
/// @param logits rows × K. @param targets rows, each in [0, K). @param values rows (written): p_c or z_c
///        (the probability from a max-shifted softmax in double precision).
/// @param grad rows × K (written): d value / d logits, to feed nn::Model::input_gradient.
void explained_outputs(base::ConstMatrixMap logits, std::span<const std::int32_t> targets, TargetOutput output,
                       std::span<double> values, base::MatrixMap grad);

}  // namespace mpitrain::explain
