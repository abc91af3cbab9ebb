#!/usr/bin/env bash
# model.spec: the default MLP written as a model specification file trains to the same parameters, bit for
# bit, as the [model] keys (a second way to the same model), and its checkpoint predicts like the other's;
# bad specifications are refused before training, exit 2, with a message naming model.spec, the file and
# the place (JSON line and column, layer index and key), on 2 ranks without a hang. Another layer list
# checkpoints, resumes and predicts like an independent numpy forward pass.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=120
cfg="$REPO/configs/fashion_mnist.ini"
common=(--train.max_steps=20 --train.global_batch_size=128 --log.progress=false)

cat > "$WORK/mlp.json" <<'JSON'
{"input_shape": [784],
 "layers": [{"type": "dense", "units": 256}, {"type": "activation", "activation": "relu"},
            {"type": "dense", "units": 128}, {"type": "activation", "activation": "relu"},
            {"type": "dense", "units": 10}]}
JSON
# The config file sets model.hidden and model.activation: a copy without them for the spec run.
grep -vE '^(hidden|activation) *=' "$cfg" > "$WORK/spec.ini"
run_np 2 train --config "$cfg" "${common[@]}" --checkpoint.dir="$WORK/keys" > "$WORK/keys.log" 2>&1 \
  || { cat "$WORK/keys.log"; fail "training from the [model] keys"; }
run_np 2 train --config "$WORK/spec.ini" "${common[@]}" --model.spec="$WORK/mlp.json" \
  --checkpoint.dir="$WORK/spec" > "$WORK/spec.log" 2>&1 || { cat "$WORK/spec.log"; fail "training from model.spec"; }
[[ $(checksum keys) == $(checksum spec) ]] || fail "model.spec gave checksum $(checksum spec), the keys $(checksum keys)"
grep -q "^spec = $WORK/mlp.json" "$WORK/spec/config.ini" || fail "config.ini does not name model.spec"
! grep -qE "^(hidden|activation) =" "$WORK/spec/config.ini" || fail "config.ini holds hidden/activation with model.spec"
for run in keys spec; do
  run_np 2 predict --checkpoint "$WORK/$run/$(json_get "$WORK/$run/summary.json" checkpoint)" \
    --input "$FMNIST/t10k-images-idx3-ubyte.gz" --output "$WORK/$run.csv" > "$WORK/predict.log" 2>&1 \
    || { cat "$WORK/predict.log"; fail "predict from the $run run"; }
done
cmp -s "$WORK/keys.csv" "$WORK/spec.csv" || fail "the two checkpoints predict differently"
pass "model.spec equals the [model] keys"

# A model that is not an MLP of the [model] keys (two dense layers without an activation between, then a
# sigmoid on the logits) trains, resumes from its checkpoint (format 2 stores the spec), and its model.h5
# predicts what an independent numpy forward pass of the spec's layers computes.
cat > "$WORK/other.json" <<'JSON'
{"input_shape": [784],
 "layers": [{"type": "dense", "units": 32}, {"type": "dense", "units": 10},
            {"type": "activation", "activation": "sigmoid"}]}
JSON
run_np 2 train --config "$WORK/spec.ini" "${common[@]}" --train.max_steps=10 --model.spec="$WORK/other.json" \
  --checkpoint.dir="$WORK/other" > "$WORK/other.log" 2>&1 || { cat "$WORK/other.log"; fail "training a non-MLP spec"; }
run_np 2 train --config "$WORK/spec.ini" "${common[@]}" --model.spec="$WORK/other.json" \
  --checkpoint.dir="$WORK/other" --checkpoint.resume=auto > "$WORK/other2.log" 2>&1 \
  || { cat "$WORK/other2.log"; fail "resuming a non-MLP spec"; }
grep -q "resumed from .*checkpoint-00000010.h5" "$WORK/other2.log" || fail "the non-MLP run did not resume"
run_np 2 predict --checkpoint "$WORK/other/model.h5" --input "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --output "$WORK/other.csv" > "$WORK/predict.log" 2>&1 || { cat "$WORK/predict.log"; fail "predict from model.h5"; }
"$PYTHON" "$REPO/tests/python/keras_load.py" "$WORK/other/model.h5" "$FMNIST/t10k-images-idx3-ubyte.gz" \
  "$WORK/other.csv" || fail "the non-MLP model.h5 read the Keras way predicts otherwise"
pass "a model that is not the [model] keys' MLP checkpoints, resumes and predicts"

# expect PATTERN FILE-CONTENT [ARGS...]: a run with model.spec = a file of that content fails with exit 2.
n=0
expect() {
  local pattern=$1 content=$2; shift 2
  n=$((n + 1))
  printf '%s' "$content" > "$WORK/bad$n.json"
  set +e
  run_np 2 train --config "$WORK/spec.ini" "${common[@]}" --model.spec="$WORK/bad$n.json" \
    --checkpoint.dir="$WORK/bad$n" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local got=$?
  set -e
  [[ $got -ne 124 && $got -ne 137 ]] || fail "timed out (hang): $content"
  [[ $got -eq 2 ]] || { cat "$WORK/err.txt"; fail "exit code $got, expected 2: $content"; }
  grep -qF -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$pattern' in the message: $content"; }
  grep -qF -- "model.spec = '$WORK/bad$n.json'" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "the file is not named"; }
  [[ ! -e "$WORK/bad$n/summary.json" ]] || fail "a refused run trained: $content"
  echo "ok: $(grep -m1 -F -- "$pattern" "$WORK/err.txt" | cut -c1-220)"
}
expect "malformed JSON: [json.exception.parse_error.101] parse error at line 2" $'{"input_shape": [784],\n'
expect "layer 1 (dense): unknown key 'unit'" \
  '{"input_shape": [784], "layers": [{"type": "dense", "units": 8}, {"type": "dense", "unit": 10}]}'
expect "layer 0 (conv3d): key 'type': unknown layer type 'conv3d'" '{"input_shape": [784], "layers": [{"type": "conv3d"}]}'
expect "layer 0: layer conv2d (conv2d): kernel (30, 30) is larger than the input (28, 28, 1) under padding valid" \
  '{"input_shape": [28, 28, 1], "layers": [{"type": "conv2d", "filters": 10, "kernel_size": 30}, {"type": "flatten"}]}'
expect "input_shape (785) holds 785 features per sample, the data has 784" \
  '{"input_shape": [785], "layers": [{"type": "dense", "units": 10}]}'
expect "model.classes = 10: classification into 10 classes needs model outputs (10) per sample, the model gives (28, 28, 10)" \
  '{"input_shape": [28, 28, 1], "layers": [{"type": "dense", "units": 10}]}'
expect "model.classes = 10: classification into 10 classes needs model outputs (10) per sample, the model gives (7)" \
  '{"input_shape": [784], "layers": [{"type": "dense", "units": 7}]}'
set +e
run_np 2 train --config "$cfg" "${common[@]}" --model.spec="$WORK/mlp.json" \
  --checkpoint.dir="$WORK/both" > "$WORK/out.txt" 2> "$WORK/err.txt"
got=$?
set -e
[[ $got -eq 2 ]] && grep -qF "model.hidden must not be set with it" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "model.spec together with model.hidden: exit $got"; }
pass "bad model specifications"
