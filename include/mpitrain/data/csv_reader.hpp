#pragma once
/// @file csv_reader.hpp
/// CSV data sets read with libcsv (RFC 4180: quoted fields, CRLF or LF endings). A UTF-8 byte-order mark
/// is skipped and blank lines are ignored. Missing values: an empty field and the tokens `NA`, `NaN` and
/// `null` (case-sensitive as written, also `nan`, `NULL`) become 0, as the origin model's `fillna(0)`.

#include <cstdint>
#include <filesystem>
#include <string>

#include "mpitrain/data/dataset.hpp"

namespace mpitrain::data {

/// Whether the first record is a header.
enum class CsvHeader { automatic, yes, no };

/// Options of read_csv_dataset.
struct CsvOptions {
  CsvHeader header = CsvHeader::automatic;  ///< automatic: a header if any field of the first record is not numeric.
  std::string label_column = "label";       ///< A header name, or a 0-based column index.
  int classes = 10;                         ///< Labels must be integers in [0, classes).
  bool label_optional = false;              ///< If the label column is absent, every column is a feature and labels are 0.
};

/// What read_csv_dataset saw, for the log.
struct CsvStats {
  std::int64_t rows = 0;           ///< Data rows loaded.
  std::int64_t imputed_cells = 0;  ///< Missing cells replaced by 0.
  bool had_header = false;         ///< Whether the first record was taken as a header.
};

/// Reads a CSV file: one row per sample, the label column plus feature columns (in file order).
/// @param stats if not null, receives the counts.
/// @throws DataError naming the file, the 1-based line and column (and header name) for: a non-numeric
///         or non-finite feature, a label that is not an integer in [0, classes), a row whose width
///         differs from the first record's, a label column that does not exist, unbalanced quotes,
///         an unreadable file or no data rows.
Dataset read_csv_dataset(const std::filesystem::path& path, const CsvOptions& options,
                         CsvStats* stats = nullptr);

/// Parses `auto`, `true` or `false`.
/// @throws DataError for another value.
CsvHeader parse_csv_header(const std::string& text);

}  // namespace mpitrain::data
