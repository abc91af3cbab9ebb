// emissions.csv: CodeCarbon's header, quoting, appending, and a foreign header left untouched.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <regex>
#include <sstream>

#include "mpitrain/energy/emissions.hpp"
#include "base/file_size_limit.hpp"
#include "energy/powercap_fixture.hpp"

using namespace mpitrain::energy;

namespace {

std::filesystem::path temp_csv(const std::string& tag) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("mpitrain_emissions_" + tag + "_" + std::to_string(::getpid()) + ".csv");
  std::filesystem::remove(path);
  mpitrain::test::remove_at_exit.paths.push_back(path);
  return path;
}

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST(Emissions, HeaderIsCodeCarbonsThenOurs) {
  // CodeCarbon's EmissionsData field names, in its order (as listed in issue 5).
  const std::string codecarbon =
      "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,"
      "cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,"
      "cloud_region,os,cpu_count,cpu_model,gpu_count,gpu_model,ram_total_size,tracking_mode,on_cloud,pue";
  const auto path = temp_csv("header");
  append_emissions_row(path, EmissionsRow{});
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], codecarbon + ",method,nodes,ranks,samples,joules_per_sample");
  EXPECT_EQ(codecarbon_columns().size(), 27u);
}

TEST(Emissions, RowValuesUnitsAndQuoting) {
  EmissionsRow row;
  row.timestamp = "2024-05-01T12:00:00";
  row.project_name = "my, \"run\"";
  row.run_id = "3f1c2a9e-7b0d-4c1e-9a55-0d2f6b8e4a11";
  row.duration = 120;
  row.emissions = 0.5;
  row.emissions_rate = 0.5 / 120;
  row.cpu_power = 24;
  row.ram_power = 1.5;
  row.cpu_energy = 0.0008;
  row.ram_energy = 0.00005;
  row.energy_consumed = 0.00085;
  row.country_iso_code = "FRA";
  row.os = "Linux-6.1.0-x86_64";
  row.cpu_count = 8;
  row.cpu_model = "AMD EPYC";
  row.ram_total_size = 15.5;
  row.tracking_mode = "process";
  row.pue = 1.2;
  row.method = "estimated";
  row.nodes = 2;
  row.ranks = 3;
  row.samples = 60000;
  row.joules_per_sample = 0.051;
  const auto path = temp_csv("row");
  append_emissions_row(path, row);
  append_emissions_row(path, row);  // a second run appends without a second header
  const auto lines = lines_of(path);
  ASSERT_EQ(lines.size(), 3u);
  const std::string expected =
      "2024-05-01T12:00:00,\"my, \"\"run\"\"\",3f1c2a9e-7b0d-4c1e-9a55-0d2f6b8e4a11,120,0.5,0.004166666666666667,"
      "24,0,1.5,0.0008,0,5e-05,0.00085,,FRA,,,,Linux-6.1.0-x86_64,8,AMD EPYC,0,,15.5,process,N,1.2,"
      "estimated,2,3,60000,0.051";
  EXPECT_EQ(lines[1], expected);
  EXPECT_EQ(lines[2], expected);
  const auto fields = parse_csv_record(lines[1], "row");
  ASSERT_EQ(fields.size(), emissions_columns().size());
  EXPECT_EQ(fields[1], "my, \"run\"");
}

TEST(Emissions, ForeignHeaderIsNotAppendedTo) {
  const auto path = temp_csv("foreign");
  std::ofstream(path) << "timestamp,project_name,run_id,experiment_id,duration\n1,2,3,4,5\n";
  try {
    append_emissions_row(path, EmissionsRow{});
    FAIL() << "no EmissionsError";
  } catch (const EmissionsError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    EXPECT_NE(what.find("column 4 is 'experiment_id' where mpitrain writes 'duration'"), std::string::npos) << what;
  }
  EXPECT_EQ(lines_of(path).size(), 2u);
}

TEST(Emissions, AFullDiskLeavesNoEmptyFileAndNoPartialRow) {
  const auto path = temp_csv("full");
  {
    mpitrain::test_support::FileSizeLimit limit(100);  // the header alone is longer: write() fails with EFBIG
    try {
      append_emissions_row(path, EmissionsRow{});
      FAIL() << "no EmissionsError";
    } catch (const EmissionsError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path.string()), std::string::npos) << what;
      EXPECT_NE(what.find("(errno " + std::to_string(EFBIG) + ")"), std::string::npos) << what;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(path));  // not even an empty file
  append_emissions_row(path, EmissionsRow{});
  const auto header_and_row = lines_of(path);
  ASSERT_EQ(header_and_row.size(), 2u);
  {
    mpitrain::test_support::FileSizeLimit limit(std::filesystem::file_size(path) + 20);  // part of a row fits
    EXPECT_THROW(append_emissions_row(path, EmissionsRow{}), EmissionsError);
  }
  EXPECT_EQ(lines_of(path), header_and_row);  // the 20 bytes that fitted are gone again
}

TEST(Emissions, UuidAndTimestampFormats) {
  const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  const auto a = random_uuid(), b = random_uuid();
  EXPECT_TRUE(std::regex_match(a, uuid)) << a;
  EXPECT_NE(a, b);
  EXPECT_TRUE(std::regex_match(local_timestamp(), std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})")));
}
