#!/usr/bin/env bash
# 20 steps on the same global batch with 1, 2 and 3 ranks give the same parameters (within 1e-5
# relative), and so do 1 and 2 ranks accumulating 3 micro-batches per step (train.accumulate_steps); param_checksum is the crc32 of the saved parameters; evaluation and prediction of one
# checkpoint are identical at every world size.
source "$(dirname "$0")/common.sh" "$@"
cfg="$REPO/configs/fashion_mnist.ini"
for np in 1 2 3; do
  run_np "$np" train --config "$cfg" --train.max_steps=20 --train.global_batch_size=96 --train.check_replicas_every=1 \
    --train.log_every=5 --checkpoint.dir="$WORK/np$np" --log.progress=false > "$WORK/train$np.log" 2>&1 \
    || { cat "$WORK/train$np.log"; fail "training with $np ranks"; }
done
"$PYTHON" "$REPO/tests/python/world_size_params.py" "$WORK" 20 96 1 2 3 || fail "parameters differ across world sizes"
# Gradient accumulation: 3 micro-batches of 32 samples per step on 1 rank, and of 16 per rank on 2 ranks, are
# one step on the global batch of 96, as 3 ranks without accumulation.
mkdir -p "$WORK/accumulate" && ln -s "$WORK/np3" "$WORK/accumulate/np3"
for np in 1 2; do
  run_np "$np" train --config "$cfg" --train.max_steps=20 --train.global_batch_size=32 --train.accumulate_steps=3 \
    --checkpoint.dir="$WORK/accumulate/np$np" --log.progress=false > "$WORK/accumulate$np.log" 2>&1 \
    || { cat "$WORK/accumulate$np.log"; fail "training with accumulation on $np ranks"; }
done
"$PYTHON" "$REPO/tests/python/world_size_params.py" "$WORK/accumulate" 20 96 3 1 2 \
  || fail "accumulating 3 micro-batches differs from 3 ranks"
ckpt="$WORK/np1/$(json_get "$WORK/np1/summary.json" checkpoint)"
for np in 1 2 3; do
  run_np "$np" evaluate --checkpoint "$ckpt" --data "$FMNIST/t10k-images-idx3-ubyte.gz" \
    --labels "$FMNIST/t10k-labels-idx1-ubyte.gz" --output "$WORK/eval$np.json" > "$WORK/eval$np.txt" 2>"$WORK/eval$np.err" \
    || { cat "$WORK/eval$np.err"; fail "evaluate with $np ranks"; }
  run_np "$np" predict --checkpoint "$ckpt" --input "$FMNIST/t10k-images-idx3-ubyte.gz" \
    --output "$WORK/pred$np.csv" 2>"$WORK/pred$np.err" || { cat "$WORK/pred$np.err"; fail "predict with $np ranks"; }
done
# Counts (accuracy, confusion matrix, predicted classes) are identical; the mean loss and the
# probabilities agree to float rounding (1e-5; classes must match).
"$PYTHON" - "$WORK" <<'PY' || fail "evaluation or prediction depends on the world size"
import csv, json, sys
w = sys.argv[1]
e1 = json.load(open(f"{w}/eval1.json"))
p1 = list(csv.reader(open(f"{w}/pred1.csv")))
for n in (2, 3):
    en = json.load(open(f"{w}/eval{n}.json"))
    assert en["accuracy"] == e1["accuracy"] and en["confusion"] == e1["confusion"], n
    assert abs(en["loss"] - e1["loss"]) <= 1e-6 * abs(e1["loss"]), (n, en["loss"], e1["loss"])
    pn = list(csv.reader(open(f"{w}/pred{n}.csv")))
    assert len(pn) == len(p1)
    for a, b in zip(p1[1:], pn[1:]):
        assert a[:2] == b[:2], (n, a[:2], b[:2])
        assert max(abs(float(x) - float(y)) for x, y in zip(a[2:], b[2:])) <= 1e-5, (n, a, b)
    print(f"world size {n}: evaluation and predictions match 1 rank (loss {en['loss']!r} vs {e1['loss']!r})")
PY
[[ $(wc -l < "$WORK/pred1.csv") -eq 10001 ]] || fail "predict wrote $(wc -l < "$WORK/pred1.csv") lines"
pass "world-size invariance"
