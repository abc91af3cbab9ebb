#!/usr/bin/env bash
# Dropout and synchronized batch normalization end to end (issue 14), on a model.spec MLP
# dense(128) - batch_norm - relu - dropout(0.3) - dense(10) on Fashion-MNIST:
# - 20 steps (SGD with momentum, see below) on global batch 96 at 1, 2 and 3 ranks give the same parameters
#   AND moving statistics (within 1e-5 relative, as world_size_invariance.sh, through tests/python/ckpt.py),
#   with the replicas checked every step (parameters and buffers identical on every rank);
# - exact resume with dropout on (Adam): 10 steps, then 10 more from the checkpoint = 20 steps (same
#   param_checksum, same moving statistics bit for bit);
# - `predict` from model.h5 equals tests/python/keras_load.py's numpy forward pass (dropout the identity,
#   batch norm with the moving statistics) to 1e-5.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=180
cat > "$WORK/spec.json" <<'JSON'
{"input_shape": [784],
 "layers": [{"type": "dense", "units": 128}, {"type": "batch_norm"}, {"type": "activation", "activation": "relu"},
            {"type": "dropout", "rate": 0.3}, {"type": "dense", "units": 10}]}
JSON
grep -vE '^(hidden|activation) *=' "$REPO/configs/fashion_mnist.ini" > "$WORK/spec.ini"
common=(--config "$WORK/spec.ini" --model.spec="$WORK/spec.json" --train.global_batch_size=96
        --train.check_replicas_every=1 --train.log_every=5 --log.progress=false)

# SGD with momentum here, not the config's Adam: the dense layer's bias right before the batch norm has a zero
# gradient in exact arithmetic (the normalisation subtracts it again), so its computed gradient is rounding
# noise that depends on how the rows are split, and Adam's m / sqrt(v) turns that noise into steps of about
# the learning rate (README, "Dropout and batch normalization"). SGD moves it by learning rate x noise.
for np in 1 2 3; do
  run_np "$np" train "${common[@]}" --optim.name=sgd --optim.learning_rate=0.05 --optim.momentum=0.9 \
    --train.max_steps=20 --checkpoint.dir="$WORK/np$np" > "$WORK/train$np.log" 2>&1 \
    || { cat "$WORK/train$np.log"; fail "training with $np ranks"; }
done
"$PYTHON" - "$WORK" <<'PY' || fail "parameters or moving statistics differ across world sizes"
import sys, ckpt
work = sys.argv[1]
p1, b1 = ckpt.checked_final_tensors(f"{work}/np1", 20, 96, 1)
assert b1.size == 2 * 128
for n in (2, 3):
    pn, bn = ckpt.checked_final_tensors(f"{work}/np{n}", 20, 96, n)
    rel = ckpt.relative_difference(p1, pn), ckpt.relative_difference(b1, bn)
    print(f"world size {n} vs 1: max |diff| / max |value| = {rel[0]:.3e} (parameters), {rel[1]:.3e} (moving statistics)")
    assert max(rel) <= 1e-5, rel
PY
# The moving statistics moved from their initial values (zeros and ones).
"$PYTHON" - "$WORK/np2/model.h5" <<'PY' || fail "the moving statistics did not move"
import sys, h5py, numpy as np
g = h5py.File(sys.argv[1], "r")["batch_normalization"]
assert [w.decode() for w in g.attrs["weight_names"]] == [
    "batch_normalization/gamma:0", "batch_normalization/beta:0", "batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0"]
assert np.abs(np.asarray(g["batch_normalization/moving_mean:0"])).max() > 1e-3
assert np.abs(np.asarray(g["batch_normalization/moving_variance:0"]) - 1).max() > 1e-3
PY
pass "world-size invariance of parameters and moving statistics"

run_np 2 train "${common[@]}" --train.max_steps=20 --checkpoint.dir="$WORK/straight" > "$WORK/straight.log" 2>&1 \
  || { cat "$WORK/straight.log"; fail "20 steps with Adam"; }
run_np 2 train "${common[@]}" --train.max_steps=10 --checkpoint.dir="$WORK/resumed" > "$WORK/first.log" 2>&1 \
  || { cat "$WORK/first.log"; fail "the first 10 steps"; }
run_np 2 train "${common[@]}" --train.max_steps=20 --checkpoint.dir="$WORK/resumed" --checkpoint.resume=auto \
  > "$WORK/second.log" 2>&1 || { cat "$WORK/second.log"; fail "resuming for 10 more steps"; }
grep -q "resumed from .*checkpoint-00000010.h5" "$WORK/second.log" || fail "the second run did not resume"
[[ $(checksum resumed) == $(checksum straight) ]] \
  || fail "10 + 10 steps gave param_checksum $(checksum resumed), 20 steps $(checksum straight)"
"$PYTHON" - "$WORK/resumed/model.h5" "$WORK/straight/model.h5" <<'PY' || fail "resumed moving statistics differ"
import sys, h5py
a, b = (int(h5py.File(p, "r")["mpitrain"].attrs["buffer_crc32"]) for p in sys.argv[1:])
assert a == b, (a, b)
PY
pass "exact resume with dropout and batch norm"

run_np 2 predict --checkpoint "$WORK/np3/model.h5" --input "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --output "$WORK/pred.csv" > "$WORK/predict.log" 2>&1 || { cat "$WORK/predict.log"; fail "predict from model.h5"; }
"$PYTHON" "$REPO/tests/python/keras_load.py" "$WORK/np3/model.h5" "$FMNIST/t10k-images-idx3-ubyte.gz" \
  "$WORK/pred.csv" || fail "model.h5 read the Keras way predicts otherwise"
pass "predict equals the numpy forward pass with the moving statistics"

# A bad key of either layer is refused before training on 2 ranks (exit 2, no hang), naming the file, the
# layer index and the key.
printf '%s' '{"input_shape": [784], "layers": [{"type": "dense", "units": 10}, {"type": "dropout", "rate": 1}]}' \
  > "$WORK/bad1.json"
printf '%s' '{"input_shape": [784], "layers": [{"type": "batch_norm", "epsilon": 0}, {"type": "dense", "units": 10}]}' \
  > "$WORK/bad2.json"
for n in 1 2; do
  RUN_TIMEOUT=60 expect_code 2 run_np 2 train "${common[@]}" --model.spec="$WORK/bad$n.json" --checkpoint.dir="$WORK/bad$n"
  grep -qF "model.spec = '$WORK/bad$n.json'" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "the file is not named"; }
done
grep -qF "layer 0 (batch_norm): key 'epsilon': must be a number in (0.0, inf), got 0" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "no layer and key in the message"; }
pass "bad dropout and batch_norm keys exit 2 naming the place"
