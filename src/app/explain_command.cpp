// `mpitrain explain --checkpoint FILE --data FILE --method M --output DIR [options]` (issue 13)
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>

#include "app/commands.hpp"
#include "app/explain_outputs.hpp"
#include "app/explain_settings.hpp"
#include "app/model_io.hpp"
#include "mpitrain/explain/explanation.hpp"
#include "mpitrain/explain/permutation.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace po = boost::program_options;

namespace mpitrain::app {

namespace {

constexpr const char* help_text =
    "usage: mpirun -np N mpitrain explain --checkpoint FILE --data FILE [--labels FILE] --method M --output DIR\n\n"
    "Attributions of a checkpoint's outputs to its input features, computed data-parallel: every output is\n"
    "the same, byte for byte, at any world size. Methods: saliency, gradient_x_input, integrated_gradients,\n"
    "smoothgrad:<one of these> and permutation_importance. Writes DIR/attributions.h5 (gradient methods),\n"
    "DIR/importance.csv, and PNGs (top-20 bar chart; for images, per-class heat maps and chosen samples).\n\n"
    "options";

void add_options(po::options_description& desc) {
  desc.add_options()("help,h", "this help")("checkpoint", po::value<std::string>(), "checkpoint .h5")(
      "data", po::value<std::string>(), "CSV file, or IDX images file")(
      "labels", po::value<std::string>()->default_value(""), "IDX labels file (with IDX images)")(
      "method", po::value<std::string>(),
      "saliency | gradient_x_input | integrated_gradients | smoothgrad:<method> | permutation_importance")(
      "output", po::value<std::string>(), "output directory")(
      "target", po::value<std::string>()->default_value("predicted"), "explained class: predicted | true | K")(
      "target-output", po::value<std::string>()->default_value("probability"), "probability | logit")(
      "baseline", po::value<std::string>()->default_value("zero"),
      "integrated gradients' x': zero | mean (the mean of the training file of the checkpoint's config)")(
      "baseline-data", po::value<std::string>()->default_value(""), "x' = the mean of this file's rows")(
      "steps", po::value<int>()->default_value(50), "integrated gradients' points, [1, 10000]")(
      "quadrature", po::value<std::string>()->default_value("gausslegendre"),
      "gausslegendre | riemann_left | riemann_right | riemann_middle | riemann_trapezoid")(
      "samples", po::value<int>()->default_value(10), "smoothgrad: noisy copies per sample, >= 1")(
      "noise", po::value<double>()->default_value(0.15), "smoothgrad: sigma as a share of the sample's range")(
      "repeats", po::value<int>()->default_value(5), "permutation_importance: shuffles per group, >= 1")(
      "group", po::value<std::string>()->default_value("single"),
      "permutation_importance: single | patch:P (P x P pixel patches of images)")(
      "score", po::value<std::string>()->default_value("accuracy"), "permutation_importance: accuracy | loss")(
      "seed", po::value<std::uint64_t>()->default_value(0), "seed of smoothgrad's noise and the permutations")(
      "limit", po::value<std::int64_t>()->default_value(0), "explain the first N samples only (0: all)")(
      "show", po::value<std::string>()->default_value("0,1,2"), "samples drawn beside their image")(
      "top", po::value<int>()->default_value(10), "features printed by rank 0");
}

// The permutation-importance score of a chunk: correct predictions, or minus the summed loss.
explain::ChunkScore chunk_score(nn::Model& model, const nn::Task& task, const data::Dataset& ds, bool loss) {
  return [&model, &task, &ds, loss](base::ConstMatrixMap rows, std::int64_t first) {
    const auto logits = model.forward(rows, nn::Context::evaluation());
    const std::span<const std::int32_t> labels(ds.labels.data() + first, static_cast<std::size_t>(rows.rows()));
    if (loss) return -task.evaluate(logits, labels).loss;
    std::vector<std::int32_t> predicted(labels.size());
    task.predict(logits, predicted);
    double correct = 0.0;
    for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i] ? 1.0 : 0.0;
    return correct;
  };
}

}  // namespace

int explain_command(const std::vector<std::string>& args, const dist::Communicator& comm) {
  po::options_description desc(help_text);
  add_options(desc);
  po::variables_map vm;
  if (const auto done =
          parse_command_line("explain", args, desc, {"checkpoint", "data", "method", "output"}, vm, comm)) {
    return *done;
  }
  ExplainSettings settings;
  int code = agreed(comm, base::exit_usage, [&] { settings = explain_settings(vm); });
  if (code != base::exit_ok) return code;

  LoadedModel loaded;
  data::Dataset ds;
  code = agreed(comm, base::exit_error, [&] {
    loaded = load_model(vm["checkpoint"].as<std::string>());
    const bool labels = settings.permutation || settings.target_text == "true";
    ds = load_explained_data(loaded, settings, labels);
  });
  if (code != base::exit_ok) return code;
  code = agreed(comm, base::exit_usage, [&] { check_against_model(settings, loaded, ds); });
  if (code != base::exit_ok) return code;

  const std::filesystem::path out = vm["output"].as<std::string>();
  code = agreed(comm, base::exit_error, [&] {
    if (comm.rank() == 0) std::filesystem::create_directories(out);
  });
  if (code != base::exit_ok) return code;

  if (settings.permutation) {
    const auto groups = explain::feature_groups(settings.group, ds.sample_shape());
    loaded.model->reserve(train::evaluation_chunk_rows);
    const explain::PermutationResult result =
        explain::permutation_importance(ds.features, groups, settings.repeats, settings.attribution.seed,
                                        chunk_score(*loaded.model, *loaded.task, ds, settings.score_loss), comm);
    return agreed(comm, base::exit_error, [&] {
      if (comm.rank() == 0) write_permutation_outputs(out, settings, groups, result);
    });
  }
  std::vector<float> baseline;
  code = agreed(comm, base::exit_error, [&] {
    if (comm.rank() == 0) baseline = explain_baseline(loaded, settings);
    baseline.resize(static_cast<std::size_t>(loaded.model->input_size()));
  });
  if (code != base::exit_ok) return code;
  comm.broadcast(std::span<float>(baseline), 0);
  const explain::Explanation e = explain::explain_dataset(*loaded.model, ds, settings.target, settings.attribution,
                                                          std::move(baseline), comm);
  return agreed(comm, base::exit_error, [&] {
    if (comm.rank() == 0) write_attribution_outputs(out, settings, ds, e);
  });
}

}  // namespace mpitrain::app
