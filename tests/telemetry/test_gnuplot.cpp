// telemetry::run_gnuplot draws a real PNG (checked by its signature and the size in its IHDR chunk, read
// independently of gnuplot) and reports a failing script naming the picture.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "mpitrain/telemetry/gnuplot.hpp"

namespace mpitrain::telemetry {
namespace {

std::uint32_t big_endian(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

TEST(GnuplotTest, DrawsAPngOfTheRequestedSize) {
  const auto dir = std::filesystem::temp_directory_path() / "mpitrain-test-gnuplot it's";
  std::filesystem::create_directories(dir);
  const auto png = dir / "plot.png";
  std::filesystem::remove(png);
  run_gnuplot("set terminal pngcairo size 320,200\nset output " + gnuplot_quoted(png.string()) +
                  "\nplot sin(x)\nset output\n",
              "test picture");
  std::ifstream in(png, std::ios::binary);
  std::array<unsigned char, 24> head{};
  in.read(reinterpret_cast<char*>(head.data()), head.size());
  ASSERT_EQ(in.gcount(), 24);
  const std::array<unsigned char, 8> signature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_TRUE(std::equal(signature.begin(), signature.end(), head.begin()));
  EXPECT_EQ(big_endian(&head[16]), 320U);  // IHDR width
  EXPECT_EQ(big_endian(&head[20]), 200U);  // IHDR height
  std::filesystem::remove_all(dir);
}

TEST(GnuplotTest, AFailingScriptNamesThePicture) {
  try {
    run_gnuplot("this is not gnuplot\n", "reliability diagram x.png");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("reliability diagram x.png"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("exit status"), std::string::npos) << e.what();
  }
}

TEST(GnuplotTest, QuotesQuotes) { EXPECT_EQ(gnuplot_quoted("it's"), "'it''s'"); }

}  // namespace
}  // namespace mpitrain::telemetry
