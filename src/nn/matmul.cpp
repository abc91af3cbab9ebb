#include "mpitrain/nn/matmul.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
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

struct MatrixProduct::Impl {
  struct Entry {
    std::int64_t m, n, k;
    dnnl::memory::data_type type;
    dnnl::matmul primitive;
    dnnl::memory a, b, c, scratchpad;
    std::size_t scratchpad_bytes;
  };

  Transpose transpose;
  bool accumulate;
  dnnl::stream stream{cpu_engine()};
  std::deque<Entry> entries;           // deque: entries keep their address; newest last
  onednn::AlignedBuffer scratchpad;    // the largest entry's
  std::int64_t created = 0;

  static constexpr std::size_t max_entries = 8;  // full slice, last slice, evaluation batches, ...

  Entry& entry(std::int64_t m, std::int64_t n, std::int64_t k, dnnl::memory::data_type type) {
    for (Entry& e : entries) {
      if (e.m == m && e.n == n && e.k == k && e.type == type) return e;
    }
    return create(m, n, k, type);
  }

  Entry& create(std::int64_t m, std::int64_t n, std::int64_t k, dnnl::memory::data_type type) {
    using dims = dnnl::memory::dims;
    using dt = dnnl::memory::data_type;
    // Row-major storage as strides: A is m × k, read from k × m storage when transposed; B likewise.
    const dnnl::memory::desc a_md({m, k}, type, transpose == Transpose::a ? dims{1, m} : dims{k, 1});
    const dnnl::memory::desc b_md({k, n}, type, transpose == Transpose::b ? dims{1, k} : dims{n, 1});
    const dnnl::memory::desc c_md({m, n}, dt::f32, dims{n, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate) {
      dnnl::post_ops sum;
      sum.append_sum(1.0f);
      attr.set_post_ops(sum);
    }
    try {
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, cpu_engine());
      const dnnl::memory::desc scratch_md = pd.scratchpad_desc();
      if (entries.size() == max_entries) entries.pop_front();
      entries.push_back(Entry{m, n, k, type, dnnl::matmul(pd), dnnl::memory(a_md, cpu_engine(), nullptr),
                              dnnl::memory(b_md, cpu_engine(), nullptr), dnnl::memory(c_md, cpu_engine(), nullptr),
                              dnnl::memory(scratch_md, cpu_engine(), nullptr), scratch_md.get_size()});
    } catch (const dnnl::error& e) {
      throw std::runtime_error("matrix product " + std::to_string(m) + " x " + std::to_string(k) + " by " +
                               std::to_string(k) + " x " + std::to_string(n) + " (" +
                               (type == dt::bf16 ? "bf16" : "fp32") + " inputs): oneDNN has no implementation "
                               "on this CPU (" + e.what() + ")");
    }
    ++created;
    Entry& e = entries.back();
    scratchpad.reserve(e.scratchpad_bytes);
    return e;
  }

  void run(const void* a, const void* b, float* c, std::int64_t m, std::int64_t n, std::int64_t k,
           dnnl::memory::data_type type) {
    if (m < 0 || n < 0 || k < 0) {
      throw std::invalid_argument("matrix product: negative dimension (m " + std::to_string(m) + ", n " +
                                  std::to_string(n) + ", k " + std::to_string(k) + ")");
    }
    if (m == 0 || n == 0) return;
    if (k == 0) {  // an empty sum
      if (!accumulate) std::fill_n(c, m * n, 0.0f);
      return;
    }
    Entry& e = entry(m, n, k, type);
    onednn::execute(e.primitive, stream, {{DNNL_ARG_SRC, e.a, a}, {DNNL_ARG_WEIGHTS, e.b, b}, {DNNL_ARG_DST, e.c, c}},
                    e.scratchpad, scratchpad.data(), "matrix product: oneDNN execute failed");
  }
};

MatrixProduct::MatrixProduct(Transpose transpose, bool accumulate) : impl_(std::make_unique<Impl>()) {
  impl_->transpose = transpose;
  impl_->accumulate = accumulate;
}
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

std::int64_t MatrixProduct::primitives_created() const { return impl_->created; }

}  // namespace mpitrain::nn
