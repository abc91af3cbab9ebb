#pragma once
// What the oneDNN-backed kernels of nn share (matmul.cpp, convolution_kernel.cpp): the engine, execution with
// a fixed argument array, and an aligned scratchpad. Internal to nn: oneDNN stays out of the public headers.

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

namespace mpitrain::nn::onednn {

// The process's CPU engine: stateless for the CPU, shared by every kernel (oneDNN's own examples make one
// per process).
inline const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One argument of an execute: a memory object pointed at @p data for this call.
struct Arg {
  int kind;
  dnnl::memory& memory;
  const void* data;
};

// Executes @p primitive with @p args through the C entry point (no argument map of ours; oneDNN 2.6 still
// builds its own on the heap). @throws dnnl::error naming @p what when oneDNN fails.
inline void execute(const dnnl::primitive& primitive, const dnnl::stream& stream, std::initializer_list<Arg> args,
                    const char* what) {
  dnnl_exec_arg_t c_args[8];
  int n = 0;
  for (const Arg& a : args) {
    a.memory.set_data_handle(const_cast<void*>(a.data));
    c_args[n++] = {a.kind, a.memory.get()};
  }
  dnnl::error::wrap_c_api(dnnl_primitive_execute(primitive.get(), stream.get(), n, c_args), what);
}

// A 64-byte aligned work buffer that only grows (scratchpads, blocked weights).
class AlignedBuffer {
 public:
  static constexpr std::size_t alignment = 64;
  void reserve(std::size_t bytes) {
    if (storage_.size() < bytes + alignment) storage_.resize(bytes + alignment);
  }
  [[nodiscard]] void* data() {
    void* raw = storage_.data();
    std::size_t space = storage_.size();
    return std::align(alignment, space > alignment ? space - alignment : 0, raw, space);
  }

 private:
  std::vector<std::byte> storage_;
};

}  // namespace mpitrain::nn::onednn
