// Unit tests of the CSV reader on fixture files written at test time.
#include <gtest/gtest.h>
#include <spdlog/fmt/fmt.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mpitrain/data/csv_reader.hpp"

namespace mpitrain::data {
namespace {

namespace fs = std::filesystem;

class CsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("mpitrain_test_csv_" + std::string(info->name()) + "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes @p content byte for byte (no newline translation).
  fs::path write(const std::string& content, const std::string& name = "data.csv") const {
    const fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary);
    out << content;
    return path;
  }

  Dataset read(const std::string& content, CsvOptions options = {}, CsvStats* stats = nullptr) const {
    return read_csv_dataset(write(content), options, stats);
  }

  // Expects a DataError whose message holds the file name and every fragment.
  void expect_error(const std::string& content, const CsvOptions& options,
                    const std::vector<std::string>& fragments) const {
    const fs::path path = write(content);
    try {
      (void)read_csv_dataset(path, options);
      ADD_FAILURE() << "expected a DataError for:\n" << content;
    } catch (const DataError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << "file not named in: " << message;
      for (const std::string& fragment : fragments) {
        EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << message;
      }
    }
  }

  fs::path dir_;
};

CsvOptions with_label(std::string column, CsvHeader header = CsvHeader::automatic, int classes = 10) {
  CsvOptions options;
  options.label_column = std::move(column);
  options.header = header;
  options.classes = classes;
  return options;
}

void expect_rows(const Dataset& ds, const std::vector<std::vector<float>>& features,
                 const std::vector<std::int32_t>& labels) {
  ASSERT_EQ(ds.size(), static_cast<std::int64_t>(labels.size()));
  ASSERT_EQ(ds.features.rows(), static_cast<Eigen::Index>(features.size()));
  EXPECT_EQ(ds.labels, labels);
  for (std::size_t r = 0; r < features.size(); ++r) {
    ASSERT_EQ(ds.feature_count(), static_cast<std::int64_t>(features[r].size()));
    for (std::size_t c = 0; c < features[r].size(); ++c) {
      EXPECT_FLOAT_EQ(ds.features(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)), features[r][c])
          << "row " << r << " column " << c;
    }
  }
}

TEST_F(CsvTest, AutoHeaderDetectsNames) {
  CsvStats stats;
  const Dataset ds = read("label,a,b\n1,2.5,3\n0,-1,4e2\n", {}, &stats);
  expect_rows(ds, {{2.5f, 3.0f}, {-1.0f, 400.0f}}, {1, 0});
  EXPECT_TRUE(stats.had_header);
  EXPECT_EQ(stats.rows, 2);
  EXPECT_EQ(stats.imputed_cells, 0);
  EXPECT_NE(ds.source.find("data.csv"), std::string::npos);
}

TEST_F(CsvTest, AutoHeaderTakesANumericFirstRecordAsData) {
  CsvStats stats;
  // Missing cells in the first record do not make it a header.
  const Dataset ds = read("1,2.5,,3\n0,-1,4,+5\n", with_label("0"), &stats);
  expect_rows(ds, {{2.5f, 0.0f, 3.0f}, {-1.0f, 4.0f, 5.0f}}, {1, 0});
  EXPECT_FALSE(stats.had_header);
  EXPECT_EQ(stats.imputed_cells, 1);
}

TEST_F(CsvTest, HeaderTrueUsesANumericFirstRecordAsNames) {
  CsvStats stats;
  // Names win over indices: "2" is the name of column 0, not column index 2.
  const Dataset ds = read("2,7,9\n1,20,30\n3,40,50\n", with_label("2", CsvHeader::yes), &stats);
  expect_rows(ds, {{20, 30}, {40, 50}}, {1, 3});
  EXPECT_TRUE(stats.had_header);
  // A number that is not a name is an index.
  expect_rows(read("9,8,7\n5,1,2\n", with_label("1", CsvHeader::yes)), {{5, 2}}, {1});
}

TEST_F(CsvTest, HeaderFalseReadsTheFirstRecordAsData) {
  CsvStats stats;
  expect_rows(read("1,2\n0,3\n", with_label("0", CsvHeader::no), &stats), {{2}, {3}}, {1, 0});
  EXPECT_FALSE(stats.had_header);
  expect_error("label,a\n1,2\n", with_label("0", CsvHeader::no), {"line 1", "column 1", "'label'", "not an integer"});
}

TEST_F(CsvTest, LabelByNameOrIndexAnywhereKeepsFeatureOrder) {
  const std::string content = "a,target,b,c\n1,2,3,4\n5,6,7,8\n";
  const std::vector<std::vector<float>> features{{1, 3, 4}, {5, 7, 8}};
  expect_rows(read(content, with_label("target")), features, {2, 6});
  expect_rows(read(content, with_label("1")), features, {2, 6});
  expect_rows(read("1,2,3,4\n5,6,7,8\n", with_label("3")), {{1, 2, 3}, {5, 6, 7}}, {4, 8});
}

TEST_F(CsvTest, MissingValuesAreImputedAndCounted) {
  CsvStats stats;
  const Dataset ds = read(
      "label,a,b,c\n"
      "1,,NA,5\n"
      "2,NaN,nan,null\n"
      "3,NULL,\"\",7\n"
      "4,1,2,\n",
      {}, &stats);
  expect_rows(ds, {{0, 0, 5}, {0, 0, 0}, {0, 0, 7}, {1, 2, 0}}, {1, 2, 3, 4});
  EXPECT_EQ(stats.imputed_cells, 2 + 3 + 2 + 1);
  EXPECT_EQ(stats.rows, 4);
}

TEST_F(CsvTest, CrlfLineEndings) {
  expect_rows(read("label,a\r\n1,2\r\n0,3\r\n"), {{2}, {3}}, {1, 0});
  expect_rows(read("label,a\r\n1,2\r\n0,3"), {{2}, {3}}, {1, 0});  // no final line end
  expect_error("label,a\r\n1,2\r\n\r\n0,x\r\n", {}, {"line 4", "column 2", "'a'", "'x'"});
}

TEST_F(CsvTest, ByteOrderMarkIsSkipped) {
  CsvStats stats;
  expect_rows(read("\xEF\xBB\xBFlabel,a\n1,2\n", {}, &stats), {{2}}, {1});
  EXPECT_TRUE(stats.had_header);
  expect_rows(read("\xEF\xBB\xBF" "1,2\n", with_label("0")), {{2}}, {1});
}

TEST_F(CsvTest, QuotedFieldsWithCommasQuotesAndNewlines) {
  // Line 1-2: a header with a quoted comma and an embedded newline; lines 3-4: data, some quoted.
  const std::string header = "label,\"f,1\",\"f\n2\",\"say \"\"hi\"\"\"\n";
  CsvStats stats;
  const Dataset ds = read(header + "1,\"2.5\",3,\" 4 \"\n\"0\",5,\"6\",7\n", {}, &stats);
  expect_rows(ds, {{2.5f, 3, 4}, {5, 6, 7}}, {1, 0});
  // The error after the multi-line record is still on the right line, and names the quoted header.
  expect_error(header + "1,2,3,4\n0,4,x,6\n", {}, {"line 4", "column 3", "'f\\n2'", "'x'"});
  expect_error(header + "1,2,3,4\n0,4,5,bad\n", {}, {"line 4", "column 4", "'say \"hi\"'"});
  // A quoted comma stays inside its field (the row is not ragged) and is reported as the value.
  expect_error(header + "1,\"2,5\",3,4\n", {}, {"line 3", "column 2", "'f,1'", "'2,5' is not a number"});
  // A data field spanning lines 3-4 is reported at the line it starts on, and the next record's line is 5.
  expect_error(header + "1,\"x\ny\",3,4\n", {}, {"line 3", "column 2"});
  expect_error(header + "1,\"2\n\",3,4\n0,1,2,z\n", {}, {"line 5", "column 4"});
  // A field after a multi-line one in the same record is on the line where it starts.
  expect_error(header + "1,\"2\n\",3,bad\n", {}, {"line 4", "column 4"});
  // A row error names the line where the record starts.
  expect_error(header + "1,2,3,4\n1,\"2\n\",3\n", {}, {"line 4", "expected 4", "found 3"});
}

TEST_F(CsvTest, BlankLinesAreSkippedAndLinesStillCounted) {
  expect_rows(read("label,a\n\n1,2\n   \n\n0,3\n\n"), {{2}, {3}}, {1, 0});
  expect_error("label,a\n\n1,2\n   \n\n0,3\n\n1,bad\n", {}, {"line 8", "column 2"});
}

TEST_F(CsvTest, LineNumbersAcrossReadBlocks) {
  // More than the reader's 1 MiB block, so lines and a CRLF pair straddle block boundaries.
  std::string content = "label,a,b\r\n";
  const int rows = 120000;
  for (int i = 0; i < rows; ++i) {
    content.append(std::to_string(i % 10)).append(",").append(std::to_string(i)).append(".25,7\r\n");
  }
  ASSERT_GT(content.size(), std::size_t{1} << 20);
  CsvStats stats;
  const Dataset ds = read(content, {}, &stats);
  EXPECT_EQ(stats.rows, rows);
  EXPECT_FLOAT_EQ(ds.features(rows - 1, 0), static_cast<float>(rows - 1) + 0.25f);
  EXPECT_EQ(ds.labels[rows - 1], (rows - 1) % 10);
  std::string last_line = "line ";
  last_line += std::to_string(rows + 2);  // the header is line 1
  expect_error(content + "3,1,oops\r\n", {}, {last_line, "column 3", "'b'"});
}

TEST_F(CsvTest, NonNumericFeatureNamesLineColumnAndHeader) {
  expect_error("label,a,b\n1,2,3\n0,4,abc\n", {}, {"line 3", "column 3", "('b')", "'abc'", "not a number"});
  for (const std::string bad : {"1.5x", "0x10", "1,5e", "--1", "N/A", "None", "1 2"}) {
    expect_error("label,a\n1,\"" + bad + "\"\n", {}, {"line 2", "column 2", "('a')", "not a number"});
  }
  for (const std::string bad : {"inf", "-Infinity", "NAN", "-nan"}) {
    expect_error("label,a\n1," + bad + "\n", {}, {"line 2", "column 2", "('a')", "is not a finite number"});
  }
  // Without a header there is no name to give.
  expect_error("1,2\n0,x\n", with_label("0"), {"line 2", "column 2", "'x'"});
}

// Beyond float's range: above it an error that says so (beyond double's too, where from_chars fails);
// below it 0, whether the value underflows double (1e-400) or only float (1e-50).
TEST_F(CsvTest, OverflowIsNamedAndUnderflowIsZero) {
  for (const std::string big : {"1e39", "-3.5e38", "1e999", "-1e400"}) {
    expect_error("label,a\n1," + big + "\n", {}, {"line 2", "column 2", "('a')", "'" + big + "' overflows single precision",
                                                  "largest magnitude 3.40282e+38"});
  }
  const Dataset ds = read("label,a,b,c,d,e\n1,1e-50,1e-400,-1e-400,+1e-99999,2e-45\n");
  ASSERT_EQ(ds.feature_count(), 5);
  for (int c = 0; c < 4; ++c) EXPECT_EQ(ds.features(0, c), 0.0f) << "column " << c + 2;
  EXPECT_EQ(ds.features(0, 4), std::numeric_limits<float>::denorm_min());  // 2e-45 rounds to the smallest subnormal
  expect_error("label,a\n1e-400,1\n", {}, {"line 2", "'1e-400'", "not an integer"});  // a label stays exact
}

// A quoted field or header name with a line break or a tab is shown escaped, so the message is one line.
TEST_F(CsvTest, ControlCharactersInMessagesAreEscaped) {
  const fs::path path = write("\"lab\nel\",\"a\tb\"\n1,\"x\ny\"\n");
  try {
    (void)read_csv_dataset(path, with_label("lab\nel"));
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_EQ(message.find('\t'), std::string::npos) << message;
    EXPECT_NE(message.find("line 3, column 2 ('a\\tb'): 'x\\ny' is not a number"), std::string::npos) << message;
  }
}

// A header that names the label column twice would silently train on the first: an error naming both.
TEST_F(CsvTest, LabelColumnNamedTwiceIsAnError) {
  expect_error("label,a,label\n1,2,3\n", {}, {"line 1", "label column 'label' more than once", "columns 1, 3"});
  expect_error("\n\nx,y,y\n1,2,3\n", with_label("y"), {"line 3", "'y' more than once", "columns 2, 3"});
  // By index the columns are unambiguous.
  expect_rows(read("y,a,y\n1,2,3\n", with_label("0")), {{2, 3}}, {1});
}

// Feature columns sharing a name are allowed (the model sees positions), but reported for a warning.
TEST_F(CsvTest, DuplicateFeatureNamesAreReported) {
  CsvStats stats;
  expect_rows(read("a,label,b,a,b,c,a\n1,2,3,4,5,6,7\n", {}, &stats), {{1, 3, 4, 5, 6, 7}}, {2});
  EXPECT_EQ(stats.duplicate_feature_names, "'a' (columns 1, 4, 7), 'b' (columns 3, 5)");
  read("label,a,b\n1,2,3\n", {}, &stats);
  EXPECT_EQ(stats.duplicate_feature_names, "");
}

// UTF-16 and UTF-32 files are recognised by their byte-order mark and named (libcsv would see NUL bytes).
TEST_F(CsvTest, Utf16AndUtf32AreNamed) {
  const auto wide = [](const std::string& text, bool little) {
    std::string out = little ? "\xFF\xFE" : "\xFE\xFF";
    for (const char c : text) out += little ? std::string{c, '\0'} : std::string{'\0', c};
    return out;
  };
  expect_error(wide("label,a\n1,2\n", true), {}, {"UTF-16 little-endian (byte-order mark FF FE)", "UTF-8"});
  expect_error(wide("label,a\n1,2\n", false), {}, {"UTF-16 big-endian (byte-order mark FE FF)"});
  expect_error(std::string("\xFF\xFE\0\0l\0\0\0", 8), {}, {"UTF-32 little-endian"});
}

// A gzip-compressed CSV (first bytes 1f 8b) is read through zlib, with the same rules and line numbers.
TEST_F(CsvTest, GzipCompressedCsvIsRead) {
  const auto gzip = [&](const std::string& content, const std::string& name) {
    const fs::path path = dir_ / name;
    gzFile file = gzopen(path.string().c_str(), "wb");
    EXPECT_EQ(gzwrite(file, content.data(), static_cast<unsigned>(content.size())), static_cast<int>(content.size()));
    EXPECT_EQ(gzclose(file), Z_OK);
    return path;
  };
  std::string content = "\xEF\xBB\xBFlabel,a,b\n";
  for (int i = 0; i < 50000; ++i) content.append(fmt::format("{},{},\"{}\"\n", i % 10, i, -i));
  CsvStats plain_stats, gz_stats;
  const Dataset plain = read(content, {}, &plain_stats);
  const Dataset gz = read_csv_dataset(gzip(content, "data.csv.gz"), {}, &gz_stats);
  EXPECT_EQ(gz_stats.rows, 50000);
  EXPECT_EQ(gz.labels, plain.labels);
  EXPECT_TRUE(gz.features == plain.features);
  EXPECT_FLOAT_EQ(gz.features(49999, 1), -49999.0f);
  const fs::path bad = gzip(content + "3,4,x\n", "bad.csv.gz");
  try {
    (void)read_csv_dataset(bad, {});
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find(bad.string() + ": line 50002, column 3 ('b'): 'x' is not a number"),
              std::string::npos) << error.what();
  }
}

TEST_F(CsvTest, LabelMustBeAnIntegerInRange) {
  expect_rows(read("label,a\n3.0,1\n9,2\n"), {{1}, {2}}, {3, 9});
  expect_error("label,a\n1,2\n3.5,1\n", {}, {"line 3", "column 1", "'3.5'", "not an integer"});
  expect_error("label,a\n1,2\n-1,1\n", {}, {"line 3", "'-1'", "outside [0, 10)"});
  expect_error("label,a\n1,2\n10,1\n", {}, {"line 3", "'10'", "outside [0, 10)"});
  expect_error("a,label\n1,2\n1,\n", {}, {"line 3", "column 2", "empty"});
  expect_error("label,a\nNA,1\n", {}, {"line 2", "'NA'", "not an integer"});
  expect_rows(read("label,a\n4,1\n", with_label("label", CsvHeader::automatic, 5)), {{1}}, {4});
  expect_error("label,a\n5,1\n", with_label("label", CsvHeader::automatic, 5), {"line 2", "outside [0, 5)"});
}

TEST_F(CsvTest, RaggedRowNamesLineAndWidths) {
  expect_error("label,a,b\n1,2,3\n0,4\n", {}, {"line 3", "expected 3", "found 2"});
  expect_error("label,a,b\n1,2,3\n\n0,4,5,6\n", {}, {"line 4", "expected 3", "found 4"});
}

TEST_F(CsvTest, UnknownLabelColumn) {
  expect_error("label,a\n1,2\n", with_label("target"), {"'target'", "not found"});
  expect_error("label,a\n1,2\n", with_label("5"), {"index 5", "outside [0, 2)"});
  expect_error("1,2\n0,3\n", with_label("label"), {"'label'", "not found"});
  expect_error("label\n1\n", {}, {"no feature column"});
}

TEST_F(CsvTest, OptionalLabelColumn) {
  CsvOptions options;
  options.label_optional = true;
  // Absent: every column is a feature, in file order, and every label is 0.
  expect_rows(read("a,b,c\n1,2,3\n4,,6\n", options), {{1, 2, 3}, {4, 0, 6}}, {0, 0});
  expect_rows(read("1,2\n3,4\n", options), {{1, 2}, {3, 4}}, {0, 0});
  options.label_column = "7";
  expect_rows(read("1,2\n3,4\n", options), {{1, 2}, {3, 4}}, {0, 0});
  // Present: used and checked as usual.
  options.label_column = "label";
  expect_rows(read("x,label\n1,2\n3,4\n", options), {{1}, {3}}, {2, 4});
  expect_error("x,label\n1,2\n3,40\n", options, {"line 3", "column 2", "outside [0, 10)"});
}

TEST_F(CsvTest, UnbalancedQuotesAreErrors) {
  // A quote opened on line 2 and never closed swallows the rest of the file.
  expect_error("label,a\n1,\"2\n0,3\n", {}, {"line 2", "column 2", "unbalanced quotes"});
  // A stray quote inside an unquoted field, and text after a closing quote.
  expect_error("label,a\n1,2\n0,3\"4\n", {}, {"line 3", "column 2", "unbalanced quotes"});
  expect_error("label,a\n1,\"2\"5\n", {}, {"line 2", "column 2", "unbalanced quotes"});
}

TEST_F(CsvTest, EmptyFileAndHeaderOnly) {
  expect_error("", {}, {"no data rows"});
  expect_error("\n\n  \n", {}, {"no data rows"});
  expect_error("\xEF\xBB\xBF", {}, {"no data rows"});
  expect_error("label,a,b\n", {}, {"no data rows", "header at line 1"});
}

TEST_F(CsvTest, MissingFile) {
  const fs::path missing = dir_ / "nope.csv";
  try {
    (void)read_csv_dataset(missing, {});
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find(missing.string()), std::string::npos) << error.what();
  }
}

TEST(CsvHeaderOption, Parses) {
  EXPECT_EQ(parse_csv_header("auto"), CsvHeader::automatic);
  EXPECT_EQ(parse_csv_header("true"), CsvHeader::yes);
  EXPECT_EQ(parse_csv_header("false"), CsvHeader::no);
  EXPECT_THROW(parse_csv_header("yes"), DataError);
  EXPECT_THROW(parse_csv_header(""), DataError);
}

TEST(CsvHeaderOption, RunOptionsComeFromTheDataSection) {
  config::DataConfig data;
  data.csv_header = "false";
  data.label_column = "3";
  const CsvOptions options = csv_options(data, 7);
  EXPECT_EQ(options.header, CsvHeader::no);
  EXPECT_EQ(options.label_column, "3");
  EXPECT_EQ(options.classes, 7);
  EXPECT_FALSE(options.label_optional);
  data.csv_header = "maybe";
  EXPECT_THROW(csv_options(data, 7), DataError);
}

}  // namespace
}  // namespace mpitrain::data
