#include "mpitrain/nn/causal_self_attention.hpp"

#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "mpitrain/base/float16.hpp"

namespace mpitrain::nn {

namespace {
Shape attention_output(const std::string& name, const Shape& input, std::int64_t heads) {
  const std::string layer = "layer " + name + " (causal_self_attention): ";
  if (input.size() != 2) {
    throw std::invalid_argument(layer + "input shape " + base::format_shape(input) +
                                " is not two-dimensional (tokens, 3 x channels)");
  }
  if (input[1] % 3 != 0) {
    throw std::invalid_argument(layer + "input shape " + base::format_shape(input) +
                                ": the last axis must hold q, k and v (a multiple of 3)");
  }
  if (heads < 1 || (input[1] / 3) % heads != 0) {
    throw std::invalid_argument(layer + "heads = " + std::to_string(heads) + " must be >= 1 and divide the " +
                                std::to_string(input[1] / 3) + " channels of input shape " + base::format_shape(input));
  }
  return {input[0], input[1] / 3};
}
}  // namespace

CausalSelfAttention::CausalSelfAttention(std::string name, const Shape& input_shape, std::int64_t heads)
    : Layer(name, input_shape, attention_output(name, input_shape, heads)),
      tokens_(input_shape[0]),
      channels_(input_shape[1] / 3),
      heads_(heads),
      head_size_(channels_ / heads) {}

void CausalSelfAttention::reserve(std::int64_t max_rows) {
  if (y_.rows() < max_rows) {
    y_.resize(max_rows, outputs());
    probabilities_.resize(max_rows, heads_ * tokens_ * tokens_);
  }
  const bool bf16 = precision() == Precision::bf16;
  const auto grow = [max_rows](auto& matrix, std::int64_t cols) {
    if (matrix.rows() < max_rows) matrix.resize(max_rows, cols);
  };
  if (bf16) {
    grow(qkv16_, inputs());
    grow(probabilities16_, heads_ * tokens_ * tokens_);
  } else {
    grow(qkv32_, inputs());
  }
  if (input_gradient()) {
    grow(dx_, inputs());
    grow(dp_, heads_ * tokens_ * tokens_);
    if (bf16) {
      grow(dy16_, outputs());
    } else {
      grow(dy32_, outputs());
    }
  }
}

namespace {
// Copies the heads of @p rows rows of [part 0 | part 1 | ...] per position (T positions, parts × H × d values
// each: q|k|v, or y) into head-major blocks, part p's at @p out + p·rows·T·H·d, (sample, head) h of sample n
// at ((n·H + h)·T + t)·d: each (sample, head) a dense T × d matrix, the layout in which oneDNN's batched
// products run its brgemm kernels (on the strided views it falls back to a 40% slower gemm). Rounds to bf16
// when Out is std::uint16_t.
template <class Out>
void to_head_major(const float* in, Out* out, std::int64_t rows, std::int64_t t, std::int64_t parts, std::int64_t heads,
                   std::int64_t d) {
  const std::int64_t width = parts * heads * d, block = rows * t * heads * d;
  for (std::int64_t n = 0; n < rows; ++n) {
    for (std::int64_t i = 0; i < t; ++i) {
      const float* position = in + (n * t + i) * width;
      for (std::int64_t part = 0; part < parts; ++part) {
        for (std::int64_t h = 0; h < heads; ++h) {
          const float* from = position + (part * heads + h) * d;
          Out* to = out + part * block + ((n * heads + h) * t + i) * d;
          for (std::int64_t j = 0; j < d; ++j) {
            if constexpr (std::is_same_v<Out, float>) {
              to[j] = from[j];
            } else {
              to[j] = base::float_to_bf16(from[j]);
            }
          }
        }
      }
    }
  }
}
}  // namespace

// The (sample, head) grids of the batched products: Q, K, V, dY dense T × d each (head-major copies); P, S, dP,
// dS dense T × T each; Y (T × d of rows × (T·C)) and dQ, dK, dV (of rows × (T·3C)) strided views.
MatrixBatch CausalSelfAttention::head_major() const {
  const std::int64_t t = tokens_, d = head_size_;
  return {rows_, heads_, t, d, {heads_ * t * d, t * d, d, 1}};
}
MatrixBatch CausalSelfAttention::square() const {
  const std::int64_t t = tokens_;
  return {rows_, heads_, t, t, {heads_ * t * t, t * t, t, 1}};
}
MatrixBatch CausalSelfAttention::in_sequence(std::int64_t width) const {
  const std::int64_t t = tokens_, d = head_size_;
  return {rows_, heads_, t, d, {t * width, d, width, 1}};
}

template <class Out>
void CausalSelfAttention::attend(ConstMatrixMap x, Out* y) {
  rows_ = x.rows();
  if (rows_ == 0) return;
  const std::int64_t t = tokens_, block = rows_ * tokens_ * channels_;  // block: one of Q, K, V
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_size_));
  const bool bf16 = precision() == Precision::bf16;
  if (rows_ > (bf16 ? qkv16_.rows() : qkv32_.rows())) {
    throw std::invalid_argument("layer " + name() + " (causal_self_attention): " + std::to_string(rows_) +
                                " rows but reserve() allowed fewer");
  }
  const MatrixBatch q = head_major();
  // S = Q·Kᵀ for every (sample, head) into probabilities_, then the causal softmax in place.
  if (bf16) {
    to_head_major(x.data(), qkv16_.data(), rows_, t, 3, heads_, head_size_);
    scores_.run(qkv16_.data(), q, qkv16_.data() + block, q.transposed(), probabilities_.data(), square());
  } else {
    to_head_major(x.data(), qkv32_.data(), rows_, t, 3, heads_, head_size_);
    scores_.run(qkv32_.data(), q, qkv32_.data() + block, q.transposed(), probabilities_.data(), square());
  }
  const std::int64_t matrices = rows_ * heads_;
  for (std::int64_t m = 0; m < matrices; ++m) {
    MatrixMap p(probabilities_.data() + m * t * t, t, t);
    for (std::int64_t i = 0; i < t; ++i) {  // the causal softmax of row i over columns 0..i (vectorised exp)
      auto row = p.row(i).head(i + 1).array();
      const float top = row.maxCoeff();
      row = ((row - top) * scale).exp();
      row /= row.sum();
      p.row(i).tail(t - i - 1).setZero();
    }
    if (bf16) {
      base::round_to_bf16({p.data(), static_cast<std::size_t>(t * t)},
                          {probabilities16_.data() + m * t * t, static_cast<std::size_t>(t * t)});
    }
  }
  // Y = P·V.
  if (bf16) {
    values_.run(probabilities16_.data(), square(), qkv16_.data() + 2 * block, q, y, in_sequence(channels_));
  } else if constexpr (std::is_same_v<Out, float>) {
    values_.run(probabilities_.data(), square(), qkv32_.data() + 2 * block, q, y, in_sequence(channels_));
  }
}

template <class Out>
void CausalSelfAttention::attend_backward(ConstMatrixMap dy, Out* dx) {
  if (rows_ == 0) return;
  const std::int64_t t = tokens_, c = channels_, block = rows_ * tokens_ * channels_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_size_));
  const bool bf16 = precision() == Precision::bf16;
  const MatrixBatch q = head_major(), grad = in_sequence(3 * c);
  // dV = Pᵀ·dY and dP = dY·Vᵀ.
  if (bf16) {
    to_head_major(dy.data(), dy16_.data(), rows_, t, 1, heads_, head_size_);
    value_gradient_.run(probabilities16_.data(), square().transposed(), dy16_.data(), q, dx + 2 * c, grad);
    probability_gradient_.run(dy16_.data(), q, qkv16_.data() + 2 * block, q.transposed(), dp_.data(), square());
  } else if constexpr (std::is_same_v<Out, float>) {
    to_head_major(dy.data(), dy32_.data(), rows_, t, 1, heads_, head_size_);
    value_gradient_.run(probabilities_.data(), square().transposed(), dy32_.data(), q, dx + 2 * c, grad);
    probability_gradient_.run(dy32_.data(), q, qkv32_.data() + 2 * block, q.transposed(), dp_.data(), square());
  }
  // dS = P ∘ (dP − rowsum(dP ∘ P)), times the scale of S, zero above the diagonal: in place in dp_, and at
  // bf16 rounded into probabilities16_ (P's copy is no longer needed).
  const std::int64_t matrices = rows_ * heads_;
  for (std::int64_t m = 0; m < matrices; ++m) {
    MatrixMap ds(dp_.data() + m * t * t, t, t);
    const ConstMatrixMap p(probabilities_.data() + m * t * t, t, t);
    for (std::int64_t i = 0; i < t; ++i) {
      auto dp_row = ds.row(i).head(i + 1).array();
      const auto p_row = p.row(i).head(i + 1).array();
      const float dot = (dp_row * p_row).sum();
      dp_row = p_row * (dp_row - dot) * scale;
      ds.row(i).tail(t - i - 1).setZero();
    }
    if (bf16) {
      base::round_to_bf16({ds.data(), static_cast<std::size_t>(t * t)},
                          {probabilities16_.data() + m * t * t, static_cast<std::size_t>(t * t)});
    }
  }
  // dQ = dS·K and dK = dSᵀ·Q.
  if (bf16) {
    query_gradient_.run(probabilities16_.data(), square(), qkv16_.data() + block, q, dx, grad);
    key_gradient_.run(probabilities16_.data(), square().transposed(), qkv16_.data(), q, dx + c, grad);
  } else if constexpr (std::is_same_v<Out, float>) {
    query_gradient_.run(dp_.data(), square(), qkv32_.data() + block, q, dx, grad);
    key_gradient_.run(dp_.data(), square().transposed(), qkv32_.data(), q, dx + c, grad);
  }
}

ConstMatrixMap CausalSelfAttention::forward(ConstMatrixMap x, const Context&) {
  attend(x, y_.data());
  return {y_.data(), rows_, outputs()};
}

ConstMatrixMap CausalSelfAttention::backward(ConstMatrixMap dy) {
  if (!input_gradient()) return {dx_.data(), 0, inputs()};
  attend_backward(dy, dx_.data());
  return {dx_.data(), rows_, inputs()};
}

namespace {
void check_rounded(const std::string& layer, Precision precision, std::size_t size, std::int64_t elements) {
  if (precision != Precision::bf16 || size < static_cast<std::size_t>(elements)) {
    throw std::invalid_argument("layer " + layer + " (causal_self_attention): a rounded output needs precision bf16 "
                                "and room for " + std::to_string(elements) + " values, got " +
                                to_string(precision) + " and " + std::to_string(size));
  }
}
}  // namespace

void CausalSelfAttention::forward_rounded(ConstMatrixMap x, std::span<std::uint16_t> y16) {
  check_rounded(name(), precision(), y16.size(), x.rows() * outputs());
  attend(x, y16.data());
}

void CausalSelfAttention::backward_rounded(ConstMatrixMap dy, std::span<std::uint16_t> dx16) {
  check_rounded(name(), precision(), dx16.size(), rows_ * inputs());
  if (!input_gradient()) throw std::logic_error("layer " + name() + ": backward_rounded without input gradient");
  attend_backward(dy, dx16.data());
}

std::int64_t CausalSelfAttention::flops_per_sample() const {
  const std::int64_t product = 2 * tokens_ * tokens_ * channels_;
  return product * (input_gradient() ? 6 : 2);
}

}  // namespace mpitrain::nn
