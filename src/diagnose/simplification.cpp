#include "mpitrain/diagnose/simplification.hpp"

#include <spdlog/fmt/fmt.h>

#include <filesystem>

#include "mpitrain/diagnose/quantization.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace mpitrain::diagnose {

namespace {

// The int8 version of every kernel of @p parameters, and the parameters with those kernels dequantized.
struct Quantized {
  std::vector<QuantizedTensor> tensors;
  std::vector<float> parameters;
};

Quantized quantize_kernels(std::span<const float> parameters, const nn::ParameterRegistry& registry) {
  Quantized out{{}, {parameters.begin(), parameters.end()}};
  for (const auto& kernel : kernels_of(registry)) {
    const auto offset = static_cast<std::size_t>(kernel.offset);
    const auto size = static_cast<std::size_t>(kernel.size());
    out.tensors.push_back(quantize_int8(kernel, parameters.subspan(offset, size)));
    dequantize(out.tensors.back(), std::span(out.parameters).subspan(offset, size));
  }
  return out;
}

double kernel_sparsity(std::span<const float> parameters, const nn::ParameterRegistry& registry) {
  std::int64_t entries = 0;
  std::int64_t nonzero = 0;
  for (const auto& kernel : kernels_of(registry)) {
    entries += kernel.size();
    nonzero += count_nonzero(parameters.subspan(static_cast<std::size_t>(kernel.offset),
                                                static_cast<std::size_t>(kernel.size())));
  }
  return entries > 0 ? static_cast<double>(entries - nonzero) / static_cast<double>(entries) : 0.0;
}

// The bytes of the variant's weights file, written by rank 0 into the scratch directory and removed;
// every rank gets the size, or an AgreedError when rank 0 failed.
std::uint64_t file_bytes(const nn::Model& model, std::span<const float> parameters, const WeightsFileInfo& file,
                         std::span<const checkpoint::Int8TensorView> int8, const std::string& name,
                         const dist::Communicator& comm) {
  std::uint64_t bytes = 0;
  dist::run_agreed(comm, [&] {
    if (comm.rank() != 0) return;
    const std::filesystem::path path = file.scratch / (".simplification-" + name + ".h5");
    const checkpoint::CheckpointView view{model.spec(), parameters, model.buffers(), {}, file.info, true,
                                          simplification_gzip_level};
    if (int8.empty()) {
      checkpoint::write_checkpoint(path, view);
    } else {
      checkpoint::write_int8_weights(path, view, int8);
    }
    bytes = std::filesystem::file_size(path);
    std::filesystem::remove(path);
  });
  comm.broadcast(std::span(&bytes, 1), 0);
  return bytes;
}

}  // namespace

std::vector<float> pruned_parameters(std::span<const float> parameters, const nn::ParameterRegistry& registry,
                                     double sparsity_percent) {
  std::vector<float> out(parameters.begin(), parameters.end());
  prune(out, registry, sparsity_percent, PruningScope::global);
  return out;
}

std::string pruning_derivation(double sparsity_percent) {
  return fmt::format("magnitude pruning (global) at {}% of the kernels", sparsity_percent);
}

std::vector<SimplifiedModel> simplify(nn::Model& model, const nn::Task& task, const data::Dataset& ds,
                                      const WeightsFileInfo& file, const dist::Communicator& comm) {
  const std::vector<float> trained(model.parameters().begin(), model.parameters().end());
  const nn::ParameterRegistry& registry = model.registry();
  std::vector<SimplifiedModel> rows;
  const auto evaluate = [&](std::string method, double sparsity, std::span<const float> parameters,
                            std::span<const checkpoint::Int8TensorView> int8) {
    std::ranges::copy(parameters, model.parameters().begin());
    const train::EvaluationResult r = train::evaluate(model, task, ds, comm);
    const std::string name = fmt::format("{}-{}", method, sparsity);
    rows.push_back({std::move(method), sparsity, kernel_sparsity(parameters, registry), count_nonzero(parameters),
                    static_cast<std::int64_t>(parameters.size()), r.accuracy, r.loss,
                    file_bytes(model, parameters, file, int8, name, comm)});
  };
  try {
    evaluate("none", 0.0, trained, {});
    for (const PruningScope scope : {PruningScope::layer, PruningScope::global}) {
      for (const double sparsity : pruning_sparsities) {
        std::vector<float> pruned = trained;
        prune(pruned, registry, sparsity, scope);
        evaluate("prune_" + to_string(scope), sparsity, pruned, {});
      }
    }
    const Quantized q = quantize_kernels(trained, registry);
    std::vector<checkpoint::Int8TensorView> views;
    for (const auto& t : q.tensors) views.push_back({t.name, t.values, t.scales});
    evaluate("int8", 0.0, q.parameters, views);
  } catch (...) {
    std::ranges::copy(trained, model.parameters().begin());
    throw;
  }
  std::ranges::copy(trained, model.parameters().begin());
  return rows;
}

}  // namespace mpitrain::diagnose
