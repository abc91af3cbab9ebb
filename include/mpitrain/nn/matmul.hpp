#pragma once
/// @file matmul.hpp
/// The kernel seam: every matrix product of a training step (a dense layer's and, through im2col, a
/// convolution's) goes through MatrixProduct, backed by oneDNN's `matmul` primitive (Debian's libdnnl,
/// the CPU library under PyTorch and TensorFlow). Eigen stays for element-wise work and views.
///
/// Primitives are created once per shape and element type and cached in the MatrixProduct (a layer owns
/// one per product, so a training run creates one for the full per-rank slice and one for a last partial
/// slice); their scratchpads are owned by the MatrixProduct, so a steady-state call allocates nothing of
/// ours. oneDNN's execute itself builds its argument map on the heap (libdnnl 2.6 converts the argument
/// array into a std::unordered_map per call: a fixed handful of small allocations per product, told apart by
/// their call stack in tests/perf/test_step_path.cpp).

#include <cstdint>
#include <memory>
#include <string>

namespace mpitrain::nn {

/// Element type of the inputs of the matrix products (`train.precision`). bf16: each input is rounded to
/// bfloat16 (nearest, ties to even: base::float_to_bf16) and the products accumulate in fp32 into fp32
/// outputs, as PyTorch's CPU autocast does; parameters, gradients, optimizer state and loss stay fp32.
enum class Precision { fp32, bf16 };

/// Parses `fp32` or `bf16`. @throws std::invalid_argument naming the value otherwise.
Precision parse_precision(const std::string& name);
/// The name of @p precision.
std::string to_string(Precision precision);

/// Which operand of C = op(A)·op(B) is read transposed.
enum class Transpose {
  none,  ///< C = A·B: A stored m × k, B stored k × n.
  a,     ///< C = Aᵀ·B: A stored k × m (e.g. a weight gradient Xᵀ·dY, X rows × inputs), B stored k × n.
  b,     ///< C = A·Bᵀ: A stored m × k, B stored n × k (e.g. an input gradient dY·Wᵀ, W inputs × outputs).
};

/// One matrix product C (m × n) = op(A)·op(B), or C += op(A)·op(B), all row-major and dense (leading
/// dimension = columns), C in fp32. Not thread-safe: one caller at a time (a layer's forward or backward).
/// Summation order inside the product is oneDNN's: the same for the same shape on the same CPU and thread
/// count (so runs repeat bit for bit), not the same as a naive loop (results agree to rounding).
class MatrixProduct {
 public:
  /// @param transpose which operand is stored transposed. @param accumulate add to C instead of writing it.
  MatrixProduct(Transpose transpose, bool accumulate);
  ~MatrixProduct();
  MatrixProduct(MatrixProduct&&) noexcept;
  MatrixProduct& operator=(MatrixProduct&&) noexcept;
  MatrixProduct(const MatrixProduct&) = delete;
  MatrixProduct& operator=(const MatrixProduct&) = delete;

  /// fp32 inputs. @p a, @p b stored as Transpose says; @p c m × n. A product with m, n or k = 0 writes
  /// zeros (or adds nothing). A shape not seen before creates and caches its primitive (this allocates).
  /// @throws std::invalid_argument for a negative dimension; std::runtime_error naming the shape when
  ///         oneDNN has no implementation for it on this CPU.
  void run(const float* a, const float* b, float* c, std::int64_t m, std::int64_t n, std::int64_t k);
  /// bf16 inputs (bits as base::float_to_bf16), fp32 accumulation and output; otherwise as the fp32 run.
  void run(const std::uint16_t* a, const std::uint16_t* b, float* c, std::int64_t m, std::int64_t n,
           std::int64_t k);
  /// bf16 inputs plus a bias: C = op(A)·op(B) + bias, @p bias a row of n fp32 values added to every row of C
  /// by oneDNN at the end of each element's fp32 sum (or C += ... with accumulate). Otherwise as the bf16 run.
  void run(const std::uint16_t* a, const std::uint16_t* b, const float* bias, float* c, std::int64_t m, std::int64_t n,
           std::int64_t k);

  /// Primitives created so far (a new shape or element type each): for tests and benchmarks.
  [[nodiscard]] std::int64_t primitives_created() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A grid of batch × groups matrices of rows × cols in one buffer, as strides in elements: element (r, c) of
/// matrix (i, j) sits at i·strides[0] + j·strides[1] + r·strides[2] + c·strides[3]. Views into a larger tensor
/// are strides, and so is a transpose (swap rows with cols and strides[2] with strides[3]: transposed()).
/// Example: the heads of multi-head attention's queries in a samples × T × 3C buffer are batch = samples,
/// groups = heads, rows = T, cols = d, strides {T·3C, d, 3C, 1}.
struct MatrixBatch {
  std::int64_t batch = 0, groups = 0, rows = 0, cols = 0;
  std::int64_t strides[4] = {0, 0, 0, 0};
  /// The same matrices read transposed (cols × rows each), no data moved.
  [[nodiscard]] MatrixBatch transposed() const {
    return {batch, groups, cols, rows, {strides[0], strides[1], strides[3], strides[2]}};
  }
};

/// C(i, j) = A(i, j)·B(i, j) for every matrix (i, j) of a batch × groups grid, A, B and C strided views
/// (MatrixBatch), in one oneDNN matmul: the batched products of multi-head attention (Q·Kᵀ, P·V and the four
/// of backward) over every (sample, head) pair at once. C is written, not added to; the inputs are fp32, or
/// bf16 with fp32 accumulation (Precision::bf16) into an fp32 or a bf16 C. Primitives are cached per layout and element type
/// as in MatrixProduct (8 kept), so steady-state calls allocate nothing of ours. Each matrix's product is
/// computed alone, so its bits do not depend on the batch's size. Not thread-safe.
class BatchedMatrixProduct {
 public:
  BatchedMatrixProduct();
  ~BatchedMatrixProduct();
  BatchedMatrixProduct(BatchedMatrixProduct&&) noexcept;
  BatchedMatrixProduct& operator=(BatchedMatrixProduct&&) noexcept;
  BatchedMatrixProduct(const BatchedMatrixProduct&) = delete;
  BatchedMatrixProduct& operator=(const BatchedMatrixProduct&) = delete;

  /// fp32 inputs. @p a batch × groups of m × k, @p b of k × n, @p c of m × n.
  /// @throws std::invalid_argument naming the three layouts when their grids or inner sizes disagree or a size
  ///         is not positive; std::runtime_error when oneDNN has no implementation for the layouts.
  void run(const float* a, const MatrixBatch& a_layout, const float* b, const MatrixBatch& b_layout, float* c,
           const MatrixBatch& c_layout);
  /// bf16 inputs (bits as base::float_to_bf16), fp32 accumulation and output; otherwise as the fp32 run.
  void run(const std::uint16_t* a, const MatrixBatch& a_layout, const std::uint16_t* b, const MatrixBatch& b_layout,
           float* c, const MatrixBatch& c_layout);
  /// bf16 inputs, fp32 accumulation, C rounded to bf16 by oneDNN (nearest even, as base::float_to_bf16 for
  /// every normal value; its conversion instruction flushes subnormal results below 2^-126 to zero): for a C
  /// that only feeds further bf16 products.
  void run(const std::uint16_t* a, const MatrixBatch& a_layout, const std::uint16_t* b, const MatrixBatch& b_layout,
           std::uint16_t* c, const MatrixBatch& c_layout);

  /// Primitives created so far (a new layout or element type each): for tests.
  [[nodiscard]] std::int64_t primitives_created() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Sets the compute threads of this process: oneDNN's (OpenMP) and Eigen's. Call before the first product
/// (a primitive sizes its scratchpad for the threads of its creation). @throws std::invalid_argument for
/// @p threads < 1.
void set_compute_threads(int threads);

}  // namespace mpitrain::nn
