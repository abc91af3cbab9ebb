// `mpitrain predict --checkpoint FILE --input FILE --output FILE.csv`
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <iterator>
#include <iostream>

#include "app/commands.hpp"
#include "app/model_io.hpp"
#include "mpitrain/base/files.hpp"
#include "mpitrain/config/config.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace po = boost::program_options;

namespace mpitrain::app {

namespace {

// row,predicted_class,prob_0..prob_{K-1}, one line per row of @p probs (rows × k).
std::string predictions_csv(const std::vector<float>& probs, int k) {
  std::string text = "row,predicted_class";
  for (int j = 0; j < k; ++j) fmt::format_to(std::back_inserter(text), ",prob_{}", j);
  text += '\n';
  const std::size_t rows = probs.size() / static_cast<std::size_t>(k);
  for (std::size_t i = 0; i < rows; ++i) {
    const float* p = probs.data() + i * static_cast<std::size_t>(k);
    const std::int64_t best = nn::argmax(std::span<const float>(p, static_cast<std::size_t>(k)));
    fmt::format_to(std::back_inserter(text), "{},{}", i, best);
    for (int j = 0; j < k; ++j) fmt::format_to(std::back_inserter(text), ",{:.9g}", static_cast<double>(p[j]));
    text += '\n';
  }
  return text;
}

}  // namespace

int predict_command(const std::vector<std::string>& args, const dist::Communicator& comm) {
  po::options_description desc(
      "usage: mpirun -np N mpitrain predict --checkpoint FILE --input FILE --output FILE.csv\n\n"
      "Class probabilities for every row of an IDX images file (gzipped or plain) or a CSV file (the\n"
      "training run's label column is dropped if present). Rows are split across the ranks; rank 0\n"
      "writes them in input order: row,predicted_class,prob_0..prob_{K-1}. Works at any world size on\n"
      "a checkpoint written at any world size.\n\noptions");
  desc.add_options()("help,h", "this help")("checkpoint", po::value<std::string>(), "checkpoint .h5")(
      "input", po::value<std::string>(), "input file (.csv, or IDX images)")(
      "output", po::value<std::string>(), "output CSV");
  po::variables_map vm;
  LoadedModel loaded;
  data::Dataset inputs;
  if (const auto done = parse_command_line("predict", args, desc, {"checkpoint", "input", "output"}, vm, comm)) {
    return *done;
  }
  if (const int refused = refuse_output_over_inputs("predict", vm, "output", {"checkpoint", "input"}, comm)) {
    return refused;
  }
  const int code = agreed(comm, base::exit_error, [&] {
    loaded = load_model(vm["checkpoint"].as<std::string>());
    inputs = load_inputs(loaded, vm["input"].as<std::string>(), {}, false);
  });
  if (code != base::exit_ok) return code;
  const int k = loaded.task->classes();
  const std::vector<float> probs = train::predict_probabilities(*loaded.model, *loaded.task, inputs.features, comm);
  return agreed(comm, base::exit_error, [&] {
    if (comm.rank() != 0) return;
    base::write_text_atomically(vm["output"].as<std::string>(), predictions_csv(probs, k), base::Durability::synced);
    spdlog::info("predict: {} rows written to {}", inputs.size(), vm["output"].as<std::string>());
  });
}

}  // namespace mpitrain::app
