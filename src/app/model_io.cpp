#include "app/model_io.hpp"

#include "mpitrain/data/csv_reader.hpp"
#include "mpitrain/data/idx_reader.hpp"
#include "mpitrain/nn/matmul.hpp"
#include "mpitrain/checkpoint/checkpoint.hpp"
#include "mpitrain/train/model_setup.hpp"

namespace mpitrain::app {

LoadedModel load_model(const std::filesystem::path& checkpoint) {
  LoadedModel out = load_network(checkpoint);
  try {
    out.task = train::configured_task(out.config, *out.model);  // the stored config's data.format says which
  } catch (const std::invalid_argument& e) {
    throw checkpoint::CheckpointError(checkpoint.string() + ": " + e.what());
  }
  return out;
}

LoadedModel load_network(const std::filesystem::path& checkpoint) {
  checkpoint::Checkpoint c = checkpoint::read_checkpoint(checkpoint);
  LoadedModel out;
  out.config = config::parse_config_text(c.info.config_ini, "config stored in " + checkpoint.string());
  out.model.emplace(c.model);  // read_checkpoint checked the spec and the tensors against it
  std::ranges::copy(c.parameters, out.model->parameters().begin());
  std::ranges::copy(c.buffers, out.model->buffers().begin());
  out.scaler = data::Scaler(c.info.scaler_method, out.config.data.scale_divisor);
  out.scaler.set(c.info.scaler_shift, c.info.scaler_scale);
  out.info = std::move(c.info);
  // The training run's threads per rank, not the default of the CPUs mpirun's binding leaves each rank (1 at 2
  // ranks on 2 cores, 2 at 3): no kernel is then chosen by thread count differently at another world size.
  nn::set_compute_threads(out.config.train.threads);
  return out;
}

data::Dataset load_inputs(const LoadedModel& loaded, const std::filesystem::path& input,
                          const std::filesystem::path& labels, bool need_labels) {
  if (loaded.config.data.format == "text") {
    throw data::DataError(input.string() + ": the checkpoint holds a language model (data.format = text); this "
                          "command reads classification data (IDX or CSV): use `evaluate` on a text file");
  }
  const int classes = loaded.task->classes();
  const std::int64_t inputs = loaded.model->input_size();
  data::Dataset ds;
  const std::string ext = input.extension().string();
  if (ext == ".csv" || ext == ".CSV") {
    data::CsvOptions options = data::csv_options(loaded.config.data, classes);
    options.label_optional = !need_labels;
    ds = data::read_csv_dataset(input, options);
  } else if (!labels.empty()) {
    ds = data::load_idx_dataset(input, labels, classes);
  } else {
    if (need_labels) throw data::DataError(input.string() + ": IDX images need --labels FILE");
    ds = data::load_idx_unlabelled(input);
  }
  if (ds.feature_count() != inputs) {
    throw data::DataError(input.string() + ": " + std::to_string(ds.feature_count()) +
                          " features per row, the model needs " + std::to_string(inputs));
  }
  data::check_finite(ds);
  loaded.scaler.apply(ds);
  return ds;
}

}  // namespace mpitrain::app
