#include "mpitrain/nn/matmul.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <oneapi/dnnl/dnnl.hpp>
#include <stdexcept>
#include <vector>

#include "mpitrain/base/tensor.hpp"
#include "onednn.hpp"

namespace mpitrain::nn {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  throw std::invalid_argument("train.precision: unknown value '" + name + "' (expected fp32 or bf16)");
}

std::string to_string(Precision precision) { return precision == Precision::bf16 ? "bf16" : "fp32"; }

void set_compute_threads(int threads) {
  if (threads < 1) throw std::invalid_argument("compute threads must be >= 1, got " + std::to_string(threads));
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
}

using onednn::cpu_engine;

namespace {

// One operand's layout as oneDNN reads it: up to 4 dimensions and their strides (in elements), held in fixed
// arrays so that looking a primitive up allocates nothing.
struct Operand {
  int ndims = 0;
  std::array<std::int64_t, 4> shape{}, strides{};
  bool operator==(const Operand&) const = default;
  [[nodiscard]] dnnl::memory::desc desc(dnnl::memory::data_type type) const {
    const dnnl::memory::dims d(shape.begin(), shape.begin() + ndims), st(strides.begin(), strides.begin() + ndims);
    return {d, type, st};
  }
};

struct Layouts {
  Operand a, b, c;
  dnnl::memory::data_type type;                                     // of A and B
  dnnl::memory::data_type out = dnnl::memory::data_type::f32;       // of C
  bool bias = false;                                                // a row of C's columns, fp32, added
  bool operator==(const Layouts&) const = default;
};

// oneDNN matmul primitives cached per layout and element type (the newest 8), with one scratchpad sized for
// the largest: what MatrixProduct and BatchedMatrixProduct share. C = A·B, or C += A·B with @p accumulate.
class MatmulCache {
 public:
  explicit MatmulCache(bool accumulate) : accumulate_(accumulate) {}

  // @p describe names the product in errors (called only on failure).
  template <class Describe>
  void run(const Layouts& layouts, const void* a, const void* b, void* c, Describe describe, const float* bias = nullptr) {
    Entry& e = entry(layouts, describe);
    if (layouts.bias) {
      onednn::execute(e.primitive, stream_,
                      {{DNNL_ARG_SRC, e.a, a}, {DNNL_ARG_WEIGHTS, e.b, b}, {DNNL_ARG_BIAS, e.bias, bias}, {DNNL_ARG_DST, e.c, c}},
                      e.scratchpad, scratchpad_.data(), "matrix product: oneDNN execute failed");
    } else {
      onednn::execute(e.primitive, stream_, {{DNNL_ARG_SRC, e.a, a}, {DNNL_ARG_WEIGHTS, e.b, b}, {DNNL_ARG_DST, e.c, c}},
                      e.scratchpad, scratchpad_.data(), "matrix product: oneDNN execute failed");
    }
  }
  [[nodiscard]] std::int64_t created() const { return created_; }
  [[nodiscard]] bool accumulate() const { return accumulate_; }

 private:
  struct Entry {
    Layouts layouts;
    dnnl::matmul primitive;
    dnnl::memory a, b, c, scratchpad, bias;
  };
  static constexpr std::size_t max_entries = 8;  // full slice, last slice, evaluation batches, ...

  template <class Describe>
  Entry& entry(const Layouts& layouts, Describe describe) {
    for (Entry& e : entries_) {
      if (e.layouts == layouts) return e;
    }
    const dnnl::memory::desc a_md = layouts.a.desc(layouts.type), b_md = layouts.b.desc(layouts.type);
    const dnnl::memory::desc c_md = layouts.c.desc(layouts.out);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate_) {
      dnnl::post_ops sum;
      sum.append_sum(1.0f);
      attr.set_post_ops(sum);
    }
    try {
      // The bias (when asked for): one row broadcast over C's leading dimensions.
      dnnl::memory::desc bias_md;
      if (layouts.bias) {
        dnnl::memory::dims bias_dims(static_cast<std::size_t>(layouts.c.ndims), 1);
        bias_dims.back() = layouts.c.shape[static_cast<std::size_t>(layouts.c.ndims - 1)];
        bias_md = dnnl::memory::desc(bias_dims, dnnl::memory::data_type::f32,
                                     layouts.c.ndims == 2 ? dnnl::memory::format_tag::ab : dnnl::memory::format_tag::abcd);
      }
      const dnnl::matmul::primitive_desc pd(
          layouts.bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md), attr,
          cpu_engine());
      const dnnl::memory::desc scratch_md = pd.scratchpad_desc();
      if (entries_.size() == max_entries) entries_.pop_front();
      entries_.push_back(Entry{layouts, dnnl::matmul(pd), dnnl::memory(a_md, cpu_engine(), nullptr),
                               dnnl::memory(b_md, cpu_engine(), nullptr), dnnl::memory(c_md, cpu_engine(), nullptr),
                               dnnl::memory(scratch_md, cpu_engine(), nullptr),
                               layouts.bias ? dnnl::memory(bias_md, cpu_engine(), nullptr) : dnnl::memory()});
      scratchpad_.reserve(scratch_md.get_size());
    } catch (const dnnl::error& e) {
      throw std::runtime_error(describe() + " (" + (layouts.type == dnnl::memory::data_type::bf16 ? "bf16" : "fp32") +
                               " inputs): oneDNN has no implementation on this CPU (" + e.what() + ")");
    }
    ++created_;
    return entries_.back();
  }

  bool accumulate_;
  dnnl::stream stream_{cpu_engine()};
  std::deque<Entry> entries_;        // deque: entries keep their address; newest last
  onednn::AlignedBuffer scratchpad_; // the largest entry's
  std::int64_t created_ = 0;
};

}  // namespace

struct MatrixProduct::Impl {
  Transpose transpose;
  MatmulCache cache;

  Impl(Transpose t, bool accumulate) : transpose(t), cache(accumulate) {}

  void run(const void* a, const void* b, float* c, std::int64_t m, std::int64_t n, std::int64_t k,
           dnnl::memory::data_type type, const float* bias = nullptr) {
    if (m < 0 || n < 0 || k < 0) {
      throw std::invalid_argument("matrix product: negative dimension (m " + std::to_string(m) + ", n " +
                                  std::to_string(n) + ", k " + std::to_string(k) + ")");
    }
    if (m == 0 || n == 0) return;
    if (k == 0) {  // an empty sum: the bias alone
      for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < n; ++j) {
          const float add = bias != nullptr ? bias[j] : 0.0f;
          c[i * n + j] = cache.accumulate() ? c[i * n + j] + add : add;
        }
      }
      return;
    }
    // Row-major storage as strides: A is m × k, read from k × m storage when transposed; B likewise.
    const Layouts layouts{
        Operand{2, {m, k}, transpose == Transpose::a ? std::array<std::int64_t, 4>{1, m} : std::array<std::int64_t, 4>{k, 1}},
        Operand{2, {k, n}, transpose == Transpose::b ? std::array<std::int64_t, 4>{1, k} : std::array<std::int64_t, 4>{n, 1}},
        Operand{2, {m, n}, {n, 1}}, type, dnnl::memory::data_type::f32, bias != nullptr};
    cache.run(
        layouts, a, b, c,
        [&] {
          return "matrix product " + std::to_string(m) + " x " + std::to_string(k) + " by " + std::to_string(k) + " x " +
                 std::to_string(n);
        },
        bias);
  }
};

MatrixProduct::MatrixProduct(Transpose transpose, bool accumulate)
    : impl_(std::make_unique<Impl>(transpose, accumulate)) {}
MatrixProduct::~MatrixProduct() = default;
MatrixProduct::MatrixProduct(MatrixProduct&&) noexcept = default;
MatrixProduct& MatrixProduct::operator=(MatrixProduct&&) noexcept = default;

void MatrixProduct::run(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n, std::int64_t k) {
  impl_->run(a, b, c, m, n, k, dnnl::memory::data_type::f32);
}

void MatrixProduct::run(const std::uint16_t* a, const std::uint16_t* b, float* c, std::int64_t m, std::int64_t n,
                        std::int64_t k) {
  impl_->run(a, b, c, m, n, k, dnnl::memory::data_type::bf16);
}

void MatrixProduct::run(const std::uint16_t* a, const std::uint16_t* b, const float* bias, float* c, std::int64_t m,
                        std::int64_t n, std::int64_t k) {
  impl_->run(a, b, c, m, n, k, dnnl::memory::data_type::bf16, bias);
}

std::int64_t MatrixProduct::primitives_created() const { return impl_->cache.created(); }

namespace {
std::string describe(const MatrixBatch& m) {
  return "(" + std::to_string(m.batch) + " x " + std::to_string(m.groups) + ") matrices of " + std::to_string(m.rows) +
         " x " + std::to_string(m.cols) + ", strides (" + std::to_string(m.strides[0]) + ", " +
         std::to_string(m.strides[1]) + ", " + std::to_string(m.strides[2]) + ", " + std::to_string(m.strides[3]) + ")";
}
Operand operand(const MatrixBatch& m) {
  return {4, {m.batch, m.groups, m.rows, m.cols}, {m.strides[0], m.strides[1], m.strides[2], m.strides[3]}};
}
}  // namespace

struct BatchedMatrixProduct::Impl {
  MatmulCache cache{false};

  void run(const void* a, const MatrixBatch& al, const void* b, const MatrixBatch& bl, void* c, const MatrixBatch& cl,
           dnnl::memory::data_type type, dnnl::memory::data_type out) {
    const auto what = [&] {
      return "batched matrix product A " + describe(al) + " by B " + describe(bl) + " into C " + describe(cl);
    };
    const bool positive = al.batch > 0 && al.groups > 0 && al.rows > 0 && al.cols > 0 && bl.cols > 0;
    if (!positive || bl.batch != al.batch || cl.batch != al.batch || bl.groups != al.groups ||
        cl.groups != al.groups || bl.rows != al.cols || cl.rows != al.rows || cl.cols != bl.cols) {
      throw std::invalid_argument(what() + ": the grids or the inner sizes disagree, or a size is not positive");
    }
    cache.run(Layouts{operand(al), operand(bl), operand(cl), type, out}, a, b, c, what);
  }
};

BatchedMatrixProduct::BatchedMatrixProduct() : impl_(std::make_unique<Impl>()) {}
BatchedMatrixProduct::~BatchedMatrixProduct() = default;
BatchedMatrixProduct::BatchedMatrixProduct(BatchedMatrixProduct&&) noexcept = default;
BatchedMatrixProduct& BatchedMatrixProduct::operator=(BatchedMatrixProduct&&) noexcept = default;

void BatchedMatrixProduct::run(const float* a, const MatrixBatch& a_layout, const float* b, const MatrixBatch& b_layout,
                               float* c, const MatrixBatch& c_layout) {
  impl_->run(a, a_layout, b, b_layout, c, c_layout, dnnl::memory::data_type::f32, dnnl::memory::data_type::f32);
}

void BatchedMatrixProduct::run(const std::uint16_t* a, const MatrixBatch& a_layout, const std::uint16_t* b,
                               const MatrixBatch& b_layout, float* c, const MatrixBatch& c_layout) {
  impl_->run(a, a_layout, b, b_layout, c, c_layout, dnnl::memory::data_type::bf16, dnnl::memory::data_type::f32);
}

void BatchedMatrixProduct::run(const std::uint16_t* a, const MatrixBatch& a_layout, const std::uint16_t* b,
                               const MatrixBatch& b_layout, std::uint16_t* c, const MatrixBatch& c_layout) {
  impl_->run(a, a_layout, b, b_layout, c, c_layout, dnnl::memory::data_type::bf16, dnnl::memory::data_type::bf16);
}

std::int64_t BatchedMatrixProduct::primitives_created() const { return impl_->cache.created(); }

}  // namespace mpitrain::nn
