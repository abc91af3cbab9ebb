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

# Debian's torch does its products through whatever libblas.so.3 the dynamic loader finds, and the reference
# BLAS is about 10 times slower there than OpenBLAS (5.7 against 65 GFLOP/s for a 256x784x256 product on the
# build machine, one thread), the MLP peer as a whole about 4 times (issue 11).
# peer_blas THREADS sets PEER_ENV, an `env ...` prefix for the peer's command: OpenBLAS's folder first in
# LD_LIBRARY_PATH where libopenblas0-pthread is installed, whatever update-alternatives selects, and
# OPENBLAS_NUM_THREADS=THREADS (OpenBLAS keeps its own thread pool, which torch.set_num_threads does not
# size in a torch built without OpenBLAS); sets PEER_BLAS to the library the peer then loads (ldd of
# torch._C under PEER_ENV, resolved to its file) with its kind, prints it, and warns loudly when it is not
# OpenBLAS.
OPENBLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-pthread
peer_blas() {
  PEER_ENV=(env "OPENBLAS_NUM_THREADS=$1")
  [[ -e $OPENBLAS_DIR/libblas.so.3 ]] && PEER_ENV+=("LD_LIBRARY_PATH=$OPENBLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
  local module lib kind
  module=$("${PEER_ENV[@]}" "$PYTHON" -c 'import torch._C as c; print(c.__file__)' 2>/dev/null) || module=
  lib=$([[ -n $module ]] && "${PEER_ENV[@]}" ldd "$module" | awk '$1 == "libblas.so.3" { print $3 }')
  [[ -n $lib ]] || lib=/usr/lib/x86_64-linux-gnu/libblas.so.3
  lib=$(readlink -f "$lib")
  case $lib in
    *openblas*) kind=OpenBLAS ;;
    */blas/libblas.so*) kind="reference BLAS" ;;
    *blis*) kind=BLIS ;;
    *mkl*) kind=MKL ;;
    *atlas*) kind=ATLAS ;;
    *) kind="unknown BLAS" ;;
  esac
  PEER_BLAS="$kind ($lib)"
  echo "peer BLAS: $PEER_BLAS"
  if [[ $kind != OpenBLAS ]]; then
    {
      echo "################################################################################################"
      echo "WARNING: the PyTorch peer's products run on $PEER_BLAS, not OpenBLAS."
      [[ $kind == "reference BLAS" ]] \
        && echo "WARNING: Debian's reference BLAS makes the peer about 4 times slower: every '× peer' ratio is inflated."
      echo "WARNING: install libopenblas0-pthread (launch/install-deps) and run again."
      echo "################################################################################################"
    } >&2
  fi
}
