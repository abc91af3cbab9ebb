// cnn_bench: the forward and backward speed of a CNN through nn::Model on one process, no MPI. Times one
// training step's compute (forward, softmax cross-entropy, zeroed gradients, backward) of the network of
// issue 14 by default: conv2d(32, 3x3, relu) - max_pool2d(2) - conv2d(64, 3x3, relu) - max_pool2d(2) -
// flatten - dense(128) - relu - dense(10) on 28 × 28 × 1 inputs, and each layer's forward and backward
// alone, and prints one JSON object:
//   {"batch", "threads", "flops_per_sample" (Model::flops_per_sample: 2·m·n·k per product),
//    "step_seconds" (median), "step_gflops" (flops_per_sample · batch / step_seconds),
//    "samples_per_second", "layers": [{"name", "forward_seconds", "backward_seconds", "gflops"}...]}
// Each measurement is repeated for at least --seconds and the median of 7 such rounds is kept
// (median_time.hpp), which rejects the noise of a shared machine. --layers 0 times the step only (for a
// profiler: the per-layer loops give every layer the same time, whatever its share of a step). --spec FILE.json times another model (the model.spec format).
// --vocabulary V: the inputs are token ids in [0, V) and the loss is per token (the outputs of a sample are T
// rows of V logits), for a language model such as configs/kjv_gpt.json ("tokens_per_second" is then printed).
#include <Eigen/Core>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpitrain/base/random.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/nn/matmul.hpp"
#include "mpitrain/nn/model.hpp"
#include "median_time.hpp"

namespace {

using namespace mpitrain;
using bench::median_seconds;

constexpr const char* kIssue14Cnn = R"({"input_shape": [28, 28, 1], "layers": [
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"}, {"type": "max_pool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"}, {"type": "max_pool2d", "pool_size": 2},
    {"type": "flatten"}, {"type": "dense", "units": 128}, {"type": "activation", "activation": "relu"},
    {"type": "dense", "units": 10}]})";

}  // namespace

int main(int argc, char** argv) {
  long batch = 64;
  int threads = 1;
  nn::Precision precision = nn::Precision::fp32;
  double seconds = 0.2;
  bool per_layer = true;
  long vocabulary = 0;
  std::string spec_text = kIssue14Cnn;
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string key = argv[i], value = argv[i + 1];
      if (key == "--batch") batch = std::stol(value);
      else if (key == "--threads") threads = std::stoi(value);
      else if (key == "--precision") precision = nn::parse_precision(value);
      else if (key == "--seconds") seconds = std::stod(value);
      else if (key == "--layers") per_layer = value != "0";
      else if (key == "--vocabulary") vocabulary = std::stol(value);
      else if (key == "--spec") {
        std::ifstream in(value);
        if (!in) throw std::invalid_argument("cannot read " + value);
        std::stringstream text;
        text << in.rdbuf();
        spec_text = text.str();
      } else throw std::invalid_argument("unknown option " + key);
    }
    if (argc % 2 == 0) throw std::invalid_argument(std::string("option ") + argv[argc - 1] + " needs a value");
    if (batch < 1 || threads < 1 || !(seconds > 0)) {
      throw std::invalid_argument("--batch, --threads and --seconds must be positive");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cnn_bench: %s\nusage: cnn_bench [--batch 64] [--threads 1] [--precision fp32|bf16] [--seconds 0.2] [--layers 1|0] [--spec FILE.json]\n",
                 e.what());
    return 2;
  }
  nn::set_compute_threads(threads);
  try {
    nn::Model model = nn::build_model(nn::parse_model_spec(spec_text));
    model.init(1);
    model.set_precision(precision);
    model.reserve(batch);
    const std::int64_t inputs = model.input_size(), classes = model.output_size();
    base::SplitMix64 rng(2);
    base::RowMatrix x(batch, inputs);
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      x.data()[i] = vocabulary > 0 ? static_cast<float>(rng.next() % static_cast<std::uint64_t>(vocabulary)) : rng.uniform_float();
    }
    // A language model scores each of its T positions: (batch · T) rows of V logits.
    const long loss_rows = vocabulary > 0 ? batch * classes / vocabulary : batch, width = vocabulary > 0 ? vocabulary : classes;
    std::vector<std::int32_t> labels(static_cast<std::size_t>(loss_rows));
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(width));
    base::RowMatrix grad(batch, classes);
    const nn::Context context = nn::Context::evaluation();
    const auto train_step = [&] {
      const auto logits = model.forward(base::ConstMatrixMap(x.data(), batch, inputs), context);
      nn::softmax_cross_entropy(base::ConstMatrixMap(logits.data(), loss_rows, width), labels,
                                base::MatrixMap(grad.data(), loss_rows, width));
      model.zero_gradients();
      model.backward(base::ConstMatrixMap(grad.data(), batch, classes));
    };
    train_step();  // first touch of every work buffer
    const double step = median_seconds(train_step, seconds);

    // Each layer alone, on the activations and gradients of one real pass.
    const auto& layers = model.layers();
    std::vector<base::RowMatrix> activations{x};
    for (const auto& layer : layers) {
      const auto& in = activations.back();
      activations.emplace_back(layer->forward(base::ConstMatrixMap(in.data(), batch, in.cols()), context));
    }
    base::RowMatrix dy = base::RowMatrix::Constant(batch, classes, 0.01f);
    std::string rows;
    for (std::size_t l = per_layer ? layers.size() : 0; l-- > 0;) {
      auto& layer = *layers[l];
      const auto& in = activations[l];
      const auto fwd = [&] { layer.forward(base::ConstMatrixMap(in.data(), batch, in.cols()), context); };
      const double forward_s = median_seconds(fwd, seconds / 4);
      fwd();
      const double backward_s = median_seconds(
          [&] { layer.backward(base::ConstMatrixMap(dy.data(), batch, dy.cols())); }, seconds / 4);
      const base::RowMatrix dx = layer.backward(base::ConstMatrixMap(dy.data(), batch, dy.cols()));
      const double flops = static_cast<double>(layer.flops_per_sample()) * static_cast<double>(batch);
      char row[256];
      std::snprintf(row, sizeof row, "{\"name\": \"%s\", \"forward_seconds\": %.6g, \"backward_seconds\": %.6g, "
                    "\"gflops\": %.2f}", layer.name().c_str(), forward_s, backward_s, flops / (forward_s + backward_s) / 1e9);
      rows = std::string(row) + (rows.empty() ? "" : ", ") + rows;
      dy = dx.rows() == batch ? dx : base::RowMatrix::Constant(batch, layer.inputs(), 0.01f);
    }
    const double flops = static_cast<double>(model.flops_per_sample()) * static_cast<double>(batch);
    if (vocabulary > 0) std::printf("{\"tokens_per_second\": %.0f}\n", static_cast<double>(batch * inputs) / step);
    std::printf("{\"batch\": %ld, \"threads\": %d, \"precision\": \"%s\", \"flops_per_sample\": %lld, \"step_seconds\": %.6g, "
                "\"step_gflops\": %.2f, \"samples_per_second\": %.0f, \"layers\": [%s]}\n",
                batch, threads, nn::to_string(precision).c_str(), static_cast<long long>(model.flops_per_sample()), step,
                flops / step / 1e9,
                static_cast<double>(batch) / step, rows.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cnn_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
