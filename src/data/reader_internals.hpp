#pragma once
/// @file reader_internals.hpp
/// Private to src/data: the partial-read entry points of the IDX and CSV readers, on which the shard
/// readers (shard_reader.hpp) are built. They share the whole-file readers' parsers and checks.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "mpitrain/data/csv_reader.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/data/sampler.hpp"

namespace mpitrain::data::detail {

/// Records [range.begin, range.end) of an IDX file, raw.
struct IdxRecords {
  std::int64_t total = 0;           ///< Records in the whole file (from the header).
  std::int64_t rows = 1;            ///< Image height (1 for labels).
  std::int64_t cols = 1;            ///< Image width (1 for labels).
  Range range;                      ///< The records read.
  std::vector<std::uint8_t> bytes;  ///< range.size() × rows × cols bytes.
};

/// Reads the header of an IDX images (@p images) or labels file, calls @p choose with the record count to
/// get the range to read, seeks to it (lseek for a plain file; decompress-and-discard for gzip) and reads it.
/// A plain file's size is checked against the header by every call; a gzipped file's completeness only by
/// the call whose range ends at the last record (it reads on to the end), so shards covering the file check
/// it together.
/// @throws DataError as read_idx_images, naming the file; also for a range outside [0, total].
IdxRecords read_idx_records(const std::filesystem::path& path, bool images,
                            const std::function<Range(std::int64_t)>& choose);

/// @throws DataError naming both files and counts when an IDX images file and its labels file hold
/// different numbers of records.
void check_idx_counts(const std::filesystem::path& images, std::int64_t image_count,
                      const std::filesystem::path& labels, std::int64_t label_count);

/// The one place where IDX image bytes become samples: @p bytes (count × features, row-major) are kept as
/// ds.pixels (ds.features then 0 × features) when @p as_pixels, else widened to unscaled float features
/// (0..255) in ds.features. Labels and source are left to the caller.
void set_idx_samples(Dataset& ds, const std::uint8_t* bytes, std::int64_t count, std::int64_t features,
                     bool as_pixels);

/// A byte window of a CSV file to parse.
struct CsvWindow {
  std::uint64_t begin = 0;  ///< First byte parsed: 0 or the first byte of a record.
  std::uint64_t end = std::numeric_limits<std::uint64_t>::max();  ///< One past the last byte parsed.
  /// When begin > 0: the file's bytes up to and including the first record's line end, parsed first to
  /// decide the header, the label column and the width as the whole file would, never loaded as data.
  std::string first_record;
  bool allow_empty = false;  ///< A window with no data row gives an empty Dataset instead of an error.
  /// The file's line number of byte `begin`, when known (> 0); 0: unknown (counting would read the bytes
  /// before the window).
  std::int64_t first_line = 0;
};

/// Parses @p window of a CSV file with read_csv_dataset's rules. Errors name the file's own line numbers
/// when window.begin is 0 or window.first_line is known; otherwise they name
/// "<file> [shard from byte B; lines counted from there]" and lines counted from byte B (line 1).
/// @throws DataError as read_csv_dataset.
Dataset read_csv_window(const std::filesystem::path& path, const CsvOptions& options, const CsvWindow& window,
                        CsvStats* stats);

}  // namespace mpitrain::data::detail
