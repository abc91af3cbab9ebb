#pragma once
/// @file reports.hpp
/// The CSV files of `mpitrain diagnose` as text. Numbers are written as the shortest text that reads back
/// as the same double (fmt's default), so equal results give equal bytes and the files lose nothing.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mpitrain/diagnose/calibration.hpp"
#include "mpitrain/diagnose/class_metrics.hpp"
#include "mpitrain/diagnose/simplification.hpp"

namespace mpitrain::diagnose {

/// The bins of one model's probabilities, named for the file.
struct NamedBins {
  std::string model;     ///< `uncalibrated`, or `temperature_scaled`.
  CalibrationBins bins;  ///< On the evaluated set.
};

/// calibration.csv: `model,bin,lower,upper,count,mean_confidence,accuracy,gap` with gap = accuracy −
/// mean confidence, one line per bin of each entry of @p bins in order.
std::string calibration_csv(std::span<const NamedBins> bins);

/// The calibration summary of temperature.csv.
struct TemperatureReport {
  double temperature = 1.0;  ///< T fitted on the calibration set.
  bool converged = false;    ///< TemperatureFit::converged.
  int evaluations = 0;       ///< TemperatureFit::evaluations.
  double nll_before = 0.0;   ///< Mean NLL (nats) on the evaluated set at T = 1.
  double nll_after = 0.0;    ///< At the fitted T.
  double ece_before = 0.0;   ///< ECE on the evaluated set at T = 1.
  double ece_after = 0.0;    ///< At the fitted T.
};

/// temperature.csv: `quantity,value` lines: temperature, converged (0/1), evaluations, nll_before,
/// nll_after, ece_before, ece_after.
std::string temperature_csv(const TemperatureReport& report);

/// classes.csv: `class,precision,recall,f1,support`, one line per class.
std::string classes_csv(std::span<const ClassMetrics> classes);

/// confusion.csv: a header `true\predicted,0,1,...,K-1`, then one line per true class with its counts.
/// @param confusion K × K row-major (row = true class).
std::string confusion_csv(std::span<const std::int64_t> confusion, int classes);

/// simplification.csv: `method,sparsity_percent,kernel_sparsity,nonzero_parameters,parameters,accuracy,
/// loss,bytes`, one line per row.
std::string simplification_csv(std::span<const SimplifiedModel> rows);

/// The table rank 0 prints: one aligned line per row with accuracy, loss, nonzero parameters and bytes.
std::string simplification_table(std::span<const SimplifiedModel> rows);

}  // namespace mpitrain::diagnose
