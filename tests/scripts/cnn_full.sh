#!/usr/bin/env bash
# Issue 14's network test: one CNN with every addition at once, convolutions, synchronized batch
# normalization, dropout and augmentation (flip, shift by up to 2 pixels), with the config's Adam:
# - 20 steps on global batch 96 at 1, 2 and 3 ranks give the same parameters and moving statistics within
#   1e-5 relative (tests/python/world_size_params.py; the convolutions before a batch norm have no bias, the
#   Keras idiom, so no tensor's gradient is pure rounding noise; README "Dropout and batch normalization");
# - 10 steps at 2 ranks, then 10 more resumed at 3 ranks, equal 20 steps at 1 rank within the same tolerance,
#   and 10 + 10 at 2 ranks equal 20 at 2 ranks bit for bit (param_checksum);
# - `predict` from model.h5 equals tests/python/keras_load.py's numpy forward pass to 1e-5.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=300
cat > "$WORK/spec.json" <<'JSON'
{"input_shape": [28, 28, 1],
 "layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "use_bias": false},
            {"type": "batch_norm"}, {"type": "activation", "activation": "relu"},
            {"type": "max_pool2d", "pool_size": 2},
            {"type": "conv2d", "filters": 16, "kernel_size": 3, "strides": 2, "use_bias": false},
            {"type": "batch_norm", "momentum": 0.9}, {"type": "activation", "activation": "relu"},
            {"type": "flatten"}, {"type": "dropout", "rate": 0.3}, {"type": "dense", "units": 10}]}
JSON
grep -vE '^(hidden|activation) *=' "$REPO/configs/fashion_mnist.ini" > "$WORK/spec.ini"
common=(--config "$WORK/spec.ini" --model.spec="$WORK/spec.json" --data.augment="flip_horizontal, shift:2"
        --train.global_batch_size=96 --train.log_every=5 --log.progress=false)
for np in 1 2 3; do
  run_np "$np" train "${common[@]}" --train.max_steps=20 --checkpoint.dir="$WORK/np$np" > "$WORK/train$np.log" 2>&1 \
    || { cat "$WORK/train$np.log"; fail "training with $np ranks"; }
done
"$PYTHON" "$REPO/tests/python/world_size_params.py" "$WORK" 20 96 1 2 3 \
  || fail "parameters or moving statistics depend on the world size"

run_np 2 train "${common[@]}" --train.max_steps=10 --checkpoint.dir="$WORK/split" > "$WORK/first.log" 2>&1 \
  || { cat "$WORK/first.log"; fail "the first 10 steps"; }
cp -r "$WORK/split" "$WORK/split3"
run_np 2 train "${common[@]}" --train.max_steps=20 --checkpoint.dir="$WORK/split" --checkpoint.resume=auto \
  > "$WORK/second.log" 2>&1 || { cat "$WORK/second.log"; fail "10 more steps at 2 ranks"; }
[[ $(checksum split) == $(checksum np2) ]] || fail "10 + 10 steps at 2 ranks: $(checksum split), 20 steps: $(checksum np2)"
run_np 3 train "${common[@]}" --train.max_steps=20 --checkpoint.dir="$WORK/split3" --checkpoint.resume=auto \
  > "$WORK/third.log" 2>&1 || { cat "$WORK/third.log"; fail "10 more steps at 3 ranks"; }
grep -q "resumed from .*checkpoint-00000010.h5" "$WORK/third.log" || fail "the 3-rank run did not resume"
rm -rf "$WORK/np2" && mv "$WORK/split3" "$WORK/np2"  # world_size_params.py reads WORK/np<N>
"$PYTHON" - "$WORK" <<'PY' || fail "resumed at 3 ranks differs from 20 steps at 1 rank"
import sys, ckpt
w = sys.argv[1]
p1, b1 = ckpt.checked_final_tensors(f"{w}/np1", 20, 96, 1)
p3, b3 = ckpt.checked_final_tensors(f"{w}/np2", 20, 96, 3)
rel = ckpt.relative_difference(p1, p3), ckpt.relative_difference(b1, b3)
print(f"10 steps at 2 ranks + 10 at 3 vs 20 at 1: {rel[0]:.3e} (parameters), {rel[1]:.3e} (moving statistics)")
assert max(rel) <= 1e-5, rel
PY
pass "a CNN with batch norm, dropout and augmentation is independent of the world size and resumes exactly"

run_np 2 predict --checkpoint "$WORK/np1/model.h5" --input "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --output "$WORK/pred.csv" > "$WORK/predict.log" 2>&1 || { cat "$WORK/predict.log"; fail "predict"; }
"$PYTHON" "$REPO/tests/python/keras_load.py" "$WORK/np1/model.h5" "$FMNIST/t10k-images-idx3-ubyte.gz" "$WORK/pred.csv" \
  || fail "predict differs from the numpy forward pass"
pass "predict of a CNN with batch norm equals a numpy forward pass"
