#pragma once
/// @file quantization.hpp
/// Post-training int8 weight quantization, symmetric, one scale per output channel (Jacob et al.,
/// "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR
/// 2018, with the zero point 0; Krishnamoorthi, arXiv:1806.08342, section 2.1, per-channel).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::diagnose {

/// One tensor in int8: value[i] ≈ values[i] · scales[i mod C], C = the last dimension (the output
/// channels of a Dense kernel (inputs, units) or a Conv2D kernel (kh, kw, C_in, filters)).
struct QuantizedTensor {
  std::string name;                 ///< The registry name of the tensor.
  std::vector<std::int8_t> values;  ///< The tensor's element count, registry layout; in [-127, 127].
  std::vector<float> scales;        ///< C scales: max_i |w_ic| / 127 (0 for an all-zero channel).
};

/// Quantizes @p values (the tensor @p tensor, registry layout): per channel c, scale_c = max |w_ic| / 127
/// (float) and q_ic = round(w_ic / scale_c) (to nearest, ties away from zero; computed in double), so
/// |w_ic − q_ic · scale_c| <= scale_c / 2 up to one float rounding.
/// @throws std::invalid_argument when @p values does not have the tensor's element count.
QuantizedTensor quantize_int8(const nn::ParameterInfo& tensor, std::span<const float> values);

/// Writes q_ic · scale_c (as float) into @p out. @throws std::invalid_argument for a size mismatch.
void dequantize(const QuantizedTensor& q, std::span<float> out);

}  // namespace mpitrain::diagnose
