#include "mpitrain/diagnose/quantization.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mpitrain::diagnose {

QuantizedTensor quantize_int8(const nn::ParameterInfo& tensor, std::span<const float> values) {
  if (static_cast<std::int64_t>(values.size()) != tensor.size()) {
    throw std::invalid_argument("quantize_int8: " + std::to_string(values.size()) + " values for " + tensor.name +
                                " of " + std::to_string(tensor.size()));
  }
  const auto channels = static_cast<std::size_t>(tensor.shape.back());
  QuantizedTensor q{tensor.name, std::vector<std::int8_t>(values.size()), std::vector<float>(channels, 0.0f)};
  std::vector<float> largest(channels, 0.0f);
  for (std::size_t i = 0; i < values.size(); ++i) {
    largest[i % channels] = std::max(largest[i % channels], std::abs(values[i]));
  }
  for (std::size_t c = 0; c < channels; ++c) q.scales[c] = largest[c] / 127.0f;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float scale = q.scales[i % channels];
    if (scale == 0.0f) continue;
    const double level = std::round(static_cast<double>(values[i]) / static_cast<double>(scale));
    q.values[i] = static_cast<std::int8_t>(std::clamp(level, -127.0, 127.0));
  }
  return q;
}

void dequantize(const QuantizedTensor& q, std::span<float> out) {
  if (out.size() != q.values.size() || q.scales.empty()) {
    throw std::invalid_argument("dequantize " + q.name + ": " + std::to_string(q.values.size()) + " values into " +
                                std::to_string(out.size()));
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<float>(q.values[i] * static_cast<double>(q.scales[i % q.scales.size()]));
  }
}

}  // namespace mpitrain::diagnose
