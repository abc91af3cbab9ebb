#!/usr/bin/env bash
# Coordinated failure: an exception, an abort or a hang on one rank, or a NaN on one rank, brings every
# rank down promptly with the failing rank and the cause in the log, and leaves no process behind.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=60
cfg="$REPO/configs/fashion_mnist.ini"
common=(--train.max_steps=30 --train.global_batch_size=96 --log.progress=false --train.log_every=5)

# fault NP FAULT EXPECTED_CODE PATTERN MAX_SECONDS [overrides...]: MAX_SECONDS bounds the time from the
# first line matching PATTERN (the failure appears in the log) to the end of every process.
fault() {
  local np=$1 spec=$2 code=$3 pattern=$4 limit=$5; shift 5
  local dir="$WORK/run_${spec//[@:,]/_}_$np"
  : > "$WORK/err.txt"
  set +e
  MPITRAIN_FAULT=$spec run_np "$np" train --config "$cfg" "${common[@]}" --checkpoint.dir="$dir" "$@" \
    > "$WORK/out.txt" 2> "$WORK/err.txt" &
  local pid=$! seen=""
  while kill -0 "$pid" 2> /dev/null; do
    if [[ -z $seen ]] && grep -qE -- "$pattern" "$WORK/err.txt"; then seen=$(date +%s.%N); fi
    sleep 0.1
  done
  wait "$pid"
  local got=$?
  set -e
  [[ -n $seen ]] || seen=$(date +%s.%N)
  local took
  took=$(awk -v a="$seen" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  [[ $got -ne 124 && $got -ne 137 ]] || fail "hang: $spec on $np ranks"
  if [[ $code == nonzero ]]; then
    [[ $got -ne 0 ]] || { cat "$WORK/err.txt"; fail "$spec on $np ranks exited 0"; }
  else
    [[ $got -eq $code ]] || { cat "$WORK/err.txt"; fail "$spec on $np ranks: exit $got, expected $code"; }
  fi
  grep -qE -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "$spec: no '$pattern' in the log"; }
  awk -v t="$took" -v l="$limit" 'BEGIN { exit !(t <= l) }' || fail "$spec on $np ranks: down $took s after the failure (limit $limit s)"
  if pgrep -f -- "--checkpoint.dir=$dir" > /dev/null; then fail "$spec: processes left running"; fi
  echo "ok: $spec on $np ranks -> exit $got, all down ${took}s after: $(grep -m1 -E -- "$pattern" "$WORK/err.txt" | cut -c1-160)"
}

# An exception on a non-zero rank: the job is aborted; the log names the rank and the cause.
fault 3 throw@1:5 nonzero "rank 1.*injected fault.*step 5" 10
fault 2 throw@1:5 nonzero "rank 1.*injected fault.*step 5" 10
# abort() on rank 2 of 3.
fault 3 abort@2:5 nonzero "rank 2|signal 6|Aborted" 10
# A rank that hangs at the start of a step: every watchdog fires, naming the rank and phase (the
# hanging rank in data gathering, the others waiting in the gradient allreduce).
fault 2 hang@1:5 nonzero "watchdog: rank 1 stuck in data gathering at step 5" 10 --train.watchdog_seconds=3
# A NaN on one rank, nonfinite = stop: every rank stops alike, exit 1, naming step and rank; the
# checkpoint written before stays readable.
fault 3 nan@2:7 1 "non-finite loss or gradient at step 7 \(rank 2\).*checkpoint-00000005.h5" 10 \
  --checkpoint.every_steps=5
"$PYTHON" -c 'import h5py,sys; h5py.File(sys.argv[1])["mpitrain"].attrs["global_step"]' \
  "$WORK/run_nan_2_7_3/checkpoint-00000005.h5" || fail "the checkpoint before the NaN is unreadable"
# nonfinite = skip: all ranks skip that step and finish; the skipped step is counted.
fault 2 nan@0:7 0 "non-finite loss or gradient at step 7 \(rank 0\).*skipped" 30 --train.nonfinite=skip
[[ $(json_get "$WORK/run_nan_0_7_2/summary.json" skipped_steps) == 1 ]] || fail "skipped_steps is not 1"
# A replica that drifts: the periodic hash comparison stops the job naming the step.
fault 2 desync@1:3 1 "replicas diverged.*step 5" 10 --train.check_replicas_every=5
pass "coordinated failure"
