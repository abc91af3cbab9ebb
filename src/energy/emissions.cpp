#include "mpitrain/energy/emissions.hpp"

#include <csv.h>
#include <spdlog/fmt/fmt.h>

#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_generators.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include "mpitrain/base/files.hpp"

namespace mpitrain::energy {

namespace {

// A field is quoted (with libcsv's csv_write) only when it needs it, as pandas writes CodeCarbon's file.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos && (text.empty() || (text.front() != ' ' && text.back() != ' '))) {
    return text;
  }
  std::string out(csv_write(nullptr, 0, text.data(), text.size()), '\0');
  csv_write(out.data(), out.size(), text.data(), text.size());
  return out;
}

std::string number(double value) { return fmt::format("{}", value); }

struct RecordParse {
  std::vector<std::string> fields;
  int records = 0;
};

void on_field(void* data, std::size_t size, void* state) {
  auto* p = static_cast<RecordParse*>(state);
  if (p->records == 0) p->fields.emplace_back(static_cast<const char*>(data), size);
}

void on_record(int, void* state) { ++static_cast<RecordParse*>(state)->records; }

}  // namespace

const std::vector<std::string>& codecarbon_columns() {
  static const std::vector<std::string> columns = {
      "timestamp",  "project_name",     "run_id",         "duration",       "emissions",   "emissions_rate",
      "cpu_power",  "gpu_power",        "ram_power",      "cpu_energy",     "gpu_energy",  "ram_energy",
      "energy_consumed", "country_name", "country_iso_code", "region",      "cloud_provider", "cloud_region",
      "os",         "cpu_count",        "cpu_model",      "gpu_count",      "gpu_model",   "ram_total_size",
      "tracking_mode", "on_cloud",      "pue"};
  return columns;
}

const std::vector<std::string>& emissions_columns() {
  static const std::vector<std::string> columns = [] {
    auto c = codecarbon_columns();
    c.insert(c.end(), {"method", "nodes", "ranks", "samples", "joules_per_sample"});
    return c;
  }();
  return columns;
}

std::vector<std::string> emissions_fields(const EmissionsRow& r) {
  return {r.timestamp,         r.project_name,       r.run_id,
          number(r.duration),  number(r.emissions),  number(r.emissions_rate),
          number(r.cpu_power), number(r.gpu_power),  number(r.ram_power),
          number(r.cpu_energy), number(r.gpu_energy), number(r.ram_energy),
          number(r.energy_consumed), r.country_name, r.country_iso_code,
          r.region,            r.cloud_provider,     r.cloud_region,
          r.os,                std::to_string(r.cpu_count), r.cpu_model,
          std::to_string(r.gpu_count), r.gpu_model,  number(r.ram_total_size),
          r.tracking_mode,     r.on_cloud ? "Y" : "N", number(r.pue),
          r.method,            std::to_string(r.nodes), std::to_string(r.ranks),
          std::to_string(r.samples), number(r.joules_per_sample)};
}

std::vector<std::string> parse_csv_record(const std::string& line, const std::string& origin) {
  csv_parser parser{};
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) throw EmissionsError(origin + ": cannot initialise libcsv");
  RecordParse state;
  const bool ok = csv_parse(&parser, line.data(), line.size(), on_field, on_record, &state) == line.size() &&
                  csv_fini(&parser, on_field, on_record, &state) == 0;
  const std::string error = csv_strerror(csv_error(&parser));
  csv_free(&parser);
  if (!ok) throw EmissionsError(origin + ": not valid CSV: " + error);
  return state.fields;
}

void append_emissions_row(const std::filesystem::path& path, const EmissionsRow& row) {
  const auto& columns = emissions_columns();
  std::error_code ec;
  const bool has_header = std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0 && !ec;
  if (has_header) {
    std::ifstream in(path);
    std::string first;
    if (!in || !std::getline(in, first)) {
      throw EmissionsError(path.string() + ": cannot read the header: " + std::strerror(errno));
    }
    if (!first.empty() && first.back() == '\r') first.pop_back();
    const auto header = parse_csv_record(first, path.string() + " line 1");
    for (std::size_t i = 0; i < std::max(header.size(), columns.size()); ++i) {
      const std::string found = i < header.size() ? header[i] : "(none)";
      const std::string wanted = i < columns.size() ? columns[i] : "(none)";
      if (found != wanted) {
        throw EmissionsError(fmt::format("{} line 1: column {} is '{}' where mpitrain writes '{}'; not appending "
                                         "(move the file away to start a new one)",
                                         path.string(), i + 1, found, wanted));
      }
    }
  }
  std::string text;
  const auto add_line = [&text](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) text += ',';
      text += csv_field(fields[i]);
    }
    text += '\n';
  };
  if (!has_header) add_line(columns);
  add_line(emissions_fields(row));
  try {
    base::append_text(path, text);  // a failed write leaves the file as it was (no empty file, no partial row)
  } catch (const base::FileError& e) {
    throw EmissionsError(e.what());
  }
}

std::string random_uuid() { return boost::uuids::to_string(boost::uuids::random_generator()()); }

std::string local_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &local);
  return text;
}

}  // namespace mpitrain::energy
