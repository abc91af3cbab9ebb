#!/usr/bin/env bash
# End to end: 2 ranks, 1 epoch of Fashion-MNIST; test accuracy at least 0.83; the run directory holds
# config.ini, train.log, metrics.jsonl (interval and epoch lines), a checkpoint and summary.json.
source "$(dirname "$0")/common.sh" "$@"
run_np 2 train --config "$REPO/configs/fashion_mnist.ini" --train.epochs=1 --checkpoint.dir="$WORK/run" \
  --log.progress=false > "$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "training"; }
"$PYTHON" - "$WORK/run" <<'PY' || fail "run directory or accuracy"
import json, os, sys
run = sys.argv[1]
for f in ("config.ini", "train.log", "metrics.jsonl", "summary.json"):
    assert os.path.getsize(os.path.join(run, f)) > 0, f
s = json.load(open(os.path.join(run, "summary.json")))
need = ["world_size", "global_batch_size", "epochs", "steps", "train_seconds", "samples_per_second",
        "final_train_loss", "test_loss", "test_accuracy", "parameters", "param_checksum"]
missing = [k for k in need if k not in s]
assert not missing, missing
assert s["world_size"] == 2 and s["global_batch_size"] == 128 and s["epochs"] == 1, s
assert s["steps"] == 469 and s["samples"] == 60000, s          # ceil(60000 / 128), every sample once
assert s["parameters"] == 784*256 + 256 + 256*128 + 128 + 128*10 + 10, s
assert os.path.exists(os.path.join(run, s["checkpoint"])), s
lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
kinds = [l["kind"] for l in lines]
assert kinds.count("epoch") == 1 and kinds.count("interval") == 2, kinds
for l in lines:
    for k in ("epoch", "step", "loss", "accuracy", "learning_rate", "samples_per_second", "seconds"):
        assert k in l, (k, l)
print(f"test accuracy {s['test_accuracy']:.4f}, {s['samples_per_second']:.0f} samples/s")
assert s["test_accuracy"] >= 0.83, s["test_accuracy"]
PY
pass "one epoch of Fashion-MNIST on 2 ranks"
