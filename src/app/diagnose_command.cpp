// `mpitrain diagnose --checkpoint FILE --data FILE [--labels FILE] --output DIR [--calibration-data FILE
// [--calibration-labels FILE]] [--bins 15] [--write-pruned S [--pruned-output FILE]]`
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "app/commands.hpp"
#include "app/model_io.hpp"
#include "mpitrain/base/files.hpp"
#include "mpitrain/diagnose/calibration.hpp"
#include "mpitrain/diagnose/class_metrics.hpp"
#include "mpitrain/diagnose/pictures.hpp"
#include "mpitrain/diagnose/reports.hpp"
#include "mpitrain/diagnose/simplification.hpp"
#include "mpitrain/diagnose/temperature.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace mpitrain::app {

namespace {

// The files diagnose writes into --output; none may exist already.
constexpr const char* output_files[] = {"calibration.csv", "temperature.csv", "classes.csv",  "confusion.csv",
                                        "simplification.csv", "reliability.png", "confusion.png",
                                        "simplification.png"};

struct Options {
  fs::path output;
  int bins = 15;
  std::optional<double> pruned_sparsity;
  fs::path pruned_output;
  std::string calibration_data;
  std::string calibration_labels;
};

// The options' values, checked: every message names the option and its value.
Options checked_options(const po::variables_map& vm) {
  Options o;
  o.output = vm["output"].as<std::string>();
  o.bins = vm["bins"].as<int>();
  if (o.bins < 1) throw std::invalid_argument("--bins " + std::to_string(o.bins) + ": needs at least 1 bin");
  o.calibration_data = vm["calibration-data"].as<std::string>();
  o.calibration_labels = vm["calibration-labels"].as<std::string>();
  if (!o.calibration_labels.empty() && o.calibration_data.empty()) {
    throw std::invalid_argument("--calibration-labels " + o.calibration_labels + " without --calibration-data");
  }
  if (vm.count("write-pruned") != 0) {
    const double s = vm["write-pruned"].as<double>();
    if (!(s >= 0.0 && s < 100.0)) {
      throw std::invalid_argument(fmt::format("--write-pruned {}", s) +
                                  ": the sparsity must be a percentage in [0, 100)");
    }
    o.pruned_sparsity = s;
    o.pruned_output = vm["pruned-output"].as<std::string>();
    if (o.pruned_output.empty()) o.pruned_output = o.output / fmt::format("pruned-{}.h5", s);
  } else if (!vm["pruned-output"].as<std::string>().empty()) {
    throw std::invalid_argument("--pruned-output " + vm["pruned-output"].as<std::string>() +
                                " without --write-pruned S");
  }
  return o;
}

// Rank 0: nothing diagnose writes may exist already (it never overwrites); creates the output directory.
void prepare_outputs(const Options& o) {
  if (o.pruned_sparsity && fs::exists(o.pruned_output)) {
    throw std::invalid_argument("--pruned-output " + o.pruned_output.string() +
                                " exists; diagnose does not overwrite a file: choose another");
  }
  for (const char* name : output_files) {
    if (fs::exists(o.output / name)) {
      throw std::invalid_argument("--output " + o.output.string() + " already holds " + name +
                                  "; diagnose does not overwrite a file: choose another directory");
    }
  }
  fs::create_directories(o.output);
}

// The labelled set of option @p option, read and scaled like the model's training data; errors name the option.
data::Dataset load_labelled(const LoadedModel& loaded, const char* option, const std::string& data,
                            const std::string& labels) {
  try {
    return load_inputs(loaded, data, labels, true);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("--") + option + ": " + e.what());  // e.what() names the file
  }
}

struct Calibration {
  std::vector<diagnose::NamedBins> bins;  // uncalibrated, then temperature_scaled when fitted
  std::optional<diagnose::TemperatureReport> temperature;
};

Calibration calibrate(nn::Model& model, const data::Dataset& test, const std::optional<data::Dataset>& held_out,
                      int bins, const dist::Communicator& comm) {
  const diagnose::RankLogits logits = diagnose::compute_logits(model, test, comm);
  Calibration c;
  c.bins.push_back({"uncalibrated", diagnose::calibration_bins(logits, bins, 1.0, comm)});
  if (!held_out) return c;
  const diagnose::RankLogits fitting = diagnose::compute_logits(model, *held_out, comm);
  const diagnose::TemperatureFit fit =
      diagnose::fit_temperature([&](double beta) { return diagnose::nll_sums(fitting, beta, comm); });
  c.bins.push_back({"temperature_scaled", diagnose::calibration_bins(logits, bins, fit.temperature, comm)});
  const auto mean_nll = [&](double t) {
    const diagnose::NllSums s = diagnose::nll_sums(logits, 1.0 / t, comm);
    return s.count > 0 ? s.nll / s.count : 0.0;
  };
  c.temperature = diagnose::TemperatureReport{fit.temperature,
                                              fit.converged,
                                              fit.evaluations,
                                              mean_nll(1.0),
                                              mean_nll(fit.temperature),
                                              c.bins[0].bins.expected_calibration_error(),
                                              c.bins[1].bins.expected_calibration_error()};
  return c;
}

void write_file(const fs::path& path, const std::string& text) {
  base::write_text_atomically(path, text, base::Durability::renamed);
}

void print_summary(const train::EvaluationResult& r, const std::vector<diagnose::ClassMetrics>& classes,
                   const Calibration& c, const std::vector<diagnose::SimplifiedModel>& simplified) {
  std::printf("samples %lld  loss %.6f  accuracy %.6f\n\n", static_cast<long long>(r.count), r.loss, r.accuracy);
  std::printf("class  precision  recall      f1  support\n");
  for (std::size_t k = 0; k < classes.size(); ++k) {
    const auto& m = classes[k];
    std::printf("%5zu  %9.4f  %6.4f  %6.4f  %7lld\n", k, m.precision, m.recall, m.f1,
                static_cast<long long>(m.support));
  }
  std::printf("\nexpected calibration error (%d bins): %.6f\n", c.bins[0].bins.bins(),
              c.bins[0].bins.expected_calibration_error());
  if (c.temperature) {
    const auto& t = *c.temperature;
    std::printf("temperature scaling: T = %.6f%s\n  ECE %.6f -> %.6f, mean NLL %.6f -> %.6f\n", t.temperature,
                t.converged ? "" : " (at its bound: not converged)", t.ece_before, t.ece_after, t.nll_before,
                t.nll_after);
  }
  std::printf("\nsimplification (kernels only; no retraining)\n%s",
              diagnose::simplification_table(simplified).c_str());
  std::fflush(stdout);
}

// The pruned model of --write-pruned, evaluated.
struct Pruned {
  std::vector<float> parameters;
  train::EvaluationResult result;
};

// Everything diagnose computes (collective); every rank gets the same.
struct Diagnosis {
  train::EvaluationResult result;
  std::vector<diagnose::ClassMetrics> classes;
  Calibration calibration;
  std::vector<diagnose::SimplifiedModel> simplified;
  std::optional<Pruned> pruned;
};

Diagnosis run_diagnosis(LoadedModel& loaded, const data::Dataset& test, const std::optional<data::Dataset>& held_out,
                        const Options& options, const dist::Communicator& comm) {
  nn::Model& model = *loaded.model;
  Diagnosis d;
  d.result = train::evaluate(model, *loaded.task, test, comm);
  d.classes = diagnose::class_metrics(d.result.confusion, d.result.classes);
  d.calibration = calibrate(model, test, held_out, options.bins, comm);
  d.simplified = diagnose::simplify(model, *loaded.task, test, {loaded.info, options.output}, comm);
  if (options.pruned_sparsity) {
    const std::vector<float> trained(model.parameters().begin(), model.parameters().end());
    Pruned p{diagnose::pruned_parameters(trained, model.registry(), *options.pruned_sparsity), {}};
    std::ranges::copy(p.parameters, model.parameters().begin());
    p.result = train::evaluate(model, *loaded.task, test, comm);
    std::ranges::copy(trained, model.parameters().begin());
    d.pruned = std::move(p);
  }
  return d;
}

// Rank 0: the CSV files, the summary, the pictures and the pruned checkpoint.
void write_outputs(const Diagnosis& d, const LoadedModel& loaded, const Options& options) {
  const fs::path& dir = options.output;
  write_file(dir / "calibration.csv", diagnose::calibration_csv(d.calibration.bins));
  if (d.calibration.temperature) {
    write_file(dir / "temperature.csv", diagnose::temperature_csv(*d.calibration.temperature));
  }
  write_file(dir / "classes.csv", diagnose::classes_csv(d.classes));
  write_file(dir / "confusion.csv", diagnose::confusion_csv(d.result.confusion, d.result.classes));
  write_file(dir / "simplification.csv", diagnose::simplification_csv(d.simplified));
  print_summary(d.result, d.classes, d.calibration, d.simplified);
  diagnose::draw_reliability(dir / "reliability.png", d.calibration.bins);
  diagnose::draw_confusion(dir / "confusion.png", d.result.confusion, d.result.classes);
  diagnose::draw_simplification(dir / "simplification.png", d.simplified);
  if (d.pruned) {
    checkpoint::CheckpointInfo info = loaded.info;
    info.derivation = diagnose::pruning_derivation(*options.pruned_sparsity);
    const checkpoint::CheckpointView view{loaded.model->spec(), d.pruned->parameters, loaded.model->buffers(), {},
                                          info, true};
    checkpoint::write_checkpoint(options.pruned_output, view);
    std::printf("\npruned checkpoint %s (%s): accuracy %.6f  loss %.6f\n", options.pruned_output.c_str(),
                info.derivation.c_str(), d.pruned->result.accuracy, d.pruned->result.loss);
  }
  std::printf("\noutputs in %s\n", dir.c_str());
  std::fflush(stdout);
}

po::options_description diagnose_options() {
  po::options_description desc(
      "usage: mpirun -np N mpitrain diagnose --checkpoint FILE --data FILE [--labels FILE] --output DIR\n"
      "         [--calibration-data FILE [--calibration-labels FILE]] [--bins 15]\n"
      "         [--write-pruned S [--pruned-output FILE]]\n\n"
      "Diagnosis of a checkpoint on a labelled set: calibration (ECE, reliability diagram; temperature\n"
      "scaling fitted on --calibration-data), per-class precision, recall and F1, the confusion matrix, and\n"
      "the accuracy of the model magnitude-pruned (50, 80, 90, 95 %, per layer and global) and int8-quantized.\n"
      "Every file in DIR is identical at any world size.\n\noptions");
  desc.add_options()("help,h", "this help")("checkpoint", po::value<std::string>(), "checkpoint .h5")(
      "data", po::value<std::string>(), "CSV file, or IDX images file")(
      "labels", po::value<std::string>()->default_value(""), "IDX labels file (with IDX images)")(
      "output", po::value<std::string>(), "directory for the CSV files and pictures (created)")(
      "calibration-data", po::value<std::string>()->default_value(""),
      "held-out labelled set to fit the temperature on (CSV, or IDX images)")(
      "calibration-labels", po::value<std::string>()->default_value(""), "its IDX labels file")(
      "bins", po::value<int>()->default_value(15), "equal-width confidence bins of the ECE")(
      "write-pruned", po::value<double>(), "also write the model pruned globally at S % of the kernels")(
      "pruned-output", po::value<std::string>()->default_value(""), "its file (default DIR/pruned-S.h5)");
  return desc;
}

}  // namespace

int diagnose_command(const std::vector<std::string>& args, const dist::Communicator& comm) {
  const po::options_description desc = diagnose_options();
  po::variables_map vm;
  if (const auto done = parse_command_line("diagnose", args, desc, {"checkpoint", "data", "output"}, vm, comm)) {
    return *done;
  }
  if (const int refused = refuse_output_over_inputs(
          "diagnose", vm, "pruned-output", {"checkpoint", "data", "labels", "calibration-data", "calibration-labels"},
          comm)) {
    return refused;
  }
  Options options;
  if (const int code = agreed(comm, base::exit_usage, [&] {
        options = checked_options(vm);
        if (comm.rank() == 0) prepare_outputs(options);
      })) {
    return code;
  }
  LoadedModel loaded;
  data::Dataset test;
  std::optional<data::Dataset> held_out;
  if (const int code = agreed(comm, base::exit_error, [&] {
        loaded = load_model(vm["checkpoint"].as<std::string>());
        test = load_labelled(loaded, "data", vm["data"].as<std::string>(), vm["labels"].as<std::string>());
        if (!options.calibration_data.empty()) {
          held_out = load_labelled(loaded, "calibration-data", options.calibration_data, options.calibration_labels);
        }
      })) {
    return code;
  }
  Diagnosis diagnosis;
  if (const int code = agreed(comm, base::exit_error,
                              [&] { diagnosis = run_diagnosis(loaded, test, held_out, options, comm); })) {
    return code;
  }
  return agreed(comm, base::exit_error, [&] {
    if (comm.rank() == 0) write_outputs(diagnosis, loaded, options);
  });
}

}  // namespace mpitrain::app
