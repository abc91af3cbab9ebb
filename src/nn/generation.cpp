#include "mpitrain/nn/generation.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <span>
#include <stdexcept>
#include <vector>

namespace mpitrain::nn {

namespace {
constexpr std::int64_t byte_vocabulary = 256;
}  // namespace

LanguageModelShape language_model_shape(const Model& model) {
  const Shape& in = model.input_shape();
  const Shape& out = model.output_shape();
  if (in.size() != 1 || out.size() != 2 || out[0] != in[0]) {
    throw std::invalid_argument("the model maps " + base::format_shape(in) + " to " + base::format_shape(out) +
                                " per sample, not (T) token ids to (T, V) logits: not a language model");
  }
  return {in[0], out[1]};
}

void check_generation_options(const GenerationOptions& options, const LanguageModelShape& shape) {
  if (shape.vocabulary != byte_vocabulary) {
    throw std::invalid_argument(fmt::format("the model's logits are (T, V) = ({}, {}): generation needs byte "
                                            "logits, V = {}", shape.context, shape.vocabulary, byte_vocabulary));
  }
  if (options.tokens < 0) throw std::invalid_argument(fmt::format("tokens {} must be >= 0", options.tokens));
  if (options.context < 0 || options.context > shape.context) {
    throw std::invalid_argument(fmt::format("context {} is outside [1, T] with T = {}, the size of the model's "
                                            "position table (0: T)", options.context, shape.context));
  }
  check_sampling_options(options.sampling, shape.vocabulary);
}

std::string generate_bytes(Model& model, std::string_view prompt, const GenerationOptions& options) {
  const LanguageModelShape shape = language_model_shape(model);
  check_generation_options(options, shape);
  const std::int64_t window = options.context == 0 ? shape.context : options.context;
  std::string sequence = prompt.empty() ? std::string("\n") : std::string(prompt);
  const std::size_t start = sequence.size();
  sequence.reserve(start + static_cast<std::size_t>(options.tokens));
  model.reserve(1);
  std::vector<float> input(static_cast<std::size_t>(shape.context));
  for (std::int64_t i = 0; i < options.tokens; ++i) {
    const std::int64_t w = std::min(window, static_cast<std::int64_t>(sequence.size()));
    std::transform(sequence.end() - w, sequence.end(), input.begin(),
                   [](char c) { return static_cast<float>(static_cast<unsigned char>(c)); });
    std::fill(input.begin() + w, input.end(), static_cast<float>(options.padding));
    const ConstMatrixMap logits =
        model.forward(ConstMatrixMap(input.data(), 1, shape.context), Context::evaluation());
    const std::span<const float> last(logits.data() + (w - 1) * shape.vocabulary,
                                      static_cast<std::size_t>(shape.vocabulary));
    sequence.push_back(static_cast<char>(sample_token(last, options.sampling, i)));
  }
  return sequence.substr(start);
}

}  // namespace mpitrain::nn
