#!/usr/bin/env bash
# Failures visible, metrics honest (issue 10, items 6 and 11), on a small CSV (640 rows, 20 steps per epoch):
# - a diverged run (learning rate 1e30, train.nonfinite = skip) stops after train.max_skipped_steps
#   consecutive skipped steps (exit 1); without a limit it finishes, and an epoch or interval with no
#   applied step reports null loss and accuracy and its skipped steps, never zeros;
# - a run stopped by train.max_steps mid-epoch logs the epoch as partial, writes its last checkpoint once,
#   and resumed reports the same epoch records and final_train_loss as the uninterrupted run; so does a
#   run stopped by a signal mid-epoch and one stopped by a signal at the last step of an epoch;
# - a global batch larger than the data set and duplicate feature names get a warning.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=60
"$PYTHON" - "$WORK/train.csv" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(7)
x = rng.normal(size=(640, 12)).round(4)
y = (x @ rng.normal(size=(12, 3))).argmax(1)
with open(sys.argv[1], "w") as f:
    f.write("label," + ",".join(f"f{i}" for i in range(12)) + "\n")
    for label, row in zip(y, x):
        f.write(f"{label}," + ",".join(map(str, row)) + "\n")
PY
cat > "$WORK/small.ini" <<EOF
[data]
format = csv
train_csv = $WORK/train.csv
scaling = none
[model]
hidden = 16
classes = 3
[train]
epochs = 2
global_batch_size = 32
log_every = 5
[checkpoint]
every_epochs = 1
[log]
progress = false
EOF
train() { local np=$1 dir=$2; shift 2; run_np "$np" train --config "$WORK/small.ini" --checkpoint.dir="$WORK/$dir" "$@"; }

# same_metrics REF RUN: the complete epoch records of RUN's metrics.jsonl (all its sessions) and its
# final_train_loss and final_train_accuracy equal REF's (to 1e-12 relative: the resumed sums are added
# in another order).
same_metrics() {
  "$PYTHON" - "$WORK/$1" "$WORK/$2" <<'PY'
import json, math, sys
def epochs(run):
    return [r for r in map(json.loads, open(f"{run}/metrics.jsonl")) if r["kind"] == "epoch" and r["complete"]]
def close(a, b):
    return a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12))
ref, run = epochs(sys.argv[1]), epochs(sys.argv[2])
assert len(ref) == len(run) == 2, f"epoch records: {len(ref)} in the reference, {len(run)} after the resume"
for a, b in zip(ref, run):
    for key in ("epoch", "step", "steps_applied", "steps_skipped", "skipped_steps"):
        assert a[key] == b[key], f"epoch {a['epoch']}: {key} {a[key]} vs {b[key]}"
    for key in ("loss", "accuracy"):
        assert close(a[key], b[key]), f"epoch {a['epoch']}: {key} {a[key]!r} vs {b[key]!r}"
s, t = (json.load(open(f"{r}/summary.json")) for r in sys.argv[1:])
for key in ("final_train_loss", "final_train_accuracy", "param_checksum", "skipped_steps"):
    assert close(s[key], t[key]) if key.startswith("final") else s[key] == t[key], f"{key}: {s[key]} vs {t[key]}"
print(f"same epoch records and final_train_loss {t['final_train_loss']:.10f}")
PY
}

train 2 ref > /dev/null 2>&1 || fail "reference run"
[[ $(json_get "$WORK/ref/summary.json" steps) -eq 40 ]] || fail "the reference is not 2 epochs of 20 steps"

# max_steps mid-epoch, with a checkpoint every 7 steps: the final checkpoint (step 7) is written once, the
# epoch is logged as partial; the resumed run reports what the reference reported.
train 2 split --train.max_steps=7 --checkpoint.every_steps=7 > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "first part"; }
[[ $(grep -c "checkpoint written: .*checkpoint-00000007.h5" "$WORK/log") -eq 1 ]] \
  || { grep "checkpoint written" "$WORK/log"; fail "the checkpoint of step 7 is not written exactly once"; }
grep -q "epoch 1/2 stopped after step 7 of 20 (partial)" "$WORK/log" || { cat "$WORK/log"; fail "no partial epoch line"; }
! grep -q "epoch 1/2 done" "$WORK/log" || fail "a max_steps stop logs the partial epoch as done"
train 2 split --checkpoint.every_steps=7 --checkpoint.resume=auto > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "resume"; }
same_metrics ref split || fail "resumed after max_steps: metrics differ from the uninterrupted run"
echo "ok: max_steps mid-epoch: partial epoch, one checkpoint, resumed metrics == uninterrupted"

# A stop signal mid-epoch (step 12 of 20), at 3 ranks, then a resume.
MPITRAIN_FAULT=sigterm@1:11 expect_code 75 train 3 mid
train 3 mid --checkpoint.resume=auto > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "resume after a signal mid-epoch"; }
train 3 ref3 > /dev/null 2>&1 || fail "reference at 3 ranks"
same_metrics ref3 mid || fail "resumed after a signal mid-epoch: metrics differ"
# A stop signal at the last step of epoch 1 (global step 20): the epoch is reported before the stop.
MPITRAIN_FAULT=sigterm@0:19 expect_code 75 train 3 edge
grep -q "epoch 1/2 done" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "the epoch ended by a signal was not reported"; }
train 3 edge --checkpoint.resume=auto > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "resume after a signal at an epoch's end"; }
same_metrics ref3 edge || fail "resumed after a signal at the end of an epoch: metrics differ"
echo "ok: signals mid-epoch and at an epoch's last step: resumed metrics == uninterrupted"

# A diverged run: step 0 applies a learning rate of 1e30, every later step is non-finite.
expect_code 1 train 2 diverged --optim.learning_rate=1e30 --train.nonfinite=skip --train.max_skipped_steps=4
grep -q "4 consecutive steps skipped for non-finite values (steps 1 to 4; train.max_skipped_steps = 4): the run has diverged" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "no stop after 4 consecutive skipped steps"; }
[[ ! -e $WORK/diverged/summary.json ]] || fail "a diverged run wrote a summary as if it had finished"
train 2 nolimit --optim.learning_rate=1e30 --train.nonfinite=skip --train.max_skipped_steps=0 > "$WORK/log" 2>&1 \
  || { cat "$WORK/log"; fail "no limit: the run did not finish"; }
grep -q "epoch 2/2 done: train loss n/a accuracy n/a, 20 of 20 steps skipped" "$WORK/log" || { cat "$WORK/log"; fail "epoch line"; }
"$PYTHON" - "$WORK/nolimit" <<'PY' || fail "null metrics"
import json, sys
records = [json.loads(l) for l in open(f"{sys.argv[1]}/metrics.jsonl")]
epochs = [r for r in records if r["kind"] == "epoch"]
assert [(e["steps_applied"], e["steps_skipped"]) for e in epochs] == [(1, 19), (0, 20)], epochs
assert epochs[0]["loss"] is not None and epochs[1]["loss"] is None and epochs[1]["accuracy"] is None, epochs
intervals = [r for r in records if r["kind"] == "interval"]
assert all(r["loss"] is None and r["accuracy"] is None and r["steps_skipped"] == 5 for r in intervals[1:]), intervals
summary = json.load(open(f"{sys.argv[1]}/summary.json"))
assert summary["final_train_loss"] is None and summary["skipped_steps"] == 39, summary
print("nulls where no step was applied, skipped counts per epoch and interval")
PY
echo "ok: diverged runs: stopped after train.max_skipped_steps, null metrics without a limit"
# Warnings for what is legal but likely a mistake: a global batch larger than the data set, feature columns
# sharing a header name.
sed '1s/f3,f4/f3,f3/' "$WORK/train.csv" > "$WORK/dup.csv"
train 2 warn --data.train_csv="$WORK/dup.csv" --train.global_batch_size=1000 --train.max_steps=2 > "$WORK/log" 2>&1 \
  || { cat "$WORK/log"; fail "warnings run"; }
grep -q "the global batch (1000) is larger than the training set (640 samples)" "$WORK/log" \
  || { cat "$WORK/log"; fail "no warning for a batch larger than the data set"; }
grep -q "dup.csv: feature columns share a header name: 'f3' (columns 5, 6)" "$WORK/log" \
  || { cat "$WORK/log"; fail "no warning for duplicate feature names"; }
[[ $(grep -c "share a header name" "$WORK/log") -eq 1 ]] || fail "the duplicate-name warning is not printed once"
echo "ok: warnings for a batch larger than the data and for duplicate feature names"
pass "failures visible, metrics honest"
