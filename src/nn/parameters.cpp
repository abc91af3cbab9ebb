#include "mpitrain/nn/parameters.hpp"

#include <algorithm>
#include <stdexcept>

namespace mpitrain::nn {

const ParameterInfo& ParameterRegistry::add(std::string layer, std::string name, std::int64_t rows,
                                            std::int64_t cols, bool decay) {
  if (rows < 1 || cols < 1) {
    throw std::invalid_argument("parameter " + name + ": shape must be positive");
  }
  if (find(name)) throw std::invalid_argument("duplicate parameter name " + name);
  entries_.push_back(ParameterInfo{std::move(name), std::move(layer), total_, rows, cols, decay});
  total_ += rows * cols;
  return entries_.back();
}

std::optional<ParameterInfo> ParameterRegistry::find(const std::string& name) const {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const ParameterInfo& p) { return p.name == name; });
  if (it == entries_.end()) return std::nullopt;
  return *it;
}

}  // namespace mpitrain::nn
