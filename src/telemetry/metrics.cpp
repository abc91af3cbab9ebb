#include "mpitrain/telemetry/metrics.hpp"

#include <stdexcept>

#include "mpitrain/base/files.hpp"

namespace mpitrain::telemetry {

MetricsWriter::MetricsWriter(const std::filesystem::path& path) : out_(path, std::ios::app) {
  if (!out_) throw std::runtime_error("cannot open metrics file " + path.string());
}

void MetricsWriter::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& value) {
  base::write_text_atomically(path, value.dump(2) + '\n', base::Durability::synced);
}

}  // namespace mpitrain::telemetry
