#include "mpitrain/train/batch_statistics.hpp"

namespace mpitrain::train {

void AllreduceBatchStatistics::sum(std::span<double> values) const { comm_.allreduce(values, dist::ReduceOp::sum); }

}  // namespace mpitrain::train
