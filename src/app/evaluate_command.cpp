// `mpitrain evaluate --checkpoint FILE --data FILE [--labels FILE] [--output FILE.json]`; on a language model's
// checkpoint, --data is a text file.
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "app/commands.hpp"
#include "app/model_io.hpp"
#include "mpitrain/config/config.hpp"
#include "mpitrain/data/mapped_file.hpp"
#include "mpitrain/data/text_windows.hpp"
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

// A language model on a text: every window at offset 0.
void print_text_report(const train::EvaluationResult& r, const data::TextWindows& windows) {
  std::printf("tokens %lld  windows %lld  loss/token %.6f  bits/byte %.6f  perplexity %.6f  accuracy %.6f\n",
              static_cast<long long>(r.count), static_cast<long long>(windows.count()), r.loss,
              nn::bits_per_byte(r.loss), nn::perplexity(r.loss), r.accuracy);
  std::fflush(stdout);
}

nlohmann::json text_report_json(const train::EvaluationResult& r, const data::TextWindows& windows) {
  return {{"tokens", r.count},         {"windows", windows.count()},
          {"context", windows.context()}, {"loss", r.loss},
          {"bits_per_byte", nn::bits_per_byte(r.loss)}, {"perplexity", nn::perplexity(r.loss)},
          {"accuracy", r.accuracy}};
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
      "labelled set: a CSV with the training run's label column, or IDX images with --labels. On a\n"
      "language model's checkpoint (data.format = text), --data is a text file: loss per token, bits per\n"
      "byte, perplexity and token accuracy over every window of the model's context at offset 0. The\n"
      "result is identical at any world size.\n\noptions");
  desc.add_options()("help,h", "this help")("checkpoint", po::value<std::string>(), "checkpoint .h5")(
      "data", po::value<std::string>(), "CSV file, IDX images file, or text file (language model)")(
      "labels", po::value<std::string>()->default_value(""), "IDX labels file (with IDX images)")(
      "output", po::value<std::string>()->default_value(""), "also write the report as JSON here");
  po::variables_map vm;
  LoadedModel loaded;
  data::Dataset ds;
  std::optional<data::TextWindows> text;  // a language model's data
  if (const auto done = parse_command_line("evaluate", args, desc, {"checkpoint", "data"}, vm, comm)) {
    return *done;
  }
  if (const int refused = refuse_output_over_inputs("evaluate", vm, "output", {"checkpoint", "data", "labels"}, comm)) {
    return refused;
  }
  const int code = agreed(comm, base::exit_error, [&] {
    loaded = load_model(vm["checkpoint"].as<std::string>());
    const std::string path = vm["data"].as<std::string>();
    if (loaded.config.data.format != "text") {
      ds = load_inputs(loaded, path, vm["labels"].as<std::string>(), true);
      return;
    }
    if (!vm["labels"].as<std::string>().empty()) {
      throw data::DataError("--labels: a language model's text (" + path + ") is its own labels; leave it out");
    }
    auto file = std::make_shared<const data::MappedFile>(path);
    const std::size_t size = file->size();
    text.emplace(std::move(file), 0, size, loaded.model->input_shape()[0], data::WindowLayout::evaluation, path);
  });
  if (code != base::exit_ok) return code;
  const train::EvaluationResult result = text ? train::evaluate(*loaded.model, *loaded.task, *text, comm)
                                              : train::evaluate(*loaded.model, *loaded.task, ds, comm);
  return agreed(comm, base::exit_error, [&] {
    if (comm.rank() != 0) return;
    if (text) {
      print_text_report(result, *text);
    } else {
      print_report(result);
    }
    const std::string out = vm["output"].as<std::string>();
    if (!out.empty()) telemetry::write_json_file(out, text ? text_report_json(result, *text) : report_json(result));
  });
}

}  // namespace mpitrain::app
