#include "mpitrain/nn/convolution_kernel.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>

#include "onednn.hpp"

namespace mpitrain::nn {

namespace {
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;
using onednn::cpu_engine;

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}
}  // namespace

// A primitive with its scratchpad's memory object (user scratchpad mode: the memory is Impl's).
struct Step {
  dnnl::primitive primitive;
  dnnl::memory scratch;
};

template <class PrimitiveDesc, class Primitive>
Step make_step(const PrimitiveDesc& pd) {
  return {Primitive(pd), dnnl::memory(pd.scratchpad_desc(), cpu_engine(), nullptr)};
}

struct ConvolutionKernel::Impl {
  // The primitives and memory objects for one number of rows and one input type.
  struct Entry {
    std::int64_t rows = 0;
    dt type = dt::f32;
    dnnl::convolution_forward::primitive_desc forward_pd;
    Step forward, to_forward_kernel;           // ours (hwio) -> the forward's layout, then the forward
    dnnl::memory src, kernel, forward_kernel, bias, dst;
    // The backward passes, made on first use (a layer without input gradient never makes the data one).
    std::optional<Step> backward_data, to_data_kernel;
    dnnl::memory data_kernel, diff_dst, diff_src;
    std::optional<Step> backward_weights, add_diff_kernel;  // the primitive's layout -> ours, added (sum)
    dnnl::memory weights_src, weights_diff_dst, diff_kernel, diff_bias, diff_kernel_ours;
  };

  Window2D window;
  std::int64_t filters;
  bool use_bias;
  bool relu;
  std::int64_t pad_bottom, pad_right;
  Precision precision = Precision::fp32;
  dnnl::stream stream{cpu_engine()};
  std::deque<Entry> entries;
  onednn::AlignedBuffer scratchpad, forward_kernel, data_kernel, diff_kernel, diff_bias;
  static constexpr std::size_t max_entries = 8;

  Impl(const Window2D& w, std::int64_t f, bool b, bool r) : window(w), filters(f), use_bias(b), relu(r) {
    // Keras's padding gives the top and left; oneDNN wants the bottom and right too, such that
    // (H - kh + top + bottom) / sh + 1 = Ho in integer division: the rows the last window reaches.
    pad_bottom = std::max<std::int64_t>(0, (w.out_h - 1) * w.stride_h + w.kernel_h - w.in_h - w.pad_top);
    pad_right = std::max<std::int64_t>(0, (w.out_w - 1) * w.stride_w + w.kernel_w - w.in_w - w.pad_left);
  }

  [[nodiscard]] dt type() const { return precision == Precision::bf16 ? dt::bf16 : dt::f32; }
  [[nodiscard]] dnnl::memory::desc kernel_desc(dt t, tag layout) const {
    return dnnl::memory::desc({filters, window.channels, window.kernel_h, window.kernel_w}, t, layout);
  }
  [[nodiscard]] dims strides() const { return {window.stride_h, window.stride_w}; }
  [[nodiscard]] dims pad_l() const { return {window.pad_top, window.pad_left}; }
  [[nodiscard]] dims pad_r() const { return {pad_bottom, pad_right}; }
  [[nodiscard]] dnnl::memory::desc src_desc(std::int64_t rows, dt t) const {
    return dnnl::memory::desc({rows, window.channels, window.in_h, window.in_w}, t, tag::nhwc);
  }
  [[nodiscard]] dnnl::memory::desc dst_desc(std::int64_t rows, dt t) const {
    return dnnl::memory::desc({rows, filters, window.out_h, window.out_w}, t, tag::nhwc);
  }
  [[nodiscard]] dnnl::memory::desc bias_desc() const { return dnnl::memory::desc({filters}, dt::f32, tag::a); }
  [[nodiscard]] static dnnl::memory unbound(const dnnl::memory::desc& desc) {
    return dnnl::memory(desc, cpu_engine(), nullptr);
  }

  [[noreturn]] void fail(std::int64_t rows, dt t, const dnnl::error& e) const {
    throw std::runtime_error("convolution of " + std::to_string(rows) + " x " + std::to_string(window.in_h) + " x " +
                             std::to_string(window.in_w) + " x " + std::to_string(window.channels) + " by a " +
                             std::to_string(window.kernel_h) + " x " + std::to_string(window.kernel_w) +
                             " kernel to " + std::to_string(filters) + " filters (" +
                             (t == dt::bf16 ? "bf16" : "fp32") + " inputs): oneDNN has no implementation on this CPU (" +
                             e.what() + ")");
  }

  Step make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to, bool add) {
    dnnl::primitive_attr attr = user_scratchpad();
    if (add) {
      dnnl::post_ops sum;
      sum.append_sum(1.0f);
      attr.set_post_ops(sum);
    }
    const dnnl::reorder::primitive_desc pd(cpu_engine(), from, cpu_engine(), to, attr);
    scratchpad.reserve(pd.scratchpad_desc().get_size());
    return make_step<dnnl::reorder::primitive_desc, dnnl::reorder>(pd);
  }

  Entry& entry(std::int64_t rows) {
    const dt t = type();
    for (Entry& e : entries) {
      if (e.rows == rows && e.type == t) return e;
    }
    try {
      const dnnl::convolution_forward::desc desc(
          dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src_desc(rows, t),
          kernel_desc(t, tag::any), use_bias ? bias_desc() : dnnl::memory::desc(), dst_desc(rows, dt::f32), strides(),
          pad_l(), pad_r());
      dnnl::primitive_attr attr = user_scratchpad();
      if (relu) {
        dnnl::post_ops activation;
        activation.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        attr.set_post_ops(activation);
      }
      dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
      // With fewer than 4 input channels (a network's first convolution on grey or RGB images), oneDNN's
      // first choice, brgconv, reduces over kh·kw blocks of 1 to 3 channels each and is bound by its
      // accumulator traffic: the direct jit kernel after it in oneDNN's list took 0.43 instead of 1.0 ms
      // for the first convolution of configs/fashion_mnist_cnn.ini (bf16, batch 64, build/cnn_bench with
      // DNNL_VERBOSE=1). A fixed rule, so every rank and run picks the same kernel (the same rounding).
      if (window.channels < 4) {
        dnnl::convolution_forward::primitive_desc next = pd;
        while (std::string(next.impl_info_str()).starts_with("brgconv") && next.next_impl()) {}
        if (!std::string(next.impl_info_str()).starts_with("ref")) pd = next;
      }
      scratchpad.reserve(pd.scratchpad_desc().get_size());
      forward_kernel.reserve(pd.weights_desc().get_size());
      const auto ours = kernel_desc(t, tag::hwio);
      Entry e;
      e.rows = rows;
      e.type = t;
      e.forward_pd = pd;
      e.forward = make_step<dnnl::convolution_forward::primitive_desc, dnnl::convolution_forward>(pd);
      e.to_forward_kernel = make_reorder(ours, pd.weights_desc(), false);
      e.src = unbound(pd.src_desc());
      e.kernel = unbound(ours);
      e.forward_kernel = unbound(pd.weights_desc());
      e.bias = unbound(bias_desc());
      e.dst = unbound(pd.dst_desc());
      if (entries.size() == max_entries) entries.pop_front();
      entries.push_back(std::move(e));
    } catch (const dnnl::error& e) {
      fail(rows, t, e);
    }
    return entries.back();
  }

  void make_backward_data(Entry& e) {
    try {
      const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, src_desc(e.rows, dt::f32),
                                                       kernel_desc(e.type, tag::any), dst_desc(e.rows, e.type),
                                                       strides(), pad_l(), pad_r());
      const dnnl::convolution_backward_data::primitive_desc pd(desc, user_scratchpad(), cpu_engine(), e.forward_pd);
      scratchpad.reserve(pd.scratchpad_desc().get_size());
      data_kernel.reserve(pd.weights_desc().get_size());
      e.to_data_kernel = make_reorder(kernel_desc(e.type, tag::hwio), pd.weights_desc(), false);
      e.data_kernel = unbound(pd.weights_desc());
      e.diff_dst = unbound(pd.diff_dst_desc());
      e.diff_src = unbound(pd.diff_src_desc());
      e.backward_data = make_step<dnnl::convolution_backward_data::primitive_desc, dnnl::convolution_backward_data>(pd);
    } catch (const dnnl::error& err) {
      fail(e.rows, e.type, err);
    }
  }

  void make_backward_weights(Entry& e) {
    try {
      const dnnl::convolution_backward_weights::desc desc(
          dnnl::algorithm::convolution_direct, src_desc(e.rows, e.type), kernel_desc(dt::f32, tag::any),
          use_bias ? bias_desc() : dnnl::memory::desc(), dst_desc(e.rows, e.type), strides(), pad_l(), pad_r());
      const dnnl::convolution_backward_weights::primitive_desc pd(desc, user_scratchpad(), cpu_engine(), e.forward_pd);
      scratchpad.reserve(pd.scratchpad_desc().get_size());
      diff_kernel.reserve(pd.diff_weights_desc().get_size());
      diff_bias.reserve(static_cast<std::size_t>(filters) * sizeof(float));
      e.add_diff_kernel = make_reorder(pd.diff_weights_desc(), kernel_desc(dt::f32, tag::hwio), true);
      e.weights_src = unbound(pd.src_desc());
      e.weights_diff_dst = unbound(pd.diff_dst_desc());
      e.diff_kernel = unbound(pd.diff_weights_desc());
      e.diff_bias = unbound(bias_desc());
      e.diff_kernel_ours = unbound(kernel_desc(dt::f32, tag::hwio));
      e.backward_weights =
          make_step<dnnl::convolution_backward_weights::primitive_desc, dnnl::convolution_backward_weights>(pd);
    } catch (const dnnl::error& err) {
      fail(e.rows, e.type, err);
    }
  }

  void run(Step& step, std::initializer_list<onednn::Arg> args, const char* what) {
    onednn::execute(step.primitive, stream, args, step.scratch, scratchpad.data(), what);
  }
};

ConvolutionKernel::ConvolutionKernel(const Window2D& window, std::int64_t filters, bool bias, bool relu)
    : impl_(std::make_unique<Impl>(window, filters, bias, relu)) {}
ConvolutionKernel::~ConvolutionKernel() = default;
ConvolutionKernel::ConvolutionKernel(ConvolutionKernel&&) noexcept = default;
ConvolutionKernel& ConvolutionKernel::operator=(ConvolutionKernel&&) noexcept = default;

void ConvolutionKernel::set_precision(Precision precision) { impl_->precision = precision; }

void ConvolutionKernel::forward(const void* x, const void* kernel, const float* bias, float* y, std::int64_t rows) {
  if (rows <= 0) return;
  Impl& m = *impl_;
  Impl::Entry& e = m.entry(rows);
  void* blocked = m.forward_kernel.data();
  m.run(e.to_forward_kernel, {{DNNL_ARG_FROM, e.kernel, kernel}, {DNNL_ARG_TO, e.forward_kernel, blocked}},
        "convolution: oneDNN reorder failed");
  if (m.use_bias) {
    m.run(e.forward, {{DNNL_ARG_SRC, e.src, x}, {DNNL_ARG_WEIGHTS, e.forward_kernel, blocked},
                      {DNNL_ARG_BIAS, e.bias, bias}, {DNNL_ARG_DST, e.dst, y}},
          "convolution: oneDNN forward failed");
  } else {
    m.run(e.forward, {{DNNL_ARG_SRC, e.src, x}, {DNNL_ARG_WEIGHTS, e.forward_kernel, blocked}, {DNNL_ARG_DST, e.dst, y}},
          "convolution: oneDNN forward failed");
  }
}

void ConvolutionKernel::backward_data(const void* dy, const void* kernel, float* dx, std::int64_t rows) {
  if (rows <= 0) return;
  Impl& m = *impl_;
  Impl::Entry& e = m.entry(rows);
  if (!e.backward_data) m.make_backward_data(e);
  void* blocked = m.data_kernel.data();
  m.run(*e.to_data_kernel, {{DNNL_ARG_FROM, e.kernel, kernel}, {DNNL_ARG_TO, e.data_kernel, blocked}},
        "convolution: oneDNN reorder failed");
  m.run(*e.backward_data, {{DNNL_ARG_DIFF_DST, e.diff_dst, dy}, {DNNL_ARG_WEIGHTS, e.data_kernel, blocked},
                           {DNNL_ARG_DIFF_SRC, e.diff_src, dx}},
        "convolution: oneDNN backward data failed");
}

void ConvolutionKernel::backward_weights(const void* x, const void* dy, float* dk, float* db, std::int64_t rows) {
  if (rows <= 0) return;
  Impl& m = *impl_;
  Impl::Entry& e = m.entry(rows);
  if (!e.backward_weights) m.make_backward_weights(e);
  void* blocked = m.diff_kernel.data();
  auto* bias_sum = static_cast<float*>(m.diff_bias.data());
  if (m.use_bias) {
    m.run(*e.backward_weights, {{DNNL_ARG_SRC, e.weights_src, x}, {DNNL_ARG_DIFF_DST, e.weights_diff_dst, dy},
                                {DNNL_ARG_DIFF_WEIGHTS, e.diff_kernel, blocked}, {DNNL_ARG_DIFF_BIAS, e.diff_bias, bias_sum}},
          "convolution: oneDNN backward weights failed");
    for (std::int64_t o = 0; o < m.filters; ++o) db[o] += bias_sum[o];
  } else {
    m.run(*e.backward_weights, {{DNNL_ARG_SRC, e.weights_src, x}, {DNNL_ARG_DIFF_DST, e.weights_diff_dst, dy},
                                {DNNL_ARG_DIFF_WEIGHTS, e.diff_kernel, blocked}},
          "convolution: oneDNN backward weights failed");
  }
  m.run(*e.add_diff_kernel, {{DNNL_ARG_FROM, e.diff_kernel, blocked}, {DNNL_ARG_TO, e.diff_kernel_ours, dk}},
        "convolution: oneDNN reorder failed");
}


}  // namespace mpitrain::nn
