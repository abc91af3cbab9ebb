// `mpitrain predict --checkpoint FILE --input FILE --output FILE.csv`
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/commands.hpp"
#include "app/model_io.hpp"
#include "mpitrain/config/config.hpp"
#include "mpitrain/nn/loss.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace po = boost::program_options;

namespace mpitrain::app {

namespace {

// Writes row,predicted_class,prob_0..prob_{K-1} to a temporary file renamed over @p path when complete.
void write_predictions(const std::filesystem::path& path, const std::vector<float>& probs, int k) {
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write " + tmp.string());
  std::fputs("row,predicted_class", f);
  for (int j = 0; j < k; ++j) std::fprintf(f, ",prob_%d", j);
  std::fputc('\n', f);
  const std::size_t rows = probs.size() / static_cast<std::size_t>(k);
  for (std::size_t i = 0; i < rows; ++i) {
    const float* p = probs.data() + i * static_cast<std::size_t>(k);
    const std::int64_t best = nn::argmax(std::span<const float>(p, static_cast<std::size_t>(k)));
    std::fprintf(f, "%zu,%lld", i, static_cast<long long>(best));
    for (int j = 0; j < k; ++j) std::fprintf(f, ",%.9g", static_cast<double>(p[j]));
    std::fputc('\n', f);
  }
  const bool ok = std::fflush(f) == 0 && std::ferror(f) == 0;
  std::fclose(f);
  if (!ok) throw std::runtime_error("cannot write " + tmp.string());
  std::filesystem::rename(tmp, path);
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
  const int code = agreed(comm, exit_error, [&] {
    loaded = load_model(vm["checkpoint"].as<std::string>());
    inputs = load_inputs(loaded, vm["input"].as<std::string>(), {}, false);
  });
  if (code != exit_ok) return code;
  const int k = loaded.task->classes();
  const std::vector<float> probs = train::predict_probabilities(*loaded.model, *loaded.task, inputs.features, comm);
  return agreed(comm, exit_error, [&] {
    if (comm.rank() != 0) return;
    write_predictions(vm["output"].as<std::string>(), probs, k);
    spdlog::info("predict: {} rows written to {}", inputs.size(), vm["output"].as<std::string>());
  });
}

}  // namespace mpitrain::app
