#pragma once
/// @file simplification.hpp
/// Model simplification without retraining: the trained model, magnitude pruning (pruning.hpp) at
/// several sparsities in both scopes, and int8 per-channel quantization of the kernels (quantization.hpp,
/// evaluated dequantized), each evaluated on a labelled set with train::evaluate and sized on disk as a
/// weights file with gzip-compressed datasets.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mpitrain/checkpoint/checkpoint.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/diagnose/pruning.hpp"
#include "mpitrain/dist/communicator.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/task.hpp"

namespace mpitrain::diagnose {

/// The sparsities (percent of the kernels' entries set to 0) of the pruning rows.
inline constexpr std::array<double, 4> pruning_sparsities = {50.0, 80.0, 90.0, 95.0};

/// The gzip level of the files whose bytes are reported (zlib's default compromise, what h5py's
/// compression="gzip" uses by default).
inline constexpr int simplification_gzip_level = 4;

/// One variant of the model, evaluated.
struct SimplifiedModel {
  std::string method;                   ///< `none` (as trained), `prune_layer`, `prune_global` or `int8`.
  double sparsity_percent = 0.0;        ///< The pruning's target (0 for none and int8).
  double kernel_sparsity = 0.0;         ///< Share of the kernels' entries that are 0 after the change.
  std::int64_t nonzero_parameters = 0;  ///< Entries of all trained tensors that are not 0.
  std::int64_t parameters = 0;          ///< Entries of all trained tensors.
  double accuracy = 0.0;                ///< train::evaluate's accuracy on the set.
  double loss = 0.0;                    ///< train::evaluate's mean loss on the set (nats).
  std::uint64_t bytes = 0;              ///< Size of its weights file with gzip-compressed datasets (int8:
                                        ///< int8 kernels plus float32 scales; checkpoint::write_int8_weights).
};

/// What the weights files of the variants are made of besides the parameters.
struct WeightsFileInfo {
  const checkpoint::CheckpointInfo& info;  ///< The trained checkpoint's (config, scaler, lineage, ...).
  std::filesystem::path scratch;           ///< A directory where rank 0 writes each file, sizes and removes it.
};

/// Evaluates @p model as it is, magnitude-pruned at each of pruning_sparsities per layer and globally,
/// and with int8-quantized kernels, on @p ds (samples × features, scaled, labelled) with train::evaluate;
/// rank 0 also writes each as a weights file in @p file.scratch to measure its bytes. The model's
/// parameters are restored before returning. Collective; every rank gets the same rows (bytes too).
/// @throws dist::AgreedError on every rank when writing a file failed on rank 0; as train::evaluate.
std::vector<SimplifiedModel> simplify(nn::Model& model, const nn::Task& task, const data::Dataset& ds,
                                      const WeightsFileInfo& file, const dist::Communicator& comm);

/// A copy of @p parameters (laid out by @p registry) pruned globally at @p sparsity_percent (prune()).
std::vector<float> pruned_parameters(std::span<const float> parameters, const nn::ParameterRegistry& registry,
                                     double sparsity_percent);

/// The derivation text of a checkpoint pruned by pruned_parameters at @p sparsity_percent:
/// "magnitude pruning (global) at 90% of the kernels".
std::string pruning_derivation(double sparsity_percent);

}  // namespace mpitrain::diagnose
