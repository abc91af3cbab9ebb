#pragma once
/// @file fixed_order_sum.hpp
/// A sum whose rounding depends on the number of terms alone, for reductions that must give the same bits at
/// any world size, batch position or run.

#include <array>
#include <cstddef>
#include <cstdint>

namespace mpitrain::base {

/// Σ_k term(k) over k in [0, n), in @p Sum (float, or double): 16 running sums (term k goes to sum k mod 16),
/// added in index order at the end. The compiler vectorises the 16 lanes (and a single running sum, the
/// alternative with the same guarantee, is bound by the adder's latency: four times slower or more). Unlike
/// Eigen's vectorised reductions, which peel a head whose length follows the address's alignment, the result
/// does not depend on where the values sit in memory. @param term a callable Sum(std::int64_t k).
/// @return 0 for n <= 0.
template <class Sum = float, class Term>
Sum fixed_order_sum(std::int64_t n, Term term) {
  constexpr std::int64_t lanes = 16;
  std::array<Sum, lanes> sums{};
  std::int64_t k = 0;
  for (; k + lanes <= n; k += lanes) {
    for (std::int64_t j = 0; j < lanes; ++j) sums[static_cast<std::size_t>(j)] += term(k + j);
  }
  for (std::int64_t j = 0; k + j < n; ++j) sums[static_cast<std::size_t>(j)] += term(k + j);
  Sum total = 0;
  for (const Sum v : sums) total += v;
  return total;
}

}  // namespace mpitrain::base
