#pragma once
// What the oneDNN-backed kernels of nn share (matmul.cpp, convolution_kernel.cpp): the engine, execution with
// a fixed argument array, and an aligned scratchpad. Internal to nn: oneDNN stays out of the public headers.

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <stdexcept>
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

// Executes @p primitive with @p args and its scratchpad (every primitive here is made in user scratchpad
// mode: @p scratch is the memory object of its scratchpad_desc, pointed at @p scratchpad for this call),
// through the C entry point with a fixed argument array (no argument map of ours; oneDNN 2.6 still builds
// its own on the heap). @throws std::logic_error for more than 7 arguments; dnnl::error naming @p what when
// oneDNN fails.
inline void execute(const dnnl::primitive& primitive, const dnnl::stream& stream, std::initializer_list<Arg> args,
                    dnnl::memory& scratch, void* scratchpad, const char* what) {
  constexpr std::size_t capacity = 8;
  if (args.size() + 1 > capacity) throw std::logic_error(std::string(what) + ": too many arguments");
  dnnl_exec_arg_t c_args[capacity];
  int n = 0;
  for (const Arg& a : args) {
    a.memory.set_data_handle(const_cast<void*>(a.data));
    c_args[n++] = {a.kind, a.memory.get()};
  }
  scratch.set_data_handle(scratchpad);
  c_args[n++] = {DNNL_ARG_SCRATCHPAD, scratch.get()};
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
