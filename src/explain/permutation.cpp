#include "mpitrain/explain/permutation.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "mpitrain/base/random.hpp"
#include "mpitrain/explain/importance.hpp"
#include "mpitrain/train/evaluation.hpp"

namespace mpitrain::explain {

namespace {
constexpr std::uint64_t permutation_key = 0x5065726d75746521;  // "Permute!"
}  // namespace

std::vector<FeatureGroup> feature_groups(const std::string& spec, const base::Shape& shape) {
  std::vector<FeatureGroup> groups;
  if (spec == "single") {
    const std::vector<std::string> names = feature_names(shape);
    for (std::size_t j = 0; j < names.size(); ++j) groups.push_back({names[j], {static_cast<std::int64_t>(j)}});
    return groups;
  }
  int p = 0;
  if (!spec.starts_with("patch:") || std::sscanf(spec.c_str() + 6, "%d", &p) != 1 ||
      std::to_string(p) != spec.substr(6) || p < 1) {
    throw std::invalid_argument("--group " + spec + ": expected single or patch:P with P >= 1 pixels");
  }
  if (shape.size() != 3) {
    throw std::invalid_argument("--group " + spec + ": patches need image samples (H, W, C); these are " +
                                base::format_shape(shape));
  }
  const std::int64_t h = shape[0], w = shape[1], c = shape[2];
  for (std::int64_t r0 = 0; r0 < h; r0 += p) {
    for (std::int64_t c0 = 0; c0 < w; c0 += p) {
      const std::int64_t r1 = std::min(h, r0 + p), c1 = std::min(w, c0 + p);
      FeatureGroup g{fmt::format("patch_r{}-{}_c{}-{}", r0, r1 - 1, c0, c1 - 1), {}};
      for (std::int64_t r = r0; r < r1; ++r) {
        for (std::int64_t col = c0; col < c1; ++col) {
          for (std::int64_t ch = 0; ch < c; ++ch) g.features.push_back((r * w + col) * c + ch);
        }
      }
      groups.push_back(std::move(g));
    }
  }
  return groups;
}

double PermutationResult::mean(std::size_t g) const {
  double s = 0.0;
  for (std::int64_t r = 0; r < repeats; ++r)
    s += drops[g * static_cast<std::size_t>(repeats) + static_cast<std::size_t>(r)];
  return s / static_cast<double>(repeats);
}

double PermutationResult::std(std::size_t g) const {
  const double m = mean(g);
  double s = 0.0;
  for (std::int64_t r = 0; r < repeats; ++r) {
    const double d = drops[g * static_cast<std::size_t>(repeats) + static_cast<std::size_t>(r)] - m;
    s += d * d;
  }
  return std::sqrt(s / static_cast<double>(repeats));
}

PermutationResult permutation_importance(const base::RowMatrix& features, const std::vector<FeatureGroup>& groups,
                                         int repeats, std::uint64_t seed, const ChunkScore& score,
                                         const dist::Communicator& comm) {
  if (repeats < 1) throw std::invalid_argument("--repeats " + std::to_string(repeats) + ": must be >= 1");
  const std::int64_t n = features.rows(), f = features.cols();
  std::vector<std::vector<std::int64_t>> permutations(static_cast<std::size_t>(repeats));
  for (int r = 0; r < repeats; ++r) {
    auto& perm = permutations[static_cast<std::size_t>(r)];
    perm.resize(static_cast<std::size_t>(n));
    std::iota(perm.begin(), perm.end(), std::int64_t{0});
    base::SplitMix64 rng(base::keyed_seed({seed, permutation_key, static_cast<std::uint64_t>(r)}));
    base::shuffle(rng, std::span<std::int64_t>(perm));
  }
  // Per chunk: [unshuffled score, then group g repeat r at 1 + g·R + r].
  const std::size_t per_chunk = 1 + groups.size() * static_cast<std::size_t>(repeats);
  const base::Range mine = train::evaluation_rows(n, comm);
  std::vector<double> local;
  base::RowMatrix chunk;
  for (std::int64_t b = mine.begin; b < mine.end; b += train::evaluation_chunk_rows) {
    const std::int64_t e = std::min(mine.end, b + train::evaluation_chunk_rows);
    chunk = features.middleRows(b, e - b);
    const base::ConstMatrixMap rows(chunk.data(), e - b, f);
    local.push_back(score(rows, b));
    for (const auto& group : groups) {
      for (const auto& perm : permutations) {
        for (std::int64_t i = b; i < e; ++i) {
          for (const std::int64_t j : group.features) chunk(i - b, j) = features(perm[static_cast<std::size_t>(i)], j);
        }
        local.push_back(score(rows, b));
        for (std::int64_t i = b; i < e; ++i) {
          for (const std::int64_t j : group.features) chunk(i - b, j) = features(i, j);
        }
      }
    }
  }
  const std::vector<double> totals = train::add_chunk_sums(local, per_chunk, comm);
  PermutationResult result;
  result.repeats = repeats;
  const double samples = static_cast<double>(std::max<std::int64_t>(n, 1));
  result.score = totals[0] / samples;
  for (std::size_t q = 1; q < per_chunk; ++q) result.drops.push_back(result.score - totals[q] / samples);
  return result;
}

std::vector<std::size_t> permutation_order(const PermutationResult& result, std::size_t groups) {
  std::vector<std::size_t> order(groups);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return result.mean(a) > result.mean(b); });
  return order;
}

std::string permutation_csv(const PermutationResult& result, const std::vector<FeatureGroup>& groups) {
  std::string text = "group,features,mean_drop,std_drop\n";
  for (const std::size_t g : permutation_order(result, groups.size())) {
    fmt::format_to(std::back_inserter(text), "{},{},{:.17g},{:.17g}\n", groups[g].name, groups[g].features.size(),
                   result.mean(g), result.std(g));
  }
  return text;
}

std::string permutation_repeats_csv(const PermutationResult& result, const std::vector<FeatureGroup>& groups) {
  std::string text = "group";
  for (std::int64_t r = 0; r < result.repeats; ++r) fmt::format_to(std::back_inserter(text), ",repeat_{}", r);
  text += '\n';
  for (std::size_t g = 0; g < groups.size(); ++g) {
    text += groups[g].name;
    for (std::int64_t r = 0; r < result.repeats; ++r) {
      fmt::format_to(std::back_inserter(text), ",{:.17g}",
                     result.drops[g * static_cast<std::size_t>(result.repeats) + static_cast<std::size_t>(r)]);
    }
    text += '\n';
  }
  return text;
}

}  // namespace mpitrain::explain
