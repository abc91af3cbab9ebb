#pragma once
/// @file csv_reader.hpp
/// CSV data sets read with libcsv (RFC 4180: quoted fields, CRLF or LF endings). A UTF-8 byte-order mark
/// is skipped and blank lines are ignored. A gzip-compressed file (first bytes 1f 8b) is decompressed with
/// zlib as it is read; a UTF-16 or UTF-32 file (byte-order mark FF FE, FE FF, FF FE 00 00, 00 00 FE FF) is
/// an error that names its encoding. Missing values: an empty field and the tokens `NA`, `NaN` and
/// `null` (case-sensitive as written, also `nan`, `NULL`) become 0, as the origin model's `fillna(0)`.
///
/// Numbers are read with std::from_chars (a leading `+` and surrounding whitespace are accepted), then
/// narrowed to float; the whole field must be the number. A feature whose magnitude is above float's
/// largest (3.40282e+38) is an error saying it overflows; one below float's smallest subnormal (1.4e-45,
/// also one below double's range such as 1e-400) becomes 0. Field texts in messages are quoted, cut at 40
/// characters, with line breaks, tabs and other control characters escaped (`\n`, `\t`, `\x01`). Line numbers are 1-based physical lines (LF
/// count, a CRLF pair is one line end; a UTF-8 BOM does not count): a field's error names the line the
/// field starts on, a row's error the line the record starts on, so quoted fields that span lines do not
/// shift later line numbers. Columns are 1-based positions in the record.

#include <cstdint>
#include <filesystem>
#include <string>

#include "mpitrain/config/config.hpp"
#include "mpitrain/data/dataset.hpp"

namespace mpitrain::data {

/// Whether the first record is a header.
enum class CsvHeader { automatic, yes, no };

/// Options of read_csv_dataset.
struct CsvOptions {
  /// automatic: a header if any field of the first record is neither a number nor a missing-value token.
  CsvHeader header = CsvHeader::automatic;
  /// A header name (looked up first), or else a 0-based column index.
  std::string label_column = "label";
  /// Labels must be integers in [0, classes).
  int classes = 10;
  /// If the label column is absent (neither a header name nor an index < width), every column is a feature
  /// and every label is 0 (for predict). A label column that is present is still checked.
  bool label_optional = false;
};

/// What read_csv_dataset saw, for the log.
struct CsvStats {
  std::int64_t rows = 0;           ///< Data rows loaded.
  std::int64_t imputed_cells = 0;  ///< Missing cells replaced by 0.
  bool had_header = false;         ///< Whether the first record was taken as a header.
  /// Feature columns that share a header name, e.g. "'a' (columns 1, 4), 'b' (columns 3, 5)" (1-based
  /// positions); empty if none. Allowed (features are positional) but worth a warning.
  std::string duplicate_feature_names;
};

/// Reads a CSV file: one row per sample, the label column plus feature columns (in file order).
/// @return samples × features (every column but the label), labels, source = @p path.
/// @param stats if not null, receives the counts.
/// @throws DataError naming the file, the 1-based line and column (and header name) for: a non-numeric
///         or non-finite feature, a label that is not an integer in [0, classes), a row whose width
///         differs from the first record's, a label column that does not exist (unless
///         options.label_optional), a header that names the label column more than once (naming the
///         columns), unbalanced quotes, a file with no feature column, an unreadable file or no data rows,
///         a UTF-16 or UTF-32 file, corrupt or truncated gzip data or bytes after its end. A feature
///         above the float range (e.g. 1e39) is an error that says it overflows.
Dataset read_csv_dataset(const std::filesystem::path& path, const CsvOptions& options,
                         CsvStats* stats = nullptr);

/// Parses `auto`, `true` or `false`.
/// @throws DataError for another value.
CsvHeader parse_csv_header(const std::string& text);

/// The CSV options of a run's [data] section: data.csv_header and data.label_column, labels in
/// [0, @p classes) (model.classes), label column required.
/// @throws DataError for a data.csv_header other than auto, true or false.
CsvOptions csv_options(const config::DataConfig& data, int classes);

}  // namespace mpitrain::data
