#!/usr/bin/env bash
# Stop signals from the first instant and suspended jobs (issue 10, items 9 and 10):
# - SIGTERM to one rank while the data is loading (before the first step): every rank exits 75, rank 0 says
#   that nothing needed saving, and the run directory holds no checkpoint and no config.ini;
# - a job whose ranks are stopped (kill -STOP, as scontrol suspend does) for longer than
#   train.watchdog_seconds and then continued finishes normally instead of being ended by the watchdog.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=90
cfg="$REPO/configs/fashion_mnist.ini"
common=(--train.global_batch_size=96 --log.progress=false --train.log_every=10)

# rank_pids DIR: the pids of the ranks of the run writing into DIR (not mpirun's, not timeout's).
rank_pids() { pgrep -f -- "^$MPITRAIN train .*--checkpoint.dir=$1" || true; }

# A signal before the first step. The ranks are stopped as soon as rank 0 has logged its run directory
# (the handlers are installed, the data not yet loaded: that takes seconds), one of them gets SIGTERM,
# and both continue: the signal is then handled during the loading, whatever the machine's speed.
dir="$WORK/early"
set +e
run_np 2 train --config "$cfg" "${common[@]}" --checkpoint.dir="$dir" > "$WORK/out.txt" 2> "$WORK/err.txt" &
pid=$!
for _ in $(seq 3000); do grep -q "mpitrain train: config" "$WORK/err.txt" 2> /dev/null && break; sleep 0.01; done
pids=$(rank_pids "$dir")
[[ $(wc -w <<< "$pids") -eq 2 ]] || { cat "$WORK/err.txt"; fail "early stop: expected 2 ranks, found: $pids"; }
kill -STOP $pids
grep -q "training:" "$WORK/err.txt" && fail "early stop: the ranks were past the data loading before they were stopped"
kill -TERM "$(tail -1 <<< "$pids")"
kill -CONT $pids
wait "$pid"; got=$?
set -e
[[ $got -eq 75 ]] || { cat "$WORK/err.txt"; fail "SIGTERM during loading: exit $got, expected 75"; }
grep -q "stopped by SIGTERM before the first step: nothing needed saving" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "SIGTERM during loading: no 'nothing needed saving' message"; }
[[ $(grep -c "nothing needed saving" "$WORK/err.txt") -eq 1 ]] || fail "the message is not printed once (rank 0)"
! ls "$dir"/checkpoint-*.h5 > /dev/null 2>&1 || fail "a checkpoint was written although no step was trained"
[[ ! -e $dir/config.ini ]] || fail "config.ini was written by a run that never started training"
echo "ok: SIGTERM to one rank during loading -> exit 75 on every rank, nothing written"

# A suspended job is not a hung one: stopped for 6 s, twice the 3 s watchdog limit, in the middle of training.
dir="$WORK/suspended"
set +e
run_np 2 train --config "$cfg" "${common[@]}" --checkpoint.dir="$dir" --train.max_steps=3000 \
  --train.watchdog_seconds=3 > "$WORK/out.txt" 2> "$WORK/err.txt" &
pid=$!
for _ in $(seq 600); do grep -q "step 20/" "$WORK/err.txt" 2> /dev/null && break; sleep 0.05; done
pids=$(rank_pids "$dir")
[[ $(wc -w <<< "$pids") -eq 2 ]] || { cat "$WORK/err.txt"; fail "suspend: expected 2 ranks, found: $pids"; }
grep -q "step 3000/" "$WORK/err.txt" && fail "suspend: the run was over before it could be stopped"
kill -STOP $pids
sleep 6
kill -CONT $pids
wait "$pid"; got=$?
set -e
[[ $got -eq 0 ]] || { cat "$WORK/err.txt"; fail "a job stopped for 6 s (watchdog 3 s) and continued: exit $got, expected 0"; }
[[ $(json_get "$dir/summary.json" steps) -eq 3000 ]] || fail "the continued run did not finish its 3000 steps"
! grep -q "watchdog" "$WORK/err.txt" || fail "the watchdog spoke up after a suspension"
echo "ok: ranks stopped for 6 s (watchdog 3 s) and continued -> the run finishes"
pass "stop signals from the first instant, suspension"
