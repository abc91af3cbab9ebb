#!/usr/bin/env bash
# The optimizer stage end to end: adamw with weight_decay 0 is adam bit for bit; metrics.jsonl's learning_rate
# follows the warmup_cosine formula (computed here in Python) step by step; 6 + 6 steps resumed equal 12
# uninterrupted steps under a schedule and decoupled decay (the rate depends on the global step only), and
# a resume with another schedule is refused; a schedule key without its schedule is a configuration error
# naming the key.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=120
cfg="$REPO/configs/fashion_mnist.ini"
common=(--train.max_steps=12 --train.global_batch_size=96 --train.log_every=1 --log.progress=false)
train() { local dir=$1; shift; run_np 2 train --config "$cfg" "${common[@]}" --checkpoint.dir="$WORK/$dir" "$@"; }

train adam > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "adam run"; }
train adamw0 --optim.name=adamw --optim.weight_decay=0 > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "adamw run"; }
[[ $(checksum adamw0) == "$(checksum adam)" ]] || fail "adamw with weight_decay 0 differs from adam"
echo "ok: adamw, weight_decay 0 == adam ($(checksum adam))"

sched=(--optim.name=adamw --optim.weight_decay=0.5 --optim.learning_rate=0.002 --optim.schedule=warmup_cosine
       --optim.warmup_steps=3 --optim.decay_steps=10 --optim.final_learning_rate=0.0002)
train cosine "${sched[@]}" > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "warmup_cosine run"; }
[[ $(checksum cosine) != "$(checksum adam)" ]] || fail "the schedule and the decay changed nothing"
"$PYTHON" - "$WORK/cosine/metrics.jsonl" <<'PY' || fail "learning_rate does not follow warmup_cosine"
import json, math, sys
lr0, lr_f, W, D = 0.002, 0.0002, 3, 10
def rate(s):
    if s < W: return lr0 * (s + 1) / (W + 1)
    if s >= D: return lr_f
    return lr_f + 0.5 * (1 + math.cos(math.pi * (s - W) / (D - W))) * (lr0 - lr_f)
rows = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["kind"] == "interval"]
assert [r["step"] for r in rows] == list(range(1, 13)), rows
for r in rows:
    want = rate(r["step"] - 1)  # an interval line reports the rate of the step that ended it
    assert abs(r["learning_rate"] - want) <= 1e-15, (r["step"], r["learning_rate"], want)
print("learning rates:", [round(r["learning_rate"], 7) for r in rows])
PY
echo "ok: learning_rate in metrics.jsonl follows warmup_cosine"

train split "${sched[@]}" --train.max_steps=6 > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "first half"; }
train split "${sched[@]}" --checkpoint.resume=auto > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "second half"; }
grep -q "resumed from .*checkpoint-00000006.h5" "$WORK/log" || fail "did not resume from step 6"
[[ $(checksum split) == "$(checksum cosine)" ]] || fail "6 + 6 steps differ from 12: $(checksum split) vs $(checksum cosine)"
echo "ok: 6 + 6 steps resumed == 12 steps under warmup_cosine and adamw"
expect_code 1 train split "${sched[@]}" --optim.decay_steps=11 --train.max_steps=14 --checkpoint.resume=auto
grep -q "optim.decay_steps = 10 in the checkpoint, 11 now" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no refusal"; }
echo "ok: resuming with another schedule is refused, naming the key"

expect_code 2 run_np 1 train --config "$cfg" --optim.warmup_steps=10 --checkpoint.dir="$WORK/bad"
grep -q "optim.warmup_steps" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "error does not name optim.warmup_steps"; }
expect_code 2 run_np 1 train --config "$cfg" --optim.schedule=step --checkpoint.dir="$WORK/bad"
grep -q "optim.step_every" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "error does not name optim.step_every"; }
echo "ok: schedule keys are checked, naming the key"
pass "optimizer stage: adamw, schedules, resume"
