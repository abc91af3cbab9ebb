#pragma once
/// @file shard_reader.hpp
/// Readers of one rank's shard of a training set, for data sets larger than one rank's memory
/// (`data.shuffle = local`): rank r of world size N loads only its contiguous 1/N of the records and
/// reads only those bytes of the file (plus the header). Holding a shard costs
/// records × (features + 1) × 4 bytes (float features, int32 labels), or records × (features + 4) bytes
/// for IDX images kept as bytes, instead of the whole set's.
///
/// Trade-off (for the caller to document): with per-shard loading each rank can only shuffle within its
/// shard, so the global batches, and hence the results, depend on the world size; a sorted file (e.g. by
/// label) gives every rank a biased shard. The global-permutation sampler (sampler.hpp) needs every record.

#include <cstdint>
#include <filesystem>

#include "mpitrain/data/csv_reader.hpp"
#include "mpitrain/data/dataset.hpp"
#include "mpitrain/data/sampler.hpp"

namespace mpitrain::data {

/// What a shard reader read, for the log and for memory reports.
struct ShardInfo {
  std::int64_t total_records = -1;  ///< Records in the whole file (IDX); -1 for CSV (unknown without a full read).
  Range records;                    ///< IDX: the 0-based records loaded, [begin, end).
  std::uint64_t byte_begin = 0;     ///< CSV: first byte of the record-aligned window read (IDX: of the data).
  std::uint64_t byte_end = 0;       ///< CSV: one past its last byte (IDX: of the data).
  std::int64_t memory_bytes = 0;    ///< Bytes held by the returned Dataset's features or pixels and labels.
};

/// Loads records [records.begin, records.end) of an IDX images file and its labels file (each gzipped or
/// plain): seeks past the first records.begin (lseek for a plain file; for gzip, decompress-and-discard,
/// which reads but does not keep them) and stops after records.end.
/// @return records.size() × (rows·cols) unscaled float features (0..255) and their labels; source = @p images.
///         With @p as_pixels, the images stay bytes instead (Dataset::pixels, records × rows·cols; features
///         is 0 × rows·cols), a quarter of the memory, for data::gather_batch to scale per batch.
/// @param info if not null, receives what was read.
/// @throws DataError as load_idx_dataset (bad magic, header, label range, count mismatch naming both
///         files), for a range outside [0, count], and for a truncated file. A plain file's size is checked
///         by every call; a gzipped file's missing or trailing bytes beyond the range only by the call whose
///         range ends at the last record, so the shards of a world check the whole file together.
Dataset load_idx_records(const std::filesystem::path& images, const std::filesystem::path& labels, int classes,
                         Range records, ShardInfo* info = nullptr, bool as_pixels = false);

/// Loads shard @p shard of @p shard_count of an IDX pair: the records split_range(count, shard_count, shard),
/// contiguous, sizes differing by at most one (the first count % shard_count shards get one more);
/// @p as_pixels as for load_idx_records.
/// @throws std::invalid_argument for shard_count < 1 or shard outside [0, shard_count); DataError as
///         load_idx_records.
Dataset load_idx_shard(const std::filesystem::path& images, const std::filesystem::path& labels, int classes,
                       int shard, int shard_count, ShardInfo* info = nullptr, bool as_pixels = false);

/// Reads the CSV records that belong to the byte range [begin, end) of @p path, with the record-alignment
/// rule of Hadoop's LineRecordReader (org.apache.hadoop.mapreduce.lib.input): a range that starts at
/// byte 0 starts there, any other starts at the first record boundary strictly after byte @p begin; it
/// stops at the end of the record that contains byte @p end (or at the end of the file). A record boundary
/// is the byte after a line feed. Adjacent ranges [a, b) and [b, c) therefore read disjoint records whose
/// union is every record of [a, c), whatever the byte positions; the file's first record always belongs
/// to the range that starts at byte 0.
///
/// The header, the label column and the width come from the file's first record, read first by every
/// range (header detection as read_csv_dataset), so all ranges agree; a range's rows are checked against
/// the first record's width. A UTF-8 byte-order mark, CRLF and blank lines are handled as by
/// read_csv_dataset.
///
/// Limitation: a line feed inside a quoted field cannot be told from a record boundary without reading
/// the file from its start, so files read by range must not have line breaks inside quoted fields (as for
/// Hadoop's text input). A range that starts inside such a field usually fails with an "unbalanced
/// quotes" or width error naming the range; it is not guaranteed to.
///
/// @return the range's rows (possibly none: 0 × features) with read_csv_dataset's layout; source = @p path.
///         Errors name the file and its own line numbers: the line number of the window's first byte is
///         unknown without reading what precedes it, so only when the window fails to parse are the line
///         feeds before it counted and the window parsed again to report the error with them.
/// @param stats if not null, receives the range's counts. @param info if not null, receives the window.
/// @throws std::invalid_argument for begin > end; DataError as read_csv_dataset, except that a range with
///         no data row is not an error (a range of the whole file [0, size) keeps every check, so an
///         empty file always is): the caller checks that the shards together hold rows.
Dataset read_csv_byte_range(const std::filesystem::path& path, const CsvOptions& options, std::uint64_t begin,
                            std::uint64_t end, CsvStats* stats = nullptr, ShardInfo* info = nullptr);

/// Reads shard @p shard of @p shard_count of a CSV file: the byte range split_range(file size,
/// shard_count, shard) under read_csv_byte_range's rule. Shards hold about file size / shard_count bytes
/// each, not necessarily the same number of records.
/// @throws std::invalid_argument for a bad shard or shard count; DataError as read_csv_byte_range.
Dataset read_csv_shard(const std::filesystem::path& path, const CsvOptions& options, int shard, int shard_count,
                       CsvStats* stats = nullptr, ShardInfo* info = nullptr);

}  // namespace mpitrain::data
