#include "mpitrain/data/csv_reader.hpp"

#include <csv.h>

#include <spdlog/fmt/fmt.h>

#include "data/input_file.hpp"
#include "data/reader_internals.hpp"

#include <algorithm>
#include <boost/algorithm/string/classification.hpp>
#include <boost/algorithm/string/trim.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace mpitrain::data {

namespace {

// RFC 4180 with strictness: a quote inside an unquoted field, text after a closing quote, or a quoted
// field still open at the end of the file is a parse error rather than being guessed at.
constexpr unsigned char parser_options = CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL;

// out_of_range: beyond double's largest magnitude; underflow: below its smallest, value set to 0.
enum class NumberParse { ok, invalid, out_of_range, underflow };

// libcsv already trims spaces and tabs around unquoted fields; quoted ones keep theirs.
std::string_view trim(std::string_view text) {
  return boost::algorithm::trim_copy_if(text, boost::algorithm::is_any_of(" \t\r\n\v\f"));
}

bool is_missing(std::string_view text) {
  return text.empty() || text == "NA" || text == "NaN" || text == "nan" || text == "null" || text == "NULL";
}

// The whole (trimmed) field must be one number: "1.5x" is invalid. inf and nan spellings parse here and
// are rejected by the callers' finiteness checks.
NumberParse parse_number(std::string_view text, double& value) {
  text = trim(text);
  // from_chars has no leading '+', which spreadsheets and pandas write and read.
  if (text.size() > 1 && text.front() == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
  if (text.empty()) return NumberParse::invalid;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ptr != end || ec == std::errc::invalid_argument) return NumberParse::invalid;
  if (ec == std::errc()) return NumberParse::ok;
  // Out of double's range: from_chars leaves value unset for an overflow and an underflow alike; strtod
  // tells them apart (+-HUGE_VAL for an overflow, a zero or subnormal for an underflow).
  value = std::strtod(std::string(text).c_str(), nullptr);
  if (std::isinf(value)) return NumberParse::out_of_range;
  value = 0.0;
  return NumberParse::underflow;
}

// Control characters (a quoted field's line break, a tab) are shown escaped, so that a message stays one line.
std::string escaped(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

std::string quote_field(std::string_view text) {
  constexpr std::size_t limit = 40;
  std::string out(1, '\'');
  out.append(escaped(text.substr(0, limit)));
  out.append(text.size() > limit ? "...'" : "'");
  return out;
}

// A file in UTF-16 or UTF-32 (recognised by its byte-order mark) reads as CSV garbage: named instead.
void check_encoding(const std::string& file, std::string_view start) {
  const auto bom = [&](std::string_view mark) { return start.starts_with(mark); };
  const char* encoding = bom(std::string_view("\xFF\xFE\0\0", 4))   ? "UTF-32 little-endian (byte-order mark FF FE 00 00)"
                         : bom(std::string_view("\0\0\xFE\xFF", 4)) ? "UTF-32 big-endian (byte-order mark 00 00 FE FF)"
                         : bom("\xFF\xFE")                            ? "UTF-16 little-endian (byte-order mark FF FE)"
                         : bom("\xFE\xFF")                            ? "UTF-16 big-endian (byte-order mark FE FF)"
                                                                       : nullptr;
  if (encoding != nullptr) {
    throw DataError(file + ": the file is " + encoding + "; save it as UTF-8 or ASCII (e.g. iconv -t UTF-8)");
  }
}

// State shared with libcsv's callbacks. Callbacks run inside C code, so they never throw: the first
// error is recorded and parsing stops at the next piece.
class CsvLoader {
 public:
  // @param allow_empty: no data rows is not an error (a shard of a small file may own none).
  CsvLoader(std::string file, const CsvOptions& options, bool allow_empty = false)
      : file_(std::move(file)), options_(options), allow_empty_(allow_empty) {
    if (csv_init(&parser_, parser_options) != 0) throw DataError(file_ + ": cannot initialise the CSV parser");
  }
  ~CsvLoader() { csv_free(&parser_); }
  CsvLoader(const CsvLoader&) = delete;
  CsvLoader& operator=(const CsvLoader&) = delete;

  // Feeds bytes one physical line (up to and including '\n') at a time, so that every callback knows
  // the line it is on. Line numbers count LF characters; a CRLF ending is one line end.
  void feed(const char* data, std::size_t size) {
    while (size > 0) {
      throw_if_failed();
      const auto* newline = static_cast<const char*>(std::memchr(data, '\n', size));
      const std::size_t piece = newline != nullptr ? static_cast<std::size_t>(newline - data) + 1 : size;
      if (at_row_start_ && has_content(data, piece)) {
        record_line_ = field_line_ = line_;
        at_row_start_ = false;
      }
      if (csv_parse(&parser_, data, piece, &CsvLoader::on_field, &CsvLoader::on_row, this) != piece) {
        fail_parser();
      }
      if (newline != nullptr) ++line_;
      data += piece;
      size -= piece;
    }
    throw_if_failed();
  }

  // Feeds the file's first record (ending with a line end) to decide the header, the label column and the
  // width, without loading it as data; then counts lines from 1 again for the bytes fed next.
  // @param next_line the line number of the first byte fed next (1 when unknown: lines counted from there).
  void feed_reference(std::string_view first_record, std::int64_t next_line) {
    reference_only_ = true;
    feed(first_record.data(), first_record.size());
    reference_only_ = false;
    if (first_record_) throw DataError(file_ + ": the first record does not end within its line");
    line_ = record_line_ = field_line_ = next_line;
  }

  // Flushes a last record without a line end and checks that no quoted field is left open.
  Dataset finish(CsvStats* stats) {
    throw_if_failed();
    if (csv_fini(&parser_, &CsvLoader::on_field, &CsvLoader::on_row, this) != 0) {
      throw DataError(file_ + ": line " + std::to_string(field_line_) + ", column " +
                      std::to_string(field_index_ + 1) + ": unbalanced quotes: a quoted field opened here is "
                      "never closed");
    }
    throw_if_failed();
    if (first_record_) throw DataError(file_ + ": no data rows (the file is empty)");
    if (labels_.empty() && !allow_empty_) {
      throw DataError(file_ + ": no data rows after the header at line " + std::to_string(first_line_));
    }
    Dataset ds;
    const auto rows = static_cast<Eigen::Index>(labels_.size());
    ds.features = Eigen::Map<const RowMatrix>(features_.data(), rows, feature_count_);
    ds.labels = std::move(labels_);
    ds.source = file_;
    if (stats != nullptr) *stats = CsvStats{static_cast<std::int64_t>(rows), imputed_, had_header_, duplicate_names_};
    return ds;
  }

 private:
  static void on_field(void* text, std::size_t size, void* self) noexcept {
    auto* loader = static_cast<CsvLoader*>(self);
    const std::string_view view = text != nullptr ? std::string_view(static_cast<const char*>(text), size)
                                                  : std::string_view();
    try {
      loader->field(view);
    } catch (const std::exception& error) {
      loader->fail(error.what());
    }
  }

  static void on_row(int /*terminator*/, void* self) noexcept {
    auto* loader = static_cast<CsvLoader*>(self);
    try {
      loader->row();
    } catch (const std::exception& error) {
      loader->fail(error.what());
    }
  }

  // Whether libcsv would start a record in these bytes (it skips spaces, tabs and line ends).
  static bool has_content(const char* data, std::size_t size) {
    return std::any_of(data, data + size, [](char c) { return c != ' ' && c != '\t' && c != '\r' && c != '\n'; });
  }

  void field(std::string_view text) {
    if (error_) return;
    const std::int64_t column = field_index_++;
    const std::int64_t line = field_line_;
    field_line_ = line_;  // the next field starts after this field's delimiter, on the current line
    if (first_record_) {
      first_fields_.emplace_back(text);
      first_field_lines_.push_back(line);
    } else if (column < width_) {
      store(column, text, line);  // extra fields of a ragged row are reported at the row's end
    }
  }

  void row() {
    if (error_) return;
    const std::int64_t count = field_index_;
    const std::int64_t line = record_line_;
    field_index_ = 0;
    at_row_start_ = true;
    record_line_ = field_line_ = line_;
    if (first_record_) {
      first_record_ = false;
      begin(line);
      return;
    }
    if (count != width_) {
      fail(file_ + ": line " + std::to_string(line) + ": expected " + std::to_string(width_) +
           " fields (the width of the first record, line " + std::to_string(first_line_) + "), found " +
           std::to_string(count));
      return;
    }
    append_row();
  }

  // Decides on the header and the label column from the first record, then loads it if it is data.
  void begin(std::int64_t line) {
    first_line_ = line;
    width_ = static_cast<std::int64_t>(first_fields_.size());
    const auto numeric = [](const std::string& text) {
      double value = 0.0;
      return is_missing(trim(text)) || parse_number(text, value) != NumberParse::invalid;
    };
    had_header_ = options_.header == CsvHeader::yes ||
                  (options_.header == CsvHeader::automatic &&
                   !std::all_of(first_fields_.begin(), first_fields_.end(), numeric));
    if (had_header_) names_ = first_fields_;
    resolve_label_column();
    if (error_) return;
    row_.assign(static_cast<std::size_t>(feature_count_), 0.0f);
    if (!had_header_ && !reference_only_) {
      for (std::int64_t column = 0; column < width_ && !error_; ++column) {
        store(column, first_fields_[static_cast<std::size_t>(column)],
              first_field_lines_[static_cast<std::size_t>(column)]);
      }
      if (!error_) append_row();
    }
    first_fields_.clear();
    first_field_lines_.clear();
  }

  // Sets label_index_ (-1: no label column, allowed only with label_optional) and feature_count_.
  void resolve_label_column() {
    const std::string& wanted = options_.label_column;
    const auto by_name = std::find(names_.begin(), names_.end(), wanted);
    std::int64_t index = -1;
    const char* end = wanted.data() + wanted.size();
    const auto [ptr, ec] = std::from_chars(wanted.data(), end, index);
    const bool is_index = !wanted.empty() && ec == std::errc() && ptr == end && index >= 0;
    if (by_name != names_.end()) {
      label_index_ = by_name - names_.begin();
      if (const auto again = std::find(by_name + 1, names_.end(), wanted); again != names_.end()) {
        std::string columns;
        for (std::size_t i = 0; i < names_.size(); ++i) {
          if (names_[i] == wanted) columns += (columns.empty() ? "" : ", ") + std::to_string(i + 1);
        }
        return fail(file_ + ": line " + std::to_string(first_line_) + ": the header names the label column " +
                    quote_field(wanted) + " more than once (columns " + columns +
                    "); rename all but one, or set data.label_column to a 0-based column index");
      }
    } else if (is_index && index < width_) {
      label_index_ = index;
    } else if (options_.label_optional) {
      label_index_ = -1;
    } else if (is_index) {
      return fail(file_ + ": label column index " + std::to_string(index) + " outside [0, " + std::to_string(width_) +
                  ") (line " + std::to_string(first_line_) + " has " + std::to_string(width_) + " fields)");
    } else {
      return fail(file_ + ": label column '" + wanted + "' not found (" +
                  (had_header_ ? "not a header name nor a 0-based index" : "no header: give a 0-based index") + ")");
    }
    feature_count_ = width_ - (label_index_ >= 0 ? 1 : 0);
    duplicate_names_ = describe_duplicates();
    if (feature_count_ < 1) {
      fail(file_ + ": line " + std::to_string(first_line_) + " has no feature column besides the label");
    }
  }

  // Feature columns that share a header name: "'x' (columns 2, 5), 'y' (columns 3, 4)"; empty if none.
  std::string describe_duplicates() const {
    std::string out;
    for (std::size_t i = 0; i < names_.size(); ++i) {
      const auto first = static_cast<std::size_t>(std::find(names_.begin(), names_.end(), names_[i]) - names_.begin());
      if (first != i || static_cast<std::int64_t>(i) == label_index_) continue;
      std::string columns = std::to_string(i + 1);
      for (std::size_t j = i + 1; j < names_.size(); ++j) {
        if (names_[j] == names_[i]) columns += ", " + std::to_string(j + 1);
      }
      if (columns.find(',') != std::string::npos) {
        out += (out.empty() ? "" : ", ") + quote_field(names_[i]) + " (columns " + columns + ")";
      }
    }
    return out;
  }

  std::string where(std::int64_t line, std::int64_t column) const {
    std::string text = file_ + ": line " + std::to_string(line) + ", column " + std::to_string(column + 1);
    if (had_header_) text += " (" + quote_field(names_[static_cast<std::size_t>(column)]) + ")";
    return text;
  }

  void store(std::int64_t column, std::string_view text, std::int64_t line) {
    double value = 0.0;
    if (column == label_index_) {
      const std::string_view label = trim(text);
      if (label.empty()) return fail(where(line, column) + ": the label is empty");
      const NumberParse parsed = parse_number(label, value);
      if (parsed != NumberParse::ok || !std::isfinite(value) || value != std::floor(value)) {  // 1e-400 too
        return fail(where(line, column) + ": label " + quote_field(label) + " is not an integer");
      }
      if (value < 0.0 || value >= options_.classes) {
        return fail(where(line, column) + ": label " + quote_field(label) + " is outside [0, " +
                    std::to_string(options_.classes) + ")");
      }
      row_label_ = static_cast<std::int32_t>(value);
      return;
    }
    const auto feature = static_cast<std::size_t>(label_index_ < 0 || column < label_index_ ? column : column - 1);
    if (is_missing(trim(text))) {
      row_[feature] = 0.0f;
      ++imputed_;
      return;
    }
    const NumberParse parsed = parse_number(text, value);
    if (parsed == NumberParse::invalid) return fail(where(line, column) + ": " + quote_field(text) + " is not a number");
    const auto narrowed = static_cast<float>(value);
    if (!std::isfinite(value) && parsed == NumberParse::ok) {
      return fail(where(line, column) + ": " + quote_field(text) + " is not a finite number");
    }
    if (parsed == NumberParse::out_of_range || !std::isfinite(narrowed)) {
      return fail(where(line, column) + ": " + quote_field(text) + " overflows single precision (largest magnitude " +
                  fmt::format("{:g}", std::numeric_limits<float>::max()) + ")");
    }
    // Below float's smallest subnormal the narrowing gives 0, as parse_number does below double's (underflow).
    row_[feature] = narrowed;
  }

  void append_row() {
    features_.insert(features_.end(), row_.begin(), row_.end());
    labels_.push_back(row_label_);
  }

  void fail(std::string message) {
    if (!error_) error_ = std::move(message);
  }

  void fail_parser() {
    if (error_) return;
    const int code = csv_error(&parser_);
    if (code == CSV_EPARSE) {
      fail(file_ + ": line " + std::to_string(line_) + ", column " + std::to_string(field_index_ + 1) +
           ": unbalanced quotes: a quote inside an unquoted field or text after a closing quote");
    } else {
      fail(file_ + ": line " + std::to_string(line_) + ": CSV parser error: " + csv_strerror(code));
    }
  }

  void throw_if_failed() const {
    if (error_) throw DataError(*error_);
  }

  std::string file_;
  CsvOptions options_;
  bool allow_empty_ = false;
  bool reference_only_ = false;   // the record being fed only sets the header and width
  csv_parser parser_{};
  std::optional<std::string> error_;

  std::int64_t line_ = 1;         // 1-based physical line of the bytes being fed
  bool at_row_start_ = true;      // no record has begun since the last one ended
  std::int64_t record_line_ = 1;  // line where the current record starts
  std::int64_t field_line_ = 1;   // line where the current field starts
  std::int64_t field_index_ = 0;  // 0-based index of the current field in its record

  bool first_record_ = true;
  std::int64_t first_line_ = 0;
  std::vector<std::string> first_fields_;          // the first record, kept until it is known to be data
  std::vector<std::int64_t> first_field_lines_;    // the line of each of its fields
  bool had_header_ = false;
  std::vector<std::string> names_;                 // header names (empty without a header)
  std::int64_t width_ = 0;                         // fields per record
  std::int64_t label_index_ = -1;                  // -1: no label column (label_optional), labels are 0
  std::int64_t feature_count_ = 0;                 // width_ minus the label column
  std::string duplicate_names_;                    // feature columns sharing a header name (CsvStats)

  std::vector<float> row_;        // feature_count_ features of the current row
  std::int32_t row_label_ = 0;
  std::vector<float> features_;   // rows × feature_count_, row-major
  std::vector<std::int32_t> labels_;
  std::int64_t imputed_ = 0;
};

}  // namespace

Dataset read_csv_dataset(const std::filesystem::path& path, const CsvOptions& options, CsvStats* stats) {
  return detail::read_csv_window(path, options, detail::CsvWindow{}, stats);
}

namespace detail {

Dataset read_csv_window(const std::filesystem::path& path, const CsvOptions& options, const CsvWindow& window,
                        CsvStats* stats) {
  const std::string file = path.string();
  InputFile in(path);  // plain, or gzip read through zlib
  const bool whole = window.begin == 0 && window.first_record.empty() &&
                     window.end == std::numeric_limits<std::uint64_t>::max();
  if (in.gzip() && !whole) {
    throw DataError(file + ": the file is gzip-compressed: a byte range of it (the shard of a rank with "
                    "data.shuffle = local) cannot be read; decompress it first (gunzip)");
  }

  constexpr std::string_view bom = "\xEF\xBB\xBF";  // UTF-8 byte-order mark
  const bool lines_known = (window.begin == 0 && window.first_record.empty()) || window.first_line > 0;
  CsvLoader loader(lines_known ? file : file + " [shard from byte " + std::to_string(window.begin) +
                                            "; lines counted from there]",
                   options, window.allow_empty);
  if (!window.first_record.empty()) {
    std::string_view first = window.first_record;
    check_encoding(file, first);
    if (first.starts_with(bom)) first.remove_prefix(bom.size());
    loader.feed_reference(first, window.first_line > 0 ? window.first_line : 1);
  }
  if (window.begin > 0) (void)in.skip(window.begin);
  std::uint64_t remaining = window.end - window.begin;
  // Blocks of 1 MiB, or of the file's size if smaller: a small file does not pay for a 1 MiB buffer.
  const std::uint64_t block_bytes = in.gzip() ? std::uint64_t{1} << 20 : std::min(in.file_size(), remaining);
  std::vector<char> block(static_cast<std::size_t>(std::clamp<std::uint64_t>(block_bytes, 1, std::uint64_t{1} << 20)));
  bool first_block = window.begin == 0;
  while (remaining > 0) {
    auto size = in.read(block.data(), static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), remaining)));
    if (size == 0) break;
    remaining -= size;
    const char* data = block.data();
    if (first_block) {
      check_encoding(file, std::string_view(data, size));
      if (std::string_view(data, size).starts_with(bom)) {
        data += bom.size();
        size -= bom.size();
      }
    }
    first_block = false;
    loader.feed(data, size);
  }
  Dataset ds = loader.finish(stats);
  ds.source = file;
  return ds;
}

}  // namespace detail

CsvHeader parse_csv_header(const std::string& text) {
  if (text == "auto") return CsvHeader::automatic;
  if (text == "true") return CsvHeader::yes;
  if (text == "false") return CsvHeader::no;
  throw DataError("CSV header option must be auto, true or false, got '" + text + "'");
}

CsvOptions csv_options(const config::DataConfig& data, int classes) {
  CsvOptions options;
  options.header = parse_csv_header(data.csv_header);
  options.label_column = data.label_column;
  options.classes = classes;
  return options;
}

}  // namespace mpitrain::data
