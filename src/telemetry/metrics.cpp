#include "mpitrain/telemetry/metrics.hpp"

#include <stdexcept>

namespace mpitrain::telemetry {

MetricsWriter::MetricsWriter(const std::filesystem::path& path) : out_(path, std::ios::app) {
  if (!out_) throw std::runtime_error("cannot open metrics file " + path.string());
}

void MetricsWriter::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
}

void write_json_file(const std::filesystem::path& path, const nlohmann::json& value) {
  const auto tmp = std::filesystem::path(path.string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
    out << value.dump(2) << '\n';
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

}  // namespace mpitrain::telemetry
