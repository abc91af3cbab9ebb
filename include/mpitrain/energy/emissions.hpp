#pragma once
/// @file emissions.hpp
/// `emissions.csv`: one row per run with CodeCarbon's columns, names and units (so CodeCarbon's tools,
/// e.g. `carbonboard`, and pandas read it), followed by mpitrain's own columns. The header is written
/// once, when the file is created; later runs in the same directory (resumes) append a row.
///
/// CodeCarbon columns and units (codecarbon/output_methods/emissions_data.py, EmissionsData; python_version,
/// codecarbon_version, experiment_id, longitude and latitude are not written): timestamp (local time,
/// `YYYY-MM-DDTHH:MM:SS`), project_name, run_id (UUID), duration (s), emissions (kg CO2e), emissions_rate
/// (kg/s), cpu_power, gpu_power, ram_power (W), cpu_energy, gpu_energy, ram_energy, energy_consumed (kWh;
/// as in CodeCarbon these include the PUE, i.e. facility energy), country_name, country_iso_code, region,
/// cloud_provider, cloud_region, os, cpu_count, cpu_model, gpu_count, gpu_model, ram_total_size (GB,
/// 2^30 bytes), tracking_mode (`machine` or `process`), on_cloud (`Y`/`N`), pue.
/// Ours: method (`measured`, `estimated` or `mixed`), nodes, ranks, samples, joules_per_sample (IT J).

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpitrain::energy {

/// emissions.csv cannot be read or written, or its header is not ours. what() names the file.
class EmissionsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One run's row. Units as in the file's description above.
struct EmissionsRow {
  std::string timestamp;          ///< Local time `YYYY-MM-DDTHH:MM:SS` (see local_timestamp()).
  std::string project_name;       ///< The run's name.
  std::string run_id;             ///< A random UUID (see random_uuid()).
  double duration = 0;            ///< s.
  double emissions = 0;           ///< kg CO2e.
  double emissions_rate = 0;      ///< kg CO2e per s.
  double cpu_power = 0;           ///< W, mean over the run, IT (without PUE).
  double gpu_power = 0;           ///< W (no GPU: 0).
  double ram_power = 0;           ///< W, mean over the run, IT.
  double cpu_energy = 0;          ///< kWh, facility (IT · PUE).
  double gpu_energy = 0;          ///< kWh.
  double ram_energy = 0;          ///< kWh, facility.
  double energy_consumed = 0;     ///< kWh, facility: cpu + gpu + ram.
  std::string country_name;
  std::string country_iso_code;
  std::string region;
  std::string cloud_provider;
  std::string cloud_region;
  std::string os;
  int cpu_count = 0;              ///< Logical CPUs of all nodes.
  std::string cpu_model;
  int gpu_count = 0;
  std::string gpu_model;
  double ram_total_size = 0;      ///< GB (2^30 bytes) of all nodes.
  std::string tracking_mode;      ///< `machine` (counters cover the whole node) or `process` (estimated).
  bool on_cloud = false;
  double pue = 1;
  std::string method;             ///< `measured`, `estimated` or `mixed`.
  int nodes = 1;
  int ranks = 1;
  std::int64_t samples = 0;       ///< Training samples processed.
  double joules_per_sample = 0;   ///< IT energy (J) per sample.
};

/// CodeCarbon's columns, in CodeCarbon's order.
const std::vector<std::string>& codecarbon_columns();
/// The whole header: CodeCarbon's columns then `method, nodes, ranks, samples, joules_per_sample`.
const std::vector<std::string>& emissions_columns();
/// The values of @p row as text, in emissions_columns() order.
std::vector<std::string> emissions_fields(const EmissionsRow& row);

/// Appends @p row to @p path, creating the file with the header first if it is absent or empty.
/// @throws EmissionsError naming the file if it cannot be read or written, or if its header is not
///         emissions_columns() (naming the first differing column); the file is then left untouched.
void append_emissions_row(const std::filesystem::path& path, const EmissionsRow& row);

/// The fields of one CSV record (RFC 4180, parsed with libcsv).
/// @throws EmissionsError naming @p origin if the text is not valid CSV.
std::vector<std::string> parse_csv_record(const std::string& line, const std::string& origin);

/// A random (version 4, RFC 4122 section 4.4) UUID from Boost.Uuid's random_generator (the operating
/// system's entropy), lower-case, e.g. `3f1c2a9e-7b0d-4c1e-9a55-0d2f6b8e4a11`.
std::string random_uuid();

/// The current local time as `YYYY-MM-DDTHH:MM:SS` (CodeCarbon's timestamp format).
std::string local_timestamp();

}  // namespace mpitrain::energy
