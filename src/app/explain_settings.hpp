#pragma once
// explain's options, checked before anything is loaded (explain_settings) and against the model and the
// data once they are (check_against_model); the data and the baseline it explains.

#include <boost/program_options.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "app/model_io.hpp"
#include "mpitrain/explain/attribution.hpp"
#include "mpitrain/explain/target.hpp"

namespace mpitrain::app {

struct ExplainSettings {
  bool permutation = false;                // method permutation_importance
  std::string method_text;                 // --method as given
  explain::AttributionOptions attribution; // the gradient methods' settings
  std::string target_text = "predicted";   // --target as given (parsed once the classes are known)
  explain::TargetChoice target;            // parsed by check_against_model
  std::string baseline = "zero";           // zero | mean
  std::string baseline_data;               // --baseline-data FILE or empty
  int repeats = 5;                         // permutation_importance
  std::string group = "single";            // permutation_importance
  bool score_loss = false;                 // permutation_importance: --score loss
  std::int64_t limit = 0;                  // first N samples, 0: all
  std::vector<std::int64_t> show;          // samples drawn beside their image
  bool show_given = false;                 // --show given (else the default's samples beyond N are dropped)
  int top = 10;                            // rows printed
  std::string checkpoint, data, labels;    // the input files, for messages and attributes
};

// Reads and checks the options that need neither the model nor the data.
// Throws std::invalid_argument naming the option and its value.
ExplainSettings explain_settings(const boost::program_options::variables_map& vm);

// The data to explain: load_inputs' reading and scaling, errors prefixed with "--data FILE: ", cut to the
// first --limit samples.
data::Dataset load_explained_data(const LoadedModel& loaded, const ExplainSettings& settings, bool need_labels);

// Checks the options that depend on the model and the data (the --target class, --group, --show) and
// parses --target into settings.target. Throws std::invalid_argument naming the option and its value.
void check_against_model(ExplainSettings& settings, const LoadedModel& loaded, const data::Dataset& ds);

// Integrated gradients' x′ (input_size() values, scaled like the data): zeros, the mean of the training
// file named by the checkpoint's config (--baseline mean) or of --baseline-data FILE, summed in double in
// row order. Throws data::DataError naming the file.
std::vector<float> explain_baseline(const LoadedModel& loaded, const ExplainSettings& settings);

}  // namespace mpitrain::app
