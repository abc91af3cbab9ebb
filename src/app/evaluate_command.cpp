// `mpitrain evaluate --checkpoint FILE --data FILE [--labels FILE] [--output FILE.json]`
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/commands.hpp"
#include "app/model_io.hpp"
#include "mpitrain/config/config.hpp"
#include "mpitrain/train/evaluation.hpp"
#include "mpitrain/telemetry/metrics.hpp"

namespace po = boost::program_options;

namespace mpitrain::app {

namespace {

void print_report(const train::EvaluationResult& r) {
  std::printf("samples %lld  loss %.6f  accuracy %.6f\n\n", static_cast<long long>(r.count), r.loss,
              r.accuracy);
  std::printf("class  precision  recall  support\n");
  for (int k = 0; k < r.classes; ++k) {
    std::int64_t support = 0;
    for (int p = 0; p < r.classes; ++p) support += r.confusion[static_cast<std::size_t>(k * r.classes + p)];
    std::printf("%5d  %9.4f  %6.4f  %7lld\n", k, r.precision(k), r.recall(k), static_cast<long long>(support));
  }
  std::printf("\nconfusion matrix (rows: true class, columns: predicted class)\n      ");
  for (int p = 0; p < r.classes; ++p) std::printf("%6d", p);
  std::printf("\n");
  for (int t = 0; t < r.classes; ++t) {
    std::printf("%6d", t);
    for (int p = 0; p < r.classes; ++p) {
      std::printf("%6lld", static_cast<long long>(r.confusion[static_cast<std::size_t>(t * r.classes + p)]));
    }
    std::printf("\n");
  }
  std::fflush(stdout);
}

nlohmann::json report_json(const train::EvaluationResult& r) {
  nlohmann::json j = {{"samples", r.count}, {"loss", r.loss}, {"accuracy", r.accuracy}};
  for (int k = 0; k < r.classes; ++k) {
    j["precision"].push_back(r.precision(k));
    j["recall"].push_back(r.recall(k));
  }
  for (int t = 0; t < r.classes; ++t) {
    j["confusion"].push_back(std::vector<std::int64_t>(
        r.confusion.begin() + t * r.classes, r.confusion.begin() + (t + 1) * r.classes));
  }
  return j;
}

}  // namespace

int evaluate_command(const std::vector<std::string>& args, const dist::Communicator& comm) {
  po::options_description desc(
      "usage: mpirun -np N mpitrain evaluate --checkpoint FILE --data FILE [--labels FILE] [--output FILE.json]\n\n"
      "Loss, accuracy, per-class precision and recall and the confusion matrix of a checkpoint on a\n"
      "labelled set: a CSV with the training run's label column, or IDX images with --labels. The\n"
      "result is identical at any world size.\n\noptions");
  desc.add_options()("help,h", "this help")("checkpoint", po::value<std::string>(), "checkpoint .h5")(
      "data", po::value<std::string>(), "CSV file, or IDX images file")(
      "labels", po::value<std::string>()->default_value(""), "IDX labels file (with IDX images)")(
      "output", po::value<std::string>()->default_value(""), "also write the report as JSON here");
  po::variables_map vm;
  LoadedModel loaded;
  data::Dataset ds;
  if (const auto done = parse_command_line("evaluate", args, desc, {"checkpoint", "data"}, vm, comm)) {
    return *done;
  }
  if (const int refused = refuse_output_over_inputs("evaluate", vm, "output", {"checkpoint", "data", "labels"}, comm)) {
    return refused;
  }
  const int code = agreed(comm, base::exit_error, [&] {
    loaded = load_model(vm["checkpoint"].as<std::string>());
    ds = load_inputs(loaded, vm["data"].as<std::string>(), vm["labels"].as<std::string>(), true);
  });
  if (code != base::exit_ok) return code;
  const train::EvaluationResult result = train::evaluate(*loaded.model, *loaded.task, ds, comm);
  return agreed(comm, base::exit_error, [&] {
    if (comm.rank() != 0) return;
    print_report(result);
    const std::string out = vm["output"].as<std::string>();
    if (!out.empty()) telemetry::write_json_file(out, report_json(result));
  });
}

}  // namespace mpitrain::app
