# Shared by the end-to-end tests. Usage in a test: source common.sh "$@"  (args: mpitrain binary, repo root)
set -euo pipefail
MPITRAIN=$1
REPO=$2
source "$REPO/launch/lib.sh"  # PYTHON (unless CTest sets it)
export PYTHONPATH="$REPO/tests/python${PYTHONPATH:+:$PYTHONPATH}"  # tests/python/ckpt.py for `import ckpt`
MPIRUN_FLAGS=${MPIRUN_FLAGS:-"--oversubscribe --allow-run-as-root"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mpitrain-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FMNIST=/usr/share/datasets/fashion-mnist

# run_np N ARGS...: mpitrain under mpirun with N ranks, bounded so that a hang fails the test.
run_np() {
  local np=$1; shift
  # shellcheck disable=SC2086
  timeout -k 10 "${RUN_TIMEOUT:-300}" mpirun -np "$np" $MPIRUN_FLAGS "$MPITRAIN" "$@"
}

# json_get FILE KEY: prints a top-level value of a JSON file.
json_get() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# checksum DIR: the param_checksum of the run in $WORK/DIR.
checksum() { json_get "$WORK/$1/summary.json" param_checksum; }

# expect_code CODE COMMAND...: runs the command (stdout to $WORK/out.txt, stderr to $WORK/err.txt) and
# fails unless it exits with CODE.
expect_code() {
  local want=$1; shift
  set +e; "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"; local got=$?; set -e
  [[ $got -eq $want ]] || { cat "$WORK/err.txt"; fail "exit $got, expected $want: $*"; }
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
