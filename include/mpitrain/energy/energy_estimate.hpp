#pragma once
/// @file energy_estimate.hpp
/// The energy estimate used where no counter can be read, and the conversions to facility energy and
/// emissions. The model is Green Algorithms: L. Lannelongue, J. Grealey and M. Inouye, "Green Algorithms:
/// Quantifying the Carbon Footprint of Computation", Advanced Science 8 (2021) 2100707,
/// doi:10.1002/advs.202100707, equation (1):
///
///     E (kWh) = t (h) · (n_c · P_c · u_c + n_m · P_m) · PUE · 0.001
///
/// with t the run time, n_c the number of cores, P_c the power draw of one core (W), u_c the core usage
/// factor in [0, 1], n_m the memory (GB), P_m = 0.3725 W/GB, and PUE the facility's power usage
/// effectiveness. Here the IT part (without PUE) and the facility part are kept apart, and energies are in
/// joules until reported.

namespace mpitrain::energy {

/// P_m of Green Algorithms: power draw of memory (W per GB).
inline constexpr double memory_watts_per_gb = 0.3725;
/// Joules in one kilowatt-hour.
inline constexpr double joules_per_kwh = 3.6e6;
/// Bytes in the "GB" used for memory sizes: 2^30, as CodeCarbon's `ram_total_size`.
inline constexpr double bytes_per_gb = 1024.0 * 1024.0 * 1024.0;

/// Inputs of the Green Algorithms estimate.
struct GreenAlgorithmsInput {
  double seconds = 0;          ///< t: wall-clock time (s).
  double cores = 0;            ///< n_c: cores used.
  double core_usage = 1;       ///< u_c: share of the cores' time spent computing, in [0, 1].
  double watts_per_core = 12;  ///< P_c (W per core).
  double memory_gb = 0;        ///< n_m: memory (GB, 2^30 bytes).
};

/// IT energy (J) split by component; no PUE applied.
struct EnergyBreakdown {
  double cpu_joules = 0;  ///< t · n_c · P_c · u_c.
  double ram_joules = 0;  ///< t · n_m · P_m.
  [[nodiscard]] double it_joules() const { return cpu_joules + ram_joules; }
};

/// Green Algorithms equation (1) without the PUE factor, in joules (W · s).
/// @throws std::invalid_argument if an input is negative or not finite, or core_usage exceeds 1.
EnergyBreakdown green_algorithms_energy(const GreenAlgorithmsInput& input);

/// u_c from process accounting: @p cpu_seconds (user + system time of all processes) over
/// @p seconds · @p cores, capped at 1; 0 when seconds or cores is 0.
double core_usage(double cpu_seconds, double seconds, double cores);

/// Facility energy: @p it_joules · @p pue (J).
/// @throws std::invalid_argument if pue < 1.
double facility_joules(double it_joules, double pue);

/// Emissions (kg CO2e) of @p facility_joules at @p grams_per_kwh: kWh · g/kWh / 1000.
double co2e_kg(double facility_joules, double grams_per_kwh);

/// Joules to kilowatt-hours.
inline double to_kwh(double joules) { return joules / joules_per_kwh; }

}  // namespace mpitrain::energy
