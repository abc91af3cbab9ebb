#pragma once
/// @file logging.hpp
/// Rank-aware logging with spdlog: every line carries `[rank N]`; rank 0 logs at the configured level,
/// other ranks only warnings and errors. Library code logs through spdlog and never prints to stdout.

#include <filesystem>
#include <string>

namespace mpitrain::base {

/// Installs the default spdlog logger for this rank (stderr sink).
/// @param rank this process's rank. @param level `trace`, `debug`, `info`, `warn` or `error`.
/// @throws std::invalid_argument for an unknown level.
void setup_logging(int rank, const std::string& level);

/// Adds a file sink (appending) at @p path to the default logger. Called on rank 0 with the run
/// directory's `train.log`. @throws spdlog::spdlog_ex when the file cannot be opened.
void add_log_file(const std::filesystem::path& path);

}  // namespace mpitrain::base
