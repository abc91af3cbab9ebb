#!/usr/bin/env bash
# Exact resume: k steps + resume + k steps is bit-identical to 2k steps; a stop signal mid-epoch writes a
# checkpoint and exits 75; kill -9 of a rank (also during a checkpoint write) leaves the previous
# checkpoint readable and resuming from it gives the uninterrupted result; resuming at another world
# size continues the same trajectory within float tolerance (5e-5 relative); corrupt and truncated checkpoints are
# clear errors (auto skips them); checkpoint.keep keeps the newest N.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=90
cfg="$REPO/configs/fashion_mnist.ini"
common=(--train.max_steps=24 --train.global_batch_size=96 --log.progress=false --train.log_every=4)
train() { local np=$1 dir=$2; shift 2; run_np "$np" train --config "$cfg" "${common[@]}" --checkpoint.dir="$WORK/$dir" "$@"; }

train 2 ref > /dev/null 2>&1 || fail "reference run"
ref=$(checksum ref)
echo "reference (2 ranks, 24 steps): $ref"

# k + k at the same world size: bit-identical.
train 2 split --train.max_steps=12 > /dev/null 2>&1 || fail "first half"
train 2 split --checkpoint.resume=auto > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "second half"; }
grep -q "resumed from .*checkpoint-00000012.h5" "$WORK/log" || fail "did not resume from step 12"
[[ $(checksum split) == "$ref" ]] || fail "12 + 12 steps differ from 24: $(checksum split) vs $ref"
echo "ok: 12 + 12 steps == 24 steps"

# A fresh run never overwrites a run directory that holds checkpoints.
expect_code 1 train 2 split
grep -q "already holds checkpoints" "$WORK/err.txt" || fail "no refusal to overwrite"

# SIGTERM on rank 1 mid-epoch (injected at step 9): checkpoint at step 10, exit 75 on all; resume -> ref.
MPITRAIN_FAULT=sigterm@1:9 expect_code 75 train 2 term
[[ -f "$WORK/term/checkpoint-00000010.h5" ]] || fail "no checkpoint after SIGTERM"
grep -q "stopped by a signal after step 10" "$WORK/err.txt" || fail "no stop message"
train 2 term --checkpoint.resume=auto > /dev/null 2>&1 || fail "resume after SIGTERM"
[[ $(checksum term) == "$ref" ]] || fail "resume after SIGTERM differs"
echo "ok: SIGTERM mid-epoch, checkpoint, exit 75, resume == reference"

# A real SIGUSR1 sent to mpirun (as SLURM does) while training: mpirun forwards it to the ranks.
set +e
train 2 usr1 --train.max_steps=100000 --train.epochs=3 > "$WORK/out.txt" 2> "$WORK/err.txt" &
pid=$!
for _ in $(seq 1 100); do grep -q "step 8/" "$WORK/err.txt" 2>/dev/null && break; sleep 0.2; done
mpirun_pid=""
for p in $(pgrep -x mpirun); do grep -q "$WORK/usr1" "/proc/$p/cmdline" 2> /dev/null && mpirun_pid=$p; done
[[ -n $mpirun_pid ]] || fail "mpirun not found"
kill -USR1 "$mpirun_pid"
wait "$pid"; got=$?
set -e
[[ $got -eq 75 ]] || { cat "$WORK/err.txt"; fail "SIGUSR1 to mpirun: exit $got, expected 75"; }
ls "$WORK/usr1"/checkpoint-*.h5 > /dev/null || fail "no checkpoint after SIGUSR1"
echo "ok: SIGUSR1 to mpirun -> checkpoint, exit 75"

# SIGTERM to mpirun: it forwards the signal, the ranks write a checkpoint and exit 75 (mpirun itself then
# reports 1, Open MPI's code for a job it was told to terminate).
set +e
train 2 term2 --train.max_steps=100000 --train.epochs=3 > "$WORK/out.txt" 2> "$WORK/err.txt" &
pid=$!
for _ in $(seq 1 100); do grep -q "step 8/" "$WORK/err.txt" 2>/dev/null && break; sleep 0.2; done
for p in $(pgrep -x mpirun); do grep -q "$WORK/term2" "/proc/$p/cmdline" 2> /dev/null && kill -TERM "$p"; done
wait "$pid"; got=$?
set -e
[[ $got -ne 0 ]] || fail "SIGTERM to mpirun: exit 0"
grep -q "stopped by a signal after step" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "SIGTERM to mpirun: no checkpoint message"; }
ls "$WORK/term2"/checkpoint-*.h5 > /dev/null || fail "no checkpoint after SIGTERM to mpirun"
echo "ok: SIGTERM to mpirun -> checkpoint"

# kill -9 of rank 1 at step 14, checkpoints every 5 steps: resume from step 10 -> ref.
set +e; MPITRAIN_FAULT=kill@1:14 train 2 kill9 --checkpoint.every_steps=5 > "$WORK/out.txt" 2> "$WORK/err.txt"; got=$?; set -e
[[ $got -ne 0 && $got -ne 124 ]] || { cat "$WORK/err.txt"; fail "kill -9 of rank 1: exit $got"; }
train 2 kill9 --checkpoint.every_steps=5 --checkpoint.resume=auto > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "resume after kill -9"; }
grep -q "resumed from .*checkpoint-00000010.h5" "$WORK/log" || fail "did not resume from step 10"
[[ $(checksum kill9) == "$ref" ]] || fail "resume after kill -9 differs"
echo "ok: kill -9 mid-run, resume == reference"

# kill -9 during the checkpoint write at step 10: step 5's checkpoint is intact and used.
set +e; MPITRAIN_FAULT=kill_in_checkpoint@0:10 train 2 kwrite --checkpoint.every_steps=5 > /dev/null 2>&1; set -e
# The temporary (named by its writer: <file>.<host>-<pid>-<n>.tmp) is complete, the rename never happened.
ls "$WORK/kwrite"/checkpoint-00000010.h5.*.tmp > /dev/null 2>&1 && [[ ! -f "$WORK/kwrite/checkpoint-00000010.h5" ]] \
  || { ls "$WORK/kwrite"; fail "kill during write: unexpected files"; }
train 2 kwrite --checkpoint.every_steps=5 --checkpoint.resume=auto > "$WORK/log" 2>&1 || fail "resume after kill in write"
grep -q "resumed from .*checkpoint-00000005.h5" "$WORK/log" || fail "did not resume from step 5"
[[ $(checksum kwrite) == "$ref" ]] || fail "resume after kill during write differs"
echo "ok: kill -9 during a checkpoint write, previous checkpoint intact, resume == reference"

# Another world size: 12 steps on 2 ranks, 12 more on 3 ranks, against 24 on 2 ranks, within 1e-5.
train 2 ws --train.max_steps=12 > /dev/null 2>&1 || fail "first half at 2 ranks"
train 3 ws --checkpoint.resume=auto > /dev/null 2>&1 || fail "second half at 3 ranks"
"$PYTHON" - "$WORK" <<'PY' || fail "resume at another world size left the trajectory"
import sys, numpy as np, ckpt
a, b = (ckpt.final_parameters(f"{sys.argv[1]}/{run}") for run in ("ref", "ws"))
rel = np.abs(a - b).max() / np.abs(a).max()
print(f"2 ranks then 3 ranks vs 2 ranks: max |diff| / max |param| = {rel:.2e}")
assert rel <= 5e-5  # 24 Adam steps, two world sizes: float rounding of the sums
PY
echo "ok: resume at another world size"
# Per-rank batch at another world size changes the global batch: a clear error with the fix.
train 2 wsb --train.global_batch_size=0 --train.batch_size=48 --train.max_steps=6 > /dev/null 2>&1 || fail "wsb"
expect_code 1 train 3 wsb --train.global_batch_size=0 --train.batch_size=48 --checkpoint.resume=auto
grep -q "train.effective_global_batch = 96 in the checkpoint, 144 now" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no trajectory message"; }

# Corrupt and truncated checkpoints: a clear error for a path; auto falls back to the newest valid.
cp -r "$WORK/kill9" "$WORK/bad"
newest=$(ls "$WORK/bad"/checkpoint-*.h5 | tail -1)
head -c 5000 "$newest" > "$WORK/truncated.h5"
expect_code 1 train 2 bad --checkpoint.resume="$WORK/truncated.h5"
grep -q "truncated.h5: not a readable HDF5 checkpoint" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "truncated message"; }
"$PYTHON" - "$newest" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    k = f["dense_1"]["dense_1"]["kernel:0"]; v = k[...]; v[0, 0] += 1.0; k[...] = v
PY
expect_code 1 train 2 bad --checkpoint.resume="$newest"
grep -q "parameter checksum mismatch" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "corrupt message"; }
rm -f "$WORK/bad/summary.json"
train 2 bad --checkpoint.resume=auto --train.max_steps=30 > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "auto with a corrupt newest"; }
grep -q "skipping invalid checkpoint.*$(basename "$newest")" "$WORK/log" || fail "corrupt newest not skipped"
echo "ok: corrupt and truncated checkpoints"

# checkpoint.keep = 2: only the two newest remain.
train 2 keep --checkpoint.every_steps=4 --checkpoint.keep=2 > /dev/null 2>&1 || fail "keep run"
[[ $(ls "$WORK/keep"/checkpoint-*.h5 | wc -l) -eq 2 && -f "$WORK/keep/checkpoint-00000024.h5" ]] \
  || { ls "$WORK/keep"; fail "checkpoint.keep"; }
echo "ok: checkpoint.keep"
pass "resume"
