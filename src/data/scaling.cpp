#include "mpitrain/data/scaling.hpp"

#include <cmath>
#include <utility>

namespace mpitrain::data {

Scaler::Scaler(std::string method, double divisor) : method_(std::move(method)), divisor_(divisor) {
  if (method_ != "divide" && method_ != "standardize" && method_ != "none") {
    throw DataError("unknown scaling method '" + method_ + "' (expected divide, standardize or none)");
  }
  if (method_ == "divide" && !(divisor_ > 0.0 && std::isfinite(divisor_))) {
    throw DataError("scaling divisor must be a finite number > 0, got " + std::to_string(divisor_));
  }
}

void Scaler::fit(const Dataset& train) {
  const RowMatrix& x = train.features;
  const auto cols = static_cast<std::size_t>(x.cols());
  shift_.assign(cols, 0.0f);
  scale_.assign(cols, 1.0f);
  if (method_ == "divide") {
    scale_.assign(cols, static_cast<float>(divisor_));
  } else if (method_ == "standardize") {
    if (x.rows() == 0) throw DataError(train.source + ": cannot standardize an empty training set");
    // Two passes in double: the mean, then the population variance about it (no cancellation).
    const Eigen::RowVectorXd mean = x.cast<double>().colwise().mean();
    const Eigen::RowVectorXd var =
        (x.cast<double>().rowwise() - mean).array().square().colwise().mean().matrix();
    for (std::size_t j = 0; j < cols; ++j) {
      const auto col = static_cast<Eigen::Index>(j);
      const double std_dev = std::sqrt(var(col));
      shift_[j] = static_cast<float>(mean(col));
      // A constant column only needs centring; dividing by ~0 would blow up rounding noise.
      scale_[j] = std_dev > 0.0 && static_cast<float>(std_dev) > 0.0f ? static_cast<float>(std_dev) : 1.0f;
    }
  }
}

void Scaler::apply(Dataset& ds) const {
  if (static_cast<std::size_t>(ds.feature_count()) != shift_.size()) {
    throw DataError(ds.source + ": the " + method_ + " scaler was fitted on " + std::to_string(shift_.size()) +
                    " features but the data set has " + std::to_string(ds.feature_count()));
  }
  if (method_ == "none") return;
  const Eigen::Map<const Eigen::RowVectorXf> shift(shift_.data(), static_cast<Eigen::Index>(shift_.size()));
  const Eigen::Map<const Eigen::RowVectorXf> scale(scale_.data(), static_cast<Eigen::Index>(scale_.size()));
  ds.features = (ds.features.rowwise() - shift).array().rowwise() / scale.array();
}

void Scaler::set(std::vector<float> shift, std::vector<float> scale) {
  if (shift.size() != scale.size()) {
    throw DataError("scaler: shift has " + std::to_string(shift.size()) + " values but scale has " +
                    std::to_string(scale.size()));
  }
  for (std::size_t j = 0; j < scale.size(); ++j) {
    if (!(scale[j] > 0.0f && std::isfinite(scale[j]) && std::isfinite(shift[j]))) {
      throw DataError("scaler: column " + std::to_string(j) + " has shift " + std::to_string(shift[j]) +
                      " and scale " + std::to_string(scale[j]) + " (need finite values, scale > 0)");
    }
  }
  shift_ = std::move(shift);
  scale_ = std::move(scale);
}

}  // namespace mpitrain::data
