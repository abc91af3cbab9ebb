// Test helper (not installed): writes a weights checkpoint of a language model built from a model spec with
// random initialisation, and optionally the logits that mpitrain computes from that checkpoint, read back,
// for a byte sequence. Used by tests/scripts/generate.sh (a checkpoint for `mpitrain generate`) and
// tests/interop/gpt_logits.py (the PyTorch logit match).
//
//   lm_checkpoint --spec FILE.json --output CKPT.h5 [--seed S] [--scale X]
//                 [--logits-of TEXT --logits FILE.h5]
//
// --scale multiplies every parameter after nn::Model::init (GPT-2's normal(0, 0.02) gives nearly equal
// logits; a larger scale makes the comparison and the generated text less uniform). FILE.h5 holds the
// datasets `ids` (int32, T: the bytes of TEXT, then zeros up to T) and `logits` (float32, (T, V)).
#include <boost/program_options.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include "mpitrain/checkpoint/array_file.hpp"
#include "mpitrain/checkpoint/checkpoint.hpp"
#include "mpitrain/config/config.hpp"
#include "mpitrain/nn/model.hpp"

namespace po = boost::program_options;
using namespace mpitrain;

namespace {

void write_checkpoint(const nn::Model& model, const std::string& path) {
  config::Config config;
  config.name = "lm_checkpoint";
  config.train.threads = 1;  // what generate computes with (load_network sets the training run's threads)
  // The stored config must validate; no data file is read from it (nothing trains here).
  config.data.train_images = "none";
  config.data.train_labels = "none";
  checkpoint::CheckpointInfo info;
  info.config_ini = config::to_ini(config);
  const checkpoint::CheckpointView view{model.spec(), model.parameters(), model.buffers(), {}, info, true};
  checkpoint::write_checkpoint(path, view);
}

// The logits of @p text (its bytes, padded with zeros to T) from the model that @p path holds.
void write_logits(const std::string& path, const std::string& text, const std::string& output) {
  const checkpoint::Checkpoint c = checkpoint::read_checkpoint(path);
  nn::Model model(c.model);
  std::ranges::copy(c.parameters, model.parameters().begin());
  const std::int64_t t = model.input_size();
  if (static_cast<std::int64_t>(text.size()) > t) throw std::invalid_argument("--logits-of: longer than T");
  std::vector<float> x(static_cast<std::size_t>(t), 0.0f);
  std::vector<std::int32_t> ids(x.size(), 0);
  for (std::size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  std::ranges::copy(ids, x.begin());
  model.reserve(1);
  const base::ConstMatrixMap y = model.forward(base::ConstMatrixMap(x.data(), 1, t), nn::Context::evaluation());
  const std::span<const float> logits(y.data(), static_cast<std::size_t>(y.size()));
  checkpoint::write_array_file(output, [&](const checkpoint::ArrayWriter& w) {
    w.ints("ids", {t}, ids);
    w.floats("logits", model.output_shape(), logits);
  });
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc("options");
  desc.add_options()("spec", po::value<std::string>()->required(), "model spec JSON file")(
      "output", po::value<std::string>()->required(), "checkpoint to write")(
      "seed", po::value<std::uint64_t>()->default_value(1), "nn::Model::init seed")(
      "scale", po::value<float>()->default_value(1.0f), "multiplies every parameter")(
      "logits-of", po::value<std::string>(), "bytes whose logits to write")(
      "logits", po::value<std::string>(), "HDF5 file of ids and logits");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    std::ifstream in(vm["spec"].as<std::string>());
    std::stringstream text;
    text << in.rdbuf();
    nn::Model model(nn::parse_model_spec(text.str()));
    model.init(vm["seed"].as<std::uint64_t>());
    for (float& w : model.parameters()) w *= vm["scale"].as<float>();
    write_checkpoint(model, vm["output"].as<std::string>());
    if (vm.count("logits-of") != 0) {
      write_logits(vm["output"].as<std::string>(), vm["logits-of"].as<std::string>(), vm["logits"].as<std::string>());
    }
  } catch (const std::exception& e) {
    std::cerr << "lm_checkpoint: " << e.what() << "\n" << desc;
    return 1;
  }
  return 0;
}
