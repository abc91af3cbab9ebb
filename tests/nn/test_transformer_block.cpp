// The GPT-2 Transformer block: finite-difference gradients (alone, and in a whole GPT with the tied output),
// GPT-2's tensor names and initialisation, causality through the residual stream, the spec's `name` key.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/gradient_check.hpp"
#include <nlohmann/json.hpp>

#include "mpitrain/base/float16.hpp"
#include "mpitrain/nn/model.hpp"
#include "mpitrain/nn/model_spec.hpp"
#include "mpitrain/nn/transformer_block.hpp"

using namespace mpitrain;
using base::ConstMatrixMap;
using base::RowMatrix;

namespace {
// A GPT of @p blocks blocks on (T) byte ids: embedding (V, C), blocks, ln_f, the tied output.
nn::ModelSpec gpt_spec(std::int64_t t, std::int64_t v, std::int64_t c, std::int64_t heads, int blocks) {
  std::string layers = R"({"type": "embedding", "vocabulary": )" + std::to_string(v) + R"(, "dim": )" +
                       std::to_string(c) + "}";
  for (int b = 0; b < blocks; ++b) layers += R"(, {"type": "transformer_block", "heads": )" + std::to_string(heads) + "}";
  layers += R"(, {"type": "layer_norm", "name": "ln_f"}, {"type": "tied_output", "vocabulary": )" + std::to_string(v) + "}";
  return nn::parse_model_spec(R"({"input_shape": [)" + std::to_string(t) + R"(], "layers": [)" + layers + "]}");
}
}  // namespace

TEST(TransformerBlockGradient, MatchesFiniteDifferences) {
  test::check_layer_gradient(nn::TransformerBlock("h.0", {3, 8}, 2, 1e-5), {.rows = 2, .seed = 61, .eps = 1e-3, .tol = 1e-2});
  nn::TransformerBlock first("h.0", {4, 4}, 1, 1e-5);
  first.set_input_gradient(false);  // the parameter gradients alone, as for a block right after the data
  test::check_layer_gradient(first, {.rows = 3, .seed = 62, .eps = 1e-3, .tol = 1e-2});
}

// Every parameter of a two-block GPT with its loss path (embedding, blocks, ln_f, tied output), against
// finite differences of sum(logits ∘ R).
TEST(TransformerBlockGradient, WholeGptMatchesFiniteDifferences) {
  nn::Model model = nn::build_model(gpt_spec(4, 7, 8, 2, 2));
  model.init(71);
  for (auto& p : model.parameters()) p += 0.2f * std::sin(5.0f * static_cast<float>(&p - model.parameters().data()));
  const std::int64_t rows = 2;
  model.reserve(rows);
  RowMatrix ids(rows, 4);
  ids << 1, 6, 1, 2, 0, 3, 5, 5;
  test::check_model_parameter_gradient(model, ids, 72);
}

// At bf16 the block's fused path (each layer rounding its output into the next dense layer's bf16 input)
// against the eight sub-layers run one after the other at bf16 by hand, on the same parameters: the same bits
// for y, dx and every parameter gradient but the biases of c_attn and mlp.c_fc, which the block sums from the
// rounded dY: those equal the column sums of the rounded dY within fp32 rounding.
TEST(TransformerBlock, Bf16FusionsGiveTheUnfusedLayersBits) {
  const std::int64_t t = 6, c = 16, heads = 2, rows = 3;
  nn::TransformerBlock block("h.0", {t, c}, heads, 1e-5);
  nn::ParameterRegistry registry, buffers;
  block.register_tensors(registry, buffers);
  const auto n = static_cast<std::size_t>(registry.total());
  RowMatrix params = test::random_matrix(1, registry.total(), 81, 0.3f);
  RowMatrix fused_grad = RowMatrix::Zero(1, registry.total()), unfused_grad = fused_grad;
  block.bind({params.data(), n}, {fused_grad.data(), n}, {});
  block.set_precision(nn::Precision::bf16);
  block.reserve(rows);
  const RowMatrix x = test::random_matrix(rows, t * c, 82, 1.0f), dy = test::random_matrix(rows, t * c, 83, 1.0f);
  const RowMatrix y = block.forward(ConstMatrixMap(x.data(), rows, x.cols()), nn::Context::evaluation());
  const RowMatrix dx = block.backward(ConstMatrixMap(dy.data(), rows, dy.cols()));

  // The same layers, registered in the block's order (so at the block's offsets), composed by hand.
  nn::LayerNorm ln_1("h.0.ln_1", {t, c}, 1e-5), ln_2("h.0.ln_2", {t, c}, 1e-5);
  nn::Dense c_attn("h.0.attn.c_attn", {t, c}, 3 * c), attn_proj("h.0.attn.c_proj", {t, c}, c);
  nn::CausalSelfAttention attention("h.0.attn", {t, 3 * c}, heads);
  nn::Dense c_fc("h.0.mlp.c_fc", {t, c}, 4 * c), mlp_proj("h.0.mlp.c_proj", {t, 4 * c}, c);
  nn::Activation gelu("h.0.mlp.gelu", nn::ActivationKind::gelu, {t, 4 * c});
  std::vector<nn::Layer*> layers{&ln_1, &c_attn, &attention, &attn_proj, &ln_2, &c_fc, &gelu, &mlp_proj};
  nn::ParameterRegistry own, own_buffers;
  for (nn::Layer* layer : layers) layer->register_tensors(own, own_buffers);
  ASSERT_EQ(own.total(), registry.total());
  for (nn::Layer* layer : layers) {
    layer->bind({params.data(), n}, {unfused_grad.data(), n}, {});
    layer->set_precision(nn::Precision::bf16);
    layer->reserve(rows);
  }
  const auto ctx = nn::Context::evaluation();
  std::vector<RowMatrix> kept;  // every intermediate stays alive: layers keep pointers to their inputs
  kept.reserve(32);
  const auto map = [rows](const RowMatrix& m) { return ConstMatrixMap(m.data(), rows, m.cols()); };
  const auto run = [&](std::size_t first, std::size_t last, const RowMatrix& in) -> const RowMatrix& {
    const RowMatrix* current = &in;
    for (std::size_t i = first; i < last; ++i) current = &kept.emplace_back(layers[i]->forward(map(*current), ctx));
    return *current;
  };
  const auto run_back = [&](std::size_t first, std::size_t last, const RowMatrix& g) -> const RowMatrix& {
    const RowMatrix* current = &g;
    for (std::size_t i = last; i-- > first;) current = &kept.emplace_back(layers[i]->backward(map(*current)));
    return *current;
  };
  const RowMatrix h = x + run(0, 4, x);
  const RowMatrix y_ref = h + run(4, 8, h);
  const RowMatrix dh = dy + run_back(4, 8, dy);
  const RowMatrix dc_attn_out = run_back(2, 4, dh);  // c_attn's dY
  const RowMatrix dx_ref = dh + run_back(0, 2, dc_attn_out);
  EXPECT_EQ(y, y_ref);
  EXPECT_EQ(dx, dx_ref);
  const RowMatrix unfused = unfused_grad;  // before the extra backward below adds to it

  // c_fc's dY, to check its bias gradient: gelu's backward of mlp.c_proj's dX, recomputed from c_fc's output.
  const RowMatrix u = run(4, 6, h);
  const RowMatrix dg = run_back(7, 8, dy);
  RowMatrix dc_fc_out(rows, u.cols());
  nn::gelu_gradient(map(u), map(dg), base::MatrixMap(dc_fc_out.data(), rows, u.cols()));
  const auto rounded_column_sums = [&](const RowMatrix& g, std::int64_t units) {
    std::vector<double> sums(static_cast<std::size_t>(units), 0.0);
    for (std::int64_t i = 0; i < g.size(); ++i) sums[static_cast<std::size_t>(i % units)] += base::bf16_to_float(base::float_to_bf16(g.data()[i]));
    return sums;
  };
  for (const auto& entry : registry.entries()) {
    const bool fused_bias = entry.name == "h.0.attn.c_attn/bias:0" || entry.name == "h.0.mlp.c_fc/bias:0";
    for (std::int64_t i = 0; i < entry.size(); ++i) {
      const float got = fused_grad(0, entry.offset + i);
      if (!fused_bias) {
        ASSERT_EQ(got, unfused(0, entry.offset + i)) << entry.name << " " << i;
      }
    }
    if (fused_bias) {
      const bool attn = entry.name == "h.0.attn.c_attn/bias:0";
      const auto sums = rounded_column_sums(attn ? dc_attn_out : dc_fc_out, entry.size());
      for (std::int64_t i = 0; i < entry.size(); ++i) {
        EXPECT_NEAR(fused_grad(0, entry.offset + i), sums[static_cast<std::size_t>(i)], 1e-5 * (1 + std::abs(sums[static_cast<std::size_t>(i)])))
            << entry.name << " " << i;
      }
    }
  }
}

TEST(TransformerBlock, HasGpt2NamesLayoutAndInitialisation) {
  nn::Model model = nn::build_model(gpt_spec(16, 256, 32, 4, 2));
  std::vector<std::string> names;
  for (const auto& p : model.registry().entries()) names.push_back(p.name);
  std::vector<std::string> expected{"embedding/wte:0", "embedding/wpe:0"};
  for (const std::string h : {"h.0", "h.1"}) {
    for (const std::string t : {".ln_1/gamma:0", ".ln_1/beta:0", ".attn.c_attn/kernel:0", ".attn.c_attn/bias:0",
                                ".attn.c_proj/kernel:0", ".attn.c_proj/bias:0", ".ln_2/gamma:0", ".ln_2/beta:0",
                                ".mlp.c_fc/kernel:0", ".mlp.c_fc/bias:0", ".mlp.c_proj/kernel:0", ".mlp.c_proj/bias:0"}) {
      expected.push_back(h + t);
    }
  }
  expected.insert(expected.end(), {"ln_f/gamma:0", "ln_f/beta:0"});
  EXPECT_EQ(names, expected);
  const auto c_attn = *model.registry().find("h.1.attn.c_attn/kernel:0");
  EXPECT_EQ(c_attn.shape, (std::vector<std::int64_t>{32, 96}));
  EXPECT_EQ(c_attn.layer, "h.1");  // one gradient group per block
  EXPECT_TRUE(c_attn.decay);
  EXPECT_EQ(model.registry().find("h.0.mlp.c_proj/kernel:0")->shape, (std::vector<std::int64_t>{128, 32}));
  EXPECT_FALSE(model.registry().find("h.0.mlp.c_fc/bias:0")->decay);
  // The parameter count of GPT-2's layout: 12·C² + 13·C per block, wte, wpe and ln_f.
  EXPECT_EQ(model.registry().total(), 256 * 32 + 16 * 32 + 2 * (12 * 32 * 32 + 13 * 32) + 2 * 32);
  model.init(3);
  for (const auto& p : model.registry().entries()) {
    const auto values = model.parameters().subspan(p.offset, p.size());
    double sum = 0.0, squares = 0.0;
    for (const float v : values) {
      sum += v;
      squares += static_cast<double>(v) * v;
    }
    const double n = static_cast<double>(values.size());
    if (p.decay) {  // normal(0, 0.02), GPT-2's rule for every kernel and the embeddings
      EXPECT_NEAR(std::sqrt(squares / n), 0.02, 0.002) << p.name;
      EXPECT_NEAR(sum / n, 0.0, 0.004) << p.name;
    } else {  // biases 0, LayerNorm gains 1
      EXPECT_EQ(squares, p.name.ends_with("gamma:0") ? n : 0.0) << p.name;
    }
  }
}

// Changing token t changes no logit before t, through two blocks' residual streams.
TEST(TransformerBlock, GptIsCausal) {
  const std::int64_t t = 6, v = 11;
  nn::Model model = nn::build_model(gpt_spec(t, v, 8, 2, 2));
  model.init(5);
  model.reserve(1);
  RowMatrix ids(1, t);
  ids << 3, 1, 4, 1, 5, 9;
  const RowMatrix before = model.forward(ConstMatrixMap(ids.data(), 1, t), nn::Context::evaluation());
  for (std::int64_t changed = 0; changed < t; ++changed) {
    RowMatrix other = ids;
    other(0, changed) = 10;
    const RowMatrix after = model.forward(ConstMatrixMap(other.data(), 1, t), nn::Context::evaluation());
    for (std::int64_t p = 0; p < t; ++p) {
      const bool same = (after.middleCols(p * v, v).array() == before.middleCols(p * v, v).array()).all();
      EXPECT_EQ(same, p < changed) << "token " << changed << " changed, position " << p;
    }
  }
}

TEST(TransformerBlock, SpecRoundTripsAndErrorsNameTheLayer) {
  const nn::ModelSpec spec = gpt_spec(8, 256, 16, 4, 1);
  EXPECT_EQ(nn::parse_model_spec(nn::to_json_text(spec)), spec);
  EXPECT_EQ(nn::to_json(spec)["layers"][1],
            nlohmann::json::parse(R"({"type": "transformer_block", "heads": 4, "epsilon": 1e-5})"));
  EXPECT_EQ(nn::to_json(spec)["layers"][2]["name"], "ln_f");
  auto error_of = [](const std::string& json) {
    try {
      (void)nn::build_model(nn::parse_model_spec(json));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(R"({"input_shape": [4, 10], "layers": [{"type": "transformer_block", "heads": 4}]})")
                .find("model spec: layer 0: layer h.0.attn (causal_self_attention)"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input_shape": [10], "layers": [{"type": "transformer_block", "heads": 2}]})")
                .find("layer h.0 (transformer_block): the input must be a sequence (T, C), got (10)"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input_shape": [4], "layers": [{"type": "dense", "units": 3, "name": "a"},
                {"type": "dense", "units": 3, "name": "a"}]})")
                .find("model spec: layer 1: two layers are named 'a'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"input_shape": [4], "layers": [{"type": "dense", "units": 3, "name": ""}]})")
                .find("model spec: layer 0 (dense): key 'name': must not be empty"),
            std::string::npos);
}
