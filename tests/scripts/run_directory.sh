#!/usr/bin/env bash
# Run directories that cannot be corrupted (issue 10, items 1-5 and two smaller ones), on a small CSV:
# one run per run directory (a lock naming its holder, never stale after kill -9); a resume from a named
# file refused in another run's directory; pruning only of the current lineage, an abandoned branch only
# with checkpoint.prune_newer; an I/O error on a checkpoint stops resume=auto instead of skipping it;
# predict and evaluate never overwrite their inputs; checkpoint.dir naming a file; a full disk (a file-size
# limit, ulimit -f) leaves no temporary file and names the errno.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=60
unset HDF5_USE_FILE_LOCKING  # HDF5's own locks, as by default

"$PYTHON" - "$WORK" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(7)
for name, n in (("train", 400), ("test", 100)):
    x = rng.normal(size=(n, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    with open(f"{sys.argv[1]}/{name}.csv", "w") as f:
        f.write("label," + ",".join(f"f{i}" for i in range(6)) + "\n")
        for yi, xi in zip(y, x):
            f.write(f"{yi}," + ",".join(f"{v:.5f}" for v in xi) + "\n")
PY
cat > "$WORK/small.ini" <<EOF
[data]
format = csv
train_csv = $WORK/train.csv
test_csv = $WORK/test.csv
csv_header = true
label_column = label
scaling = standardize
[model]
hidden = 8
classes = 3
[optim]
learning_rate = 0.01
[train]
epochs = 2
global_batch_size = 32
log_every = 5
[checkpoint]
every_epochs = 0
[log]
progress = false
EOF
# 13 steps per epoch; checkpoints only where a test asks for them.
train() { local np=$1 dir=$2; shift 2; run_np "$np" train --config "$WORK/small.ini" --checkpoint.dir="$WORK/$dir" "$@"; }
names() { (cd "$WORK/$1" && ls checkpoint-*.h5 | tr '\n' ' '); }
no_temporaries() { ! ls "$WORK/$1" | grep -q '\.tmp$' || { ls "$WORK/$1"; fail "$1: temporary files left"; }; }

# --- 1. One run per run directory --------------------------------------------------------------------
set +e
train 2 busy --train.epochs=1000000 > "$WORK/a.out" 2> "$WORK/a.err" &
first=$!
for _ in $(seq 1 300); do grep -q "training:" "$WORK/a.err" 2> /dev/null && break; sleep 0.1; done
set -e
grep -q "training:" "$WORK/a.err" || { cat "$WORK/a.err"; fail "first run did not start"; }
expect_code 1 train 2 busy
grep -qE "run directory .*/busy is in use by another run \(host [^ ]+ pid [0-9]+ started [0-9T:+-]+," "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "second run: no refusal naming the holder"; }
expect_code 1 train 2 busy --checkpoint.resume=auto
grep -q "is in use by another run" "$WORK/err.txt" || fail "second run with resume=auto not refused"
[[ $(grep -c "mpitrain train: config" "$WORK/busy/train.log") -eq 1 ]] || fail "a refused run wrote to train.log"
holder=$(cat "$WORK/busy/run.lock")
for p in $(pgrep -x mpirun); do grep -q "$WORK/busy" "/proc/$p/cmdline" 2> /dev/null && kill -USR1 "$p"; done
set +e; wait "$first"; got=$?; set -e
[[ $got -eq 75 ]] || { cat "$WORK/a.err"; fail "first run: exit $got after SIGUSR1, expected 75"; }
train 2 busy --checkpoint.resume=auto --train.max_steps=1 > /dev/null 2> "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "the lock outlived its run"; }
[[ $(cat "$WORK/busy/run.lock") != "$holder" ]] || fail "run.lock still names the first run"
echo "ok: a second run into a busy run directory is refused naming the holder ($holder)"

# kill -9 of rank 0: the kernel releases the lock; the next run is accepted.
set +e; MPITRAIN_FAULT=kill@0:6 train 2 killed --checkpoint.every_steps=4 > /dev/null 2>&1; got=$?; set -e
[[ $got -ne 0 && $got -ne 124 ]] || fail "kill -9 of rank 0: exit $got"
train 2 killed --checkpoint.every_steps=4 --checkpoint.resume=auto > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "run after kill -9"; }
grep -q "resumed from .*checkpoint-00000004.h5" "$WORK/log" || fail "did not resume after kill -9"
echo "ok: no stale lock after kill -9"

# --- 2. A resume from a named file obeys the rules of a fresh run -----------------------------------------
train 2 x --train.max_steps=10 > /dev/null 2>&1 || fail "run x"
train 2 y --train.max_steps=6 --checkpoint.every_steps=3 > /dev/null 2>&1 || fail "run y"
before=$(cd "$WORK/y" && md5sum config.ini checkpoint-*.h5)
expect_code 1 train 2 y --checkpoint.resume="$WORK/x/checkpoint-00000010.h5" --checkpoint.keep=1 --train.max_steps=20
grep -q "run directory .*/y holds checkpoints of another run (checkpoint-00000003.h5, checkpoint-00000006.h5)" \
  "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no refusal of another run's directory"; }
[[ $(cd "$WORK/y" && md5sum config.ini checkpoint-*.h5) == "$before" ]] || fail "the refused resume changed y"
# The same run's checkpoint continues in a directory of its own.
train 2 x2 --checkpoint.resume="$WORK/x/checkpoint-00000010.h5" --train.max_steps=12 > /dev/null 2>&1 \
  || fail "resume of x into a new directory"
echo "ok: a resume from a file into another run's directory is refused, nothing changed"

# --- 3. Pruning: the current lineage only; newer checkpoints only with checkpoint.prune_newer --------------
train 2 branch --train.max_steps=24 --checkpoint.every_steps=6 > /dev/null 2>&1 || fail "branch: first run"
[[ $(names branch) == "checkpoint-00000006.h5 checkpoint-00000012.h5 checkpoint-00000018.h5 checkpoint-00000024.h5 " ]] \
  || fail "branch: unexpected checkpoints $(names branch)"
before=$(cd "$WORK/branch" && md5sum config.ini checkpoint-*.h5)
resume12=(--checkpoint.resume="$WORK/branch/checkpoint-00000012.h5" --checkpoint.keep=2 --checkpoint.every_steps=4
          --train.max_steps=20)
expect_code 1 train 2 branch "${resume12[@]}"
grep -q "holds checkpoints of this run newer than .*checkpoint-00000012.h5 (step 12): checkpoint-00000018.h5, checkpoint-00000024.h5" \
  "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no refusal of a branch beside newer checkpoints"; }
grep -q -- "--checkpoint.prune_newer=true" "$WORK/err.txt" || fail "the refusal does not name checkpoint.prune_newer"
[[ $(cd "$WORK/branch" && md5sum config.ini checkpoint-*.h5) == "$before" ]] || fail "the refused branch changed files"
train 2 branch "${resume12[@]}" --checkpoint.prune_newer=true > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "branch with prune_newer"; }
# Steps 16 and 20 are written; keep = 2 of the lineage (6, 12, 16, 20) leaves 16 and 20; 18 and 24 go as newer.
[[ $(names branch) == "checkpoint-00000016.h5 checkpoint-00000020.h5 " ]] || fail "after the branch: $(names branch)"
for s in 18 24; do
  grep -q "removed checkpoint .*checkpoint-000000$s.h5: newer than the resume point" "$WORK/log" || fail "removal of $s not logged"
done
for s in 06 12; do
  grep -q "removed checkpoint .*checkpoint-000000$s.h5: older than the newest checkpoint.keep" "$WORK/log" || fail "removal of $s not logged"
done
[[ $(json_get "$WORK/branch/summary.json" checkpoint) == checkpoint-00000020.h5 ]] || fail "summary.json names another checkpoint"
# The branch continues the trajectory: 12 steps, then 8 more from the checkpoint, equal 20 uninterrupted steps.
train 2 straight --train.max_steps=20 > /dev/null 2>&1 || fail "straight run"
[[ $(checksum branch) == $(checksum straight) ]] || fail "branch from step 12 differs from 20 straight steps"
echo "ok: branch refused beside newer checkpoints; with prune_newer they go, each removal logged"

# --- 4. An I/O error is not an invalid checkpoint --------------------------------------------------------
train 2 locked --train.max_steps=12 --checkpoint.every_steps=6 > /dev/null 2>&1 || fail "locked: first run"
before=$(cd "$WORK/locked" && md5sum checkpoint-*.h5)
# Another process holds checkpoint 12 as HDF5 does a file open for writing (an exclusive flock).
set +e
flock -x "$WORK/locked/checkpoint-00000012.h5" \
  timeout -k 10 60 mpirun -np 2 $MPIRUN_FLAGS "$MPITRAIN" train --config "$WORK/small.ini" --checkpoint.dir="$WORK/locked" \
  --checkpoint.resume=auto --train.max_steps=18 > "$WORK/out.txt" 2> "$WORK/err.txt"
got=$?
set -e
[[ $got -eq 1 ]] || { cat "$WORK/err.txt"; fail "resume=auto with a locked checkpoint: exit $got, expected 1"; }
grep -q "checkpoint .*checkpoint-00000012.h5: cannot open it (unable to lock file, errno = 11" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "no message naming the file and errno 11"; }
grep -q "skipping invalid checkpoint" "$WORK/err.txt" && fail "a locked checkpoint was skipped as invalid"
[[ $(cd "$WORK/locked" && md5sum checkpoint-*.h5) == "$before" ]] || fail "checkpoints changed after the I/O error"
echo "ok: resume=auto stops on a checkpoint it cannot open (errno 11), nothing skipped or changed"

# --- 5. Outputs never overwrite inputs ---------------------------------------------------------------------
ckpt="$WORK/locked/checkpoint-00000012.h5"
data_before=$(md5sum < "$WORK/test.csv")
expect_code 2 run_np 2 predict --checkpoint "$ckpt" --input "$WORK/test.csv" --output "$ckpt"
grep -q "predict: --output .* is the same file as --checkpoint" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "predict over its checkpoint"; }
ln "$WORK/test.csv" "$WORK/hardlink.csv"
expect_code 2 run_np 2 predict --checkpoint "$ckpt" --input "$WORK/test.csv" --output "$WORK/hardlink.csv"
grep -q "is the same file as --input" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "predict over its input (hard link)"; }
expect_code 2 run_np 2 evaluate --checkpoint "$ckpt" --data "$WORK/test.csv" --output "$WORK/test.csv"
grep -q "evaluate: --output .* is the same file as --data" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "evaluate over its data"; }
[[ $(cd "$WORK/locked" && md5sum checkpoint-*.h5) == "$before" ]] || fail "a refused command changed the checkpoint"
[[ $(md5sum < "$WORK/test.csv") == "$data_before" ]] || fail "a refused command changed test.csv"
run_np 2 predict --checkpoint "$ckpt" --input "$WORK/test.csv" --output "$WORK/p.csv" > /dev/null 2>&1 || fail "predict"
[[ $(wc -l < "$WORK/p.csv") -eq 101 ]] || fail "predict: expected a header and 100 rows"
echo "ok: predict and evaluate refuse an output that is their checkpoint or input"

# --- Smaller things: checkpoint.dir naming a file; a full disk --------------------------------------------
touch "$WORK/a_file"
expect_code 2 train 2 a_file
grep -q "config key checkpoint.dir = .*a_file: is an existing file, not a directory" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "checkpoint.dir naming a file"; }

# A full disk, simulated by a file-size limit in the ranks only (mpirun's own shared memory needs more):
# write() beyond it fails with EFBIG. Shared memory between the ranks is off (TCP) for the same reason.
limited() {
  local kib=$1; shift
  # shellcheck disable=SC2086
  timeout -k 10 60 mpirun -np 2 $MPIRUN_FLAGS --mca btl self,tcp --mca gds hash \
    bash -c "ulimit -f $kib; exec \"\$@\"" limited "$MPITRAIN" "$@"
}
expect_code 1 limited 1 predict --checkpoint "$ckpt" --input "$WORK/test.csv" --output "$WORK/full.csv"
grep -q "cannot write .*full.csv .*File too large (errno 27)" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "predict: no errno"; }
ls "$WORK" | grep -q '^full\.csv' && fail "predict on a full disk left $(ls "$WORK" | grep '^full\.csv')"
# summary.json (2.7 KB) beyond a 2 KiB limit, in a finished run that writes no checkpoint: the old
# summary.json stays whole and no temporary is left.
cp -r "$WORK/x2" "$WORK/full"
cp "$WORK/full/summary.json" "$WORK/summary.before"
set +e; limited 2 train --config "$WORK/small.ini" --checkpoint.dir="$WORK/full" --checkpoint.resume=auto \
  --train.max_steps=12 > "$WORK/out.txt" 2> "$WORK/err.txt"; got=$?; set -e
[[ $got -ne 0 ]] || fail "summary.json on a full disk: exit 0"
grep -q "cannot write .*full/summary.json .*File too large (errno 27)" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "summary.json: no errno"; }
no_temporaries full
cmp -s "$WORK/full/summary.json" "$WORK/summary.before" || fail "the old summary.json was damaged"
echo "ok: checkpoint.dir naming a file; a full disk names the errno and leaves no temporary"
pass "run directories"
