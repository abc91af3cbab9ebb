// data::MappedFile and data::TextWindows: windows of a small file laid by hand, two epochs, every byte pair
// once, gather against the file's bytes, the sampler's slices, the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <stdexcept>

#include "data/file_fixture.hpp"
#include "mpitrain/data/mapped_file.hpp"
#include "mpitrain/data/sampler.hpp"
#include "mpitrain/data/text_windows.hpp"

using namespace mpitrain;
using data::test::Bytes;
using data::test::expect_data_error;

namespace {

// N bytes that are not valid UTF-8 (0x80..0xff alone, NUL) mixed with ASCII: a text is bytes.
Bytes some_bytes(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 97 + 13) % 256);
  return b;
}

class TextWindowsTest : public data::test::FileFixture {
 protected:
  std::shared_ptr<const data::MappedFile> map(const Bytes& bytes) {
    return std::make_shared<const data::MappedFile>(write_plain("text.txt", bytes));
  }
};

}  // namespace

TEST_F(TextWindowsTest, MapsTheFilesBytes) {
  const Bytes bytes = some_bytes(1000);
  data::MappedFile file(write_plain("a.bin", bytes));
  ASSERT_EQ(file.size(), bytes.size());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), file.bytes().begin()));
  data::MappedFile moved(std::move(file));
  EXPECT_EQ(moved.size(), bytes.size());
  EXPECT_EQ(moved.bytes()[999], bytes[999]);
}

TEST_F(TextWindowsTest, EpochOffsetsAreUniformInTheContextAndDifferBetweenEpochs) {
  const std::int64_t t = 4;
  std::map<std::int64_t, int> seen;
  for (std::int64_t epoch = 0; epoch < 4000; ++epoch) {
    const std::int64_t o = data::epoch_offset(7, epoch, t);
    ASSERT_GE(o, 0);
    ASSERT_LT(o, t);
    ++seen[o];
    EXPECT_EQ(o, data::epoch_offset(7, epoch, t));  // a pure function of (seed, epoch)
  }
  ASSERT_EQ(seen.size(), 4U);
  for (const auto& [o, n] : seen) EXPECT_NEAR(n, 1000, 150) << "offset " << o;  // about 5 sigma
  EXPECT_THROW(static_cast<void>(data::epoch_offset(7, -1, t)), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(data::epoch_offset(7, 0, 0)), std::invalid_argument);
}

// Two epochs of a 43-byte file with T = 4: floor((43 - 4) / 4) = 9 windows, s = offset + 4k; each window's
// input is bytes [s, s + 4) and its targets bytes [s + 1, s + 5); the pairs (p, p + 1) predicted over an epoch
// are p = offset .. offset + 35, each once.
TEST_F(TextWindowsTest, TwoEpochsOfWindowsHoldTheFilesBytesAndEveryPairOnce) {
  const Bytes bytes = some_bytes(43);
  const std::int64_t t = 4;
  const data::TextWindows windows(map(bytes), 0, bytes.size(), t, data::WindowLayout::training, "text.txt");
  ASSERT_EQ(windows.count(), 9);
  std::uint64_t seed = 1;  // the first seed whose epochs 0 and 1 have different offsets
  while (data::epoch_offset(seed, 0, t) == data::epoch_offset(seed, 1, t)) ++seed;
  std::set<std::int64_t> offsets;
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    const std::int64_t offset = data::epoch_offset(seed, epoch, t);
    offsets.insert(offset);
    std::vector<std::int64_t> all(static_cast<std::size_t>(windows.count()));
    std::iota(all.begin(), all.end(), 0);
    base::RowMatrix x(windows.count(), t);
    std::vector<std::int32_t> targets(static_cast<std::size_t>(windows.count() * t));
    windows.gather(all, offset, x, targets);
    std::vector<int> predicted(bytes.size(), 0);  // predicted[p]: times the pair (p, p + 1) is scored
    for (std::int64_t k = 0; k < windows.count(); ++k) {
      const std::int64_t s = offset + k * t;
      EXPECT_EQ(windows.start(k, offset), s);
      for (std::int64_t j = 0; j < t; ++j) {
        EXPECT_EQ(x(k, j), static_cast<float>(bytes[static_cast<std::size_t>(s + j)])) << k << " " << j;
        EXPECT_EQ(targets[static_cast<std::size_t>(k * t + j)], bytes[static_cast<std::size_t>(s + j + 1)]);
        ++predicted[static_cast<std::size_t>(s + j)];
      }
    }
    for (std::size_t p = 0; p < bytes.size(); ++p) {
      const bool inside = static_cast<std::int64_t>(p) >= offset && static_cast<std::int64_t>(p) < offset + 36;
      EXPECT_EQ(predicted[p], inside ? 1 : 0) << "pair at " << p << ", offset " << offset;
    }
  }
  EXPECT_EQ(offsets.size(), 2U);
}

// Every offset in [0, T) keeps every window inside the file, the last byte included at offset T - 1 when
// N = (count + 1)·T.
TEST_F(TextWindowsTest, TheWindowCountFitsEveryOffset) {
  for (std::size_t n : {8U, 9U, 11U, 12U, 40U}) {
    const Bytes bytes = some_bytes(n);
    const std::int64_t t = 4;
    const data::TextWindows w(map(bytes), 0, n, t, data::WindowLayout::training, "text.txt");
    EXPECT_EQ(w.count(), (static_cast<std::int64_t>(n) - t) / t);
    for (std::int64_t o = 0; o < t; ++o) EXPECT_LE(w.start(w.count() - 1, o) + t + 1, static_cast<std::int64_t>(n));
    EXPECT_THROW(static_cast<void>(w.start(0, t)), std::invalid_argument);
    EXPECT_THROW(static_cast<void>(w.start(w.count(), 0)), std::invalid_argument);
  }
}

// The sampler's slices at 3 ranks gather, row by row, the windows of its permutation; together they are
// every window once.
TEST_F(TextWindowsTest, GatherOfTheSamplersSlices) {
  const Bytes bytes = some_bytes(200);
  const std::int64_t t = 8;
  const data::TextWindows windows(map(bytes), 0, bytes.size(), t, data::WindowLayout::training, "text.txt");
  ASSERT_EQ(windows.count(), 24);
  data::DistributedSampler sampler(windows.count(), 10, 5);
  sampler.set_epoch(1);
  const std::int64_t offset = data::epoch_offset(5, 1, t);
  std::multiset<std::int64_t> used;
  base::RowMatrix x(4, t);
  std::vector<std::int32_t> targets(static_cast<std::size_t>(4 * t));
  for (std::int64_t step = 0; step < sampler.steps_per_epoch(); ++step) {
    for (int rank = 0; rank < 3; ++rank) {
      const auto slice = sampler.slice(step, rank, 3);
      windows.gather(slice, offset, x, targets);
      for (std::size_t i = 0; i < slice.size(); ++i) {
        used.insert(slice[i]);
        const std::size_t s = static_cast<std::size_t>(offset + slice[i] * t);
        for (std::int64_t j = 0; j < t; ++j) {
          EXPECT_EQ(x(static_cast<std::int64_t>(i), j), bytes[s + static_cast<std::size_t>(j)]);
          EXPECT_EQ(targets[i * static_cast<std::size_t>(t) + static_cast<std::size_t>(j)],
                    bytes[s + static_cast<std::size_t>(j) + 1]);
        }
      }
    }
  }
  ASSERT_EQ(used.size(), 24U);
  for (std::int64_t k = 0; k < 24; ++k) EXPECT_EQ(used.count(k), 1U);
}

// Evaluation: offset 0 only, every whole window: floor((N - 1) / T); a part of the file (the last bytes).
TEST_F(TextWindowsTest, EvaluationWindowsOfAPartOfTheFile) {
  const Bytes bytes = some_bytes(100);
  auto file = map(bytes);
  const data::TextWindows tail(file, 70, 100, 4, data::WindowLayout::evaluation, "tail");
  EXPECT_EQ(tail.size(), 30);
  EXPECT_EQ(tail.count(), 7);  // (30 - 1) / 4
  base::RowMatrix x(7, 4);
  std::vector<std::int32_t> targets(28);
  const std::vector<std::int64_t> all = {0, 1, 2, 3, 4, 5, 6};
  tail.gather(all, 0, x, targets);
  EXPECT_EQ(x(0, 0), bytes[70]);
  EXPECT_EQ(x(6, 3), bytes[70 + 27]);
  EXPECT_EQ(targets[27], bytes[70 + 28]);
  EXPECT_THROW(tail.gather(all, 1, x, targets), std::invalid_argument);
  base::RowMatrix small(3, 4);
  EXPECT_THROW(tail.gather(all, 0, small, targets), std::invalid_argument);
}

TEST_F(TextWindowsTest, BadFilesAreErrorsNamingThem) {
  const auto empty = write("empty.txt", "");
  expect_data_error([&] { data::MappedFile f(empty); }, {empty.string(), "the file is empty"});
  const auto missing = dir_ / "missing.txt";
  expect_data_error([&] { data::MappedFile f(missing); }, {missing.string(), "no such file"});
  auto file = map(some_bytes(7));
  // Training needs 2·T bytes, evaluation T + 1.
  expect_data_error([&] { data::TextWindows(file, 0, 7, 4, data::WindowLayout::training, "short.txt"); },
                    {"short.txt: 7 bytes, fewer than one window", "at least 2·T = 8 bytes (T = 4"});
  EXPECT_NO_THROW(data::TextWindows(file, 0, 7, 4, data::WindowLayout::evaluation, "short.txt"));
  expect_data_error([&] { data::TextWindows(file, 0, 7, 7, data::WindowLayout::evaluation, "short.txt"); },
                    {"short.txt: 7 bytes, fewer than one window", "at least T + 1 = 8 bytes (T = 7"});
  EXPECT_THROW(data::TextWindows(file, 3, 3, 1, data::WindowLayout::evaluation, "x"), std::invalid_argument);
  EXPECT_THROW(data::TextWindows(file, 0, 8, 1, data::WindowLayout::evaluation, "x"), std::invalid_argument);
}
