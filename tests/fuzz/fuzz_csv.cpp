// libFuzzer target of data::read_csv_dataset.
//
// Input: byte 0 selects the CsvOptions, the remaining bytes are the CSV file.
//   bits 0-1  header: 0 auto, 1 true, 2 false, 3 auto
//   bit  2    label_optional
//   bits 3-4  label_column: "label", "0", "2", "y"
//   bits 5-7  classes: 10, 2, 3, 4, 5, 7, 256, INT_MAX (the API's domain is classes >= 2, as model.classes)
// (e.g. '@' = 0x40: auto header, label column "label", classes 3; 'A' = 0x41: header true.)
//
// Oracle on success: samples × features agree with the labels, at least one feature column, every feature
// finite, every label in [0, classes), and the stats agree with the result. On a DataError: the message
// names the file.
#include <climits>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz_common.hpp"
#include "mpitrain/data/csv_reader.hpp"

namespace {

using mpitrain::data::CsvHeader;
using mpitrain::data::CsvOptions;
using mpitrain::data::CsvStats;
using mpitrain::data::DataError;
using mpitrain::data::Dataset;
using mpitrain::fuzz::fuzz_check;

CsvOptions options_from(std::uint8_t selector) {
  constexpr CsvHeader headers[] = {CsvHeader::automatic, CsvHeader::yes, CsvHeader::no, CsvHeader::automatic};
  constexpr const char* label_columns[] = {"label", "0", "2", "y"};
  constexpr int classes[] = {10, 2, 3, 4, 5, 7, 256, INT_MAX};
  CsvOptions options;
  options.header = headers[selector & 3];
  options.label_optional = (selector & 4) != 0;
  options.label_column = label_columns[(selector >> 3) & 3];
  options.classes = classes[(selector >> 5) & 7];
  return options;
}

void check_result(const Dataset& ds, const CsvStats& stats, const CsvOptions& options) {
  fuzz_check(ds.features.rows() == ds.size(), "features rows differ from the label count");
  fuzz_check(ds.size() >= 1, "success without a data row");
  fuzz_check(ds.features.cols() >= 1, "success without a feature column");
  fuzz_check(stats.rows == ds.size(), "CsvStats.rows differs from the rows returned");
  fuzz_check(stats.imputed_cells >= 0 && stats.imputed_cells <= ds.features.size(), "impossible imputed count");
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    const std::int32_t label = ds.labels[static_cast<std::size_t>(i)];
    fuzz_check(label >= 0 && label < options.classes, "label outside [0, classes) accepted");
  }
  fuzz_check(ds.features.allFinite(), "non-finite feature accepted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const mpitrain::fuzz::ScratchFile file("csv", ".csv");
  if (size < 1) return 0;
  const CsvOptions options = options_from(data[0]);
  file.write(std::span(data + 1, size - 1));
  CsvStats stats;
  try {
    const Dataset ds = mpitrain::data::read_csv_dataset(file.path(), options, &stats);
    check_result(ds, stats, options);
  } catch (const DataError& error) {
    fuzz_check(std::string(error.what()).starts_with(file.path().string() + ": "),
               std::string("DataError does not start with the file name: ") + error.what());
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
