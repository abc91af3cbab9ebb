#!/usr/bin/env bash
# A convolutional network (issue 14) on Fashion-MNIST read as 28 × 28 × 1 images: conv2d(8, 3x3, same, relu)
# -> max_pool2d(2) -> conv2d(16, 3x3, valid, stride 2) -> avg_pool2d -> flatten -> dense(10). 30 steps on 2
# ranks; `predict` from model.h5 matches an independent numpy forward pass over the weights read the Keras
# way (tests/python/keras_load.py: numpy convolutions and pools) to 1e-5. Then 20 steps on a global batch
# of 96 at 1 and 3 ranks train the same parameters (tests/python/world_size_params.py, the tolerance of
# world_size_invariance.sh).
source "$(dirname "$0")/common.sh" "$@"
cat > "$WORK/cnn.json" <<'JSON'
{"input_shape": [28, 28, 1],
 "layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
            {"type": "max_pool2d", "pool_size": 2},
            {"type": "conv2d", "filters": 16, "kernel_size": [3, 3], "strides": 2, "padding": "valid"},
            {"type": "avg_pool2d"},
            {"type": "flatten"},
            {"type": "dense", "units": 10}]}
JSON
# The config file sets model.hidden and model.activation: a copy without them for the spec.
grep -vE '^(hidden|activation) *=' "$REPO/configs/fashion_mnist.ini" > "$WORK/cnn.ini"
common=(--config "$WORK/cnn.ini" --model.spec="$WORK/cnn.json" --log.progress=false)

run_np 2 train "${common[@]}" --train.max_steps=30 --checkpoint.dir="$WORK/run" > "$WORK/train.log" 2>&1 \
  || { cat "$WORK/train.log"; fail "training the CNN"; }
[[ $(json_get "$WORK/run/summary.json" steps) -eq 30 ]] || fail "the CNN run did not train 30 steps"
run_np 2 predict --checkpoint "$WORK/run/model.h5" --input "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --output "$WORK/pred.csv" > "$WORK/predict.log" 2>&1 || { cat "$WORK/predict.log"; fail "predict from model.h5"; }
"$PYTHON" "$REPO/tests/python/keras_load.py" "$WORK/run/model.h5" "$FMNIST/t10k-images-idx3-ubyte.gz" \
  "$WORK/pred.csv" || fail "the CNN's model.h5 read the Keras way predicts otherwise"
pass "a CNN trains, and predict from its model.h5 equals a numpy forward pass"

for np in 1 3; do
  run_np "$np" train "${common[@]}" --train.max_steps=20 --train.global_batch_size=96 \
    --train.check_replicas_every=1 --checkpoint.dir="$WORK/np$np" > "$WORK/train$np.log" 2>&1 \
    || { cat "$WORK/train$np.log"; fail "training the CNN with $np ranks"; }
done
"$PYTHON" "$REPO/tests/python/world_size_params.py" "$WORK" 20 96 1 3 || fail "the CNN's parameters depend on the world size"
pass "the CNN trains the same parameters at 1 and 3 ranks"
