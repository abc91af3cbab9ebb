#include "mpitrain/energy/energy_estimate.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace mpitrain::energy {

namespace {
void require_non_negative(double value, const char* what) {
  if (!std::isfinite(value) || value < 0) {
    throw std::invalid_argument(std::string("energy estimate: ") + what + " must be finite and >= 0, not " +
                                std::to_string(value));
  }
}
}  // namespace

EnergyBreakdown green_algorithms_energy(const GreenAlgorithmsInput& in) {
  require_non_negative(in.seconds, "seconds");
  require_non_negative(in.cores, "cores");
  require_non_negative(in.core_usage, "core usage");
  require_non_negative(in.watts_per_core, "watts per core");
  require_non_negative(in.memory_gb, "memory (GB)");
  if (in.core_usage > 1) {
    throw std::invalid_argument("energy estimate: core usage must be in [0, 1], not " + std::to_string(in.core_usage));
  }
  return {in.seconds * in.cores * in.watts_per_core * in.core_usage,
          in.seconds * in.memory_gb * memory_watts_per_gb};
}

double core_usage(double cpu_seconds, double seconds, double cores) {
  if (seconds <= 0 || cores <= 0) return 0;
  return std::clamp(cpu_seconds / (seconds * cores), 0.0, 1.0);
}

double facility_joules(double it_joules, double pue) {
  if (!(pue >= 1)) throw std::invalid_argument("energy.pue must be >= 1, not " + std::to_string(pue));
  return it_joules * pue;
}

double co2e_kg(double facility_joules, double grams_per_kwh) {
  return to_kwh(facility_joules) * grams_per_kwh / 1000.0;
}

}  // namespace mpitrain::energy
