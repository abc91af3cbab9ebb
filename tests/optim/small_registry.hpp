#pragma once
// The parameter layout of the optim tests: one Dense layer's 2 × 2 kernel (flagged for decay, elements 0..3
// of the flat buffers) followed by its bias of 2 (not decayed, elements 4..5).
#include "mpitrain/nn/parameters.hpp"

namespace mpitrain::optim::test_support {

inline nn::ParameterRegistry kernel_and_bias() {
  nn::ParameterRegistry registry;
  registry.add("dense", "dense/kernel:0", {2, 2}, nn::InitRule::glorot_uniform(2, 2), true);
  registry.add("dense", "dense/bias:0", {2}, nn::InitRule::zeros(), false);
  return registry;
}

}  // namespace mpitrain::optim::test_support
