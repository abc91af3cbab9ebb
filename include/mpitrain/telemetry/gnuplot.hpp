#pragma once
/// @file gnuplot.hpp
/// Pictures drawn by gnuplot (a Debian package installed by launch/install-deps): the PNGs of `explain`
/// and `diagnose` and of launch/plot. Called by rank 0 only.

#include <string>
#include <string_view>

namespace mpitrain::telemetry {

/// Runs `gnuplot` with @p script on its standard input and waits for it. The script names its own
/// output (`set terminal pngcairo ...; set output 'FILE.png'`) and data files; gnuplot's messages go to
/// standard error.
/// @param what names the picture in an error, e.g. "reliability diagram runs/x/reliability.png".
/// @throws std::runtime_error naming @p what when gnuplot cannot be started (not installed: the message
///         says to run launch/install-deps) or exits with a non-zero status.
void run_gnuplot(std::string_view script, const std::string& what);

/// @p text quoted for a gnuplot script as a single-quoted string ('' stands for a quote inside).
std::string gnuplot_quoted(std::string_view text);

}  // namespace mpitrain::telemetry
