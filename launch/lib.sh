# Shared by the launch/ scripts (sourced, from the repository root): the Python they run, their --help
# text, building what they need, and the machine banner of a benchmark's output.

# Debian's python3: numpy and h5py come from apt, and python3-torch installs there.
PYTHON=${PYTHON:-/usr/bin/python3}

# usage [CODE]: prints the calling script's header comment (line 2 up to `set -euo`) and exits with CODE.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

# ensure_built DIR LOG TARGET...: configures DIR (Release) and builds the targets, with the output in LOG;
# on failure prints the log's tail and exits 1.
ensure_built() {
  local dir=$1 log=$2; shift 2
  mkdir -p "$(dirname "$log")"
  { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release && cmake --build "$dir" -j"$(nproc)" --target "$@"; } \
    > "$log" 2>&1 || { tail -30 "$log" >&2; echo "$(basename "$0"): the build failed (see $log)" >&2; exit 1; }
}

# banner: one line on the machine a benchmark ran on (host, cores, CPU model, load, MPI).
banner() {
  echo "machine: $(uname -n), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg); $(mpirun --version | head -1)"
}
