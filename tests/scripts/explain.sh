#!/usr/bin/env bash
# mpitrain explain (issue 13) end to end on a Fashion-MNIST MLP trained for 100 steps:
# - importance.csv, attributions.h5 and permutation importance are identical, byte for byte, at 1, 2 and 3
#   ranks (saliency, smoothgrad over integrated gradients, permutation importance over 7 x 7 patches), and
#   a CNN's integrated gradients at 1 and 3 ranks;
# - gradient_x_input's attributions.h5 against a numpy forward and backward pass (tests/python/explain_check.py),
#   and its layout for shap.Explanation;
# - integrated gradients at 500 points: every completeness gap below 0.07, none over 5% reported;
# - the PNGs are valid and small;
# - bad input (a method, a target class, a step count, a checkpoint whose input width differs from the
#   data) fails on every rank with a message naming the option and its value.
source "$(dirname "$0")/common.sh" "$@"
IMAGES="$FMNIST/t10k-images-idx3-ubyte.gz"
LABELS="$FMNIST/t10k-labels-idx1-ubyte.gz"
run_np 2 train --config "$REPO/configs/fashion_mnist.ini" --train.max_steps=100 --checkpoint.dir="$WORK/run" \
  --log.progress=false > "$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "training"; }
CKPT="$WORK/run/model.h5"
explain() { run_np "$1" explain --checkpoint "$CKPT" --data "$IMAGES" --labels "$LABELS" "${@:2}"; }

# World size: 600 samples are three chunks (256, 256, 88).
for np in 1 2 3; do
  explain $np --method saliency --limit 600 --output "$WORK/sal$np" > "$WORK/sal$np.txt" 2>&1 \
    || { cat "$WORK/sal$np.txt"; fail "saliency at $np ranks"; }
  explain $np --method smoothgrad:integrated_gradients --steps 8 --samples 3 --baseline mean --target true \
    --limit 600 --output "$WORK/sg$np" --show 5 > "$WORK/sg$np.txt" 2>&1 || { cat "$WORK/sg$np.txt"; fail "smoothgrad at $np ranks"; }
  explain $np --method permutation_importance --group patch:7 --repeats 2 --limit 600 --output "$WORK/perm$np" \
    > "$WORK/perm$np.txt" 2>&1 || { cat "$WORK/perm$np.txt"; fail "permutation importance at $np ranks"; }
done
for np in 2 3; do
  for f in sal/importance.csv sg/importance.csv perm/importance.csv perm/permutation_repeats.csv; do
    cmp "$WORK/${f%%/*}1/${f#*/}" "$WORK/${f%%/*}$np/${f#*/}" || fail "$f differs between 1 and $np ranks"
  done
  "$PYTHON" - "$WORK/sg1/attributions.h5" "$WORK/sg$np/attributions.h5" <<'PY' || fail "attributions.h5 differs between 1 and $np ranks"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
for key in ("values", "data", "base_values", "output_values", "gaps", "predictions", "targets"):
    assert np.array_equal(a[key][()], b[key][()]), key
PY
done
pass "importance.csv, permutation importance and attributions.h5 identical at 1, 2 and 3 ranks"

# A CNN (conv2d and pooling through oneDNN) alike: integrated gradients at 1 and 3 ranks.
(cd "$REPO" && run_np 2 train --config configs/fashion_mnist_cnn.ini --train.max_steps=20 --checkpoint.dir="$WORK/cnn" \
  --log.progress=false) > "$WORK/cnn.log" 2>&1 || { cat "$WORK/cnn.log"; fail "CNN training"; }
for np in 1 3; do
  run_np $np explain --checkpoint "$WORK/cnn/model.h5" --data "$IMAGES" --method integrated_gradients --steps 6 \
    --limit 300 --output "$WORK/cnn$np" > "$WORK/cnn$np.txt" 2>&1 || { cat "$WORK/cnn$np.txt"; fail "CNN explain at $np ranks"; }
done
cmp "$WORK/cnn1/importance.csv" "$WORK/cnn3/importance.csv" || fail "CNN: importance.csv differs between 1 and 3 ranks"
"$PYTHON" - "$WORK/cnn1/attributions.h5" "$WORK/cnn3/attributions.h5" <<'PY' || fail "CNN: attributions differ between 1 and 3 ranks"
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert a["values"].shape == (300, 28, 28, 1), a["values"].shape
assert np.array_equal(a["values"][()], b["values"][()]) and np.array_equal(a["gaps"][()], b["gaps"][()])
PY
pass "a CNN's importance.csv and attributions identical at 1 and 3 ranks"
grep -q "sum of the other 774 features" "$WORK/sal1.txt" || { cat "$WORK/sal1.txt"; fail "no 'sum of the other N features' line"; }
grep -q "sum of the other 6 features" "$WORK/perm1.txt" || { cat "$WORK/perm1.txt"; fail "permutation: no 'sum of the other' line"; }
"$PYTHON" - "$WORK" "$LABELS" <<'PY' || fail "outputs"
import csv, gzip, sys, h5py, numpy as np
work, labels_path = sys.argv[1:]
labels = np.frombuffer(gzip.open(labels_path).read(), dtype=np.uint8, offset=8)[:600]
rows = list(csv.DictReader(open(f"{work}/sal1/importance.csv")))
every = [r for r in rows if r["class"] == "all"]
assert len(every) == 784 and len(rows) > 784, len(rows)
means = [float(r["mean_abs"]) for r in every]
assert means == sorted(means, reverse=True), "importance.csv is not sorted"
# importance.csv's means equal the mean |a| of attributions.h5 (float rounding of a different order of sums).
a = h5py.File(f"{work}/sal1/attributions.h5", "r")
values = a["values"][()].reshape(600, -1).astype(np.float64)
top = int(every[0]["index"])
assert abs(np.abs(values[:, top]).mean() - means[0]) <= 1e-9 * means[0], (np.abs(values[:, top]).mean(), means[0])
assert (values >= 0).all(), "saliency is |gradient|"
sg = h5py.File(f"{work}/sg1/attributions.h5", "r")
assert (sg["targets"][()] == labels).all(), "--target true explains the labels"
# --baseline mean: the mean of the training images of the checkpoint's config, scaled by 1/255.
raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
train = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784).astype(np.float64) / 255
baseline = sg["baseline"][()]
assert baseline.shape == (28, 28, 1), baseline.shape
assert np.abs(baseline.reshape(-1) - train.mean(axis=0)).max() < 1e-6, np.abs(baseline.reshape(-1) - train.mean(axis=0)).max()
assert not a["baseline"][()].any(), "the default baseline is zero"
perm = list(csv.DictReader(open(f"{work}/perm1/importance.csv")))
assert len(perm) == 16 and perm[0]["features"] == "49", perm[0]
drops = [float(r["mean_drop"]) for r in perm]
assert drops == sorted(drops, reverse=True) and drops[0] > 0, drops
PY
pass "importance.csv sorted, equal to attributions.h5's means; --target true; permutation importance sorted"

# Pictures: valid PNGs below 200 KB.
for png in sal1/top20.png sal1/class_heat_maps.png sal1/sample_0.png sal1/sample_2.png sg1/sample_5.png perm1/top20.png; do
  [[ -f "$WORK/$png" ]] || fail "$png missing"
  [[ "$(head -c 8 "$WORK/$png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] || fail "$png is not a PNG"
  (( $(stat -c %s "$WORK/$png") < 200000 )) || fail "$png is over 200 KB"
done
pass "PNGs"

# gradient_x_input against numpy.
explain 2 --method gradient_x_input --limit 300 --output "$WORK/gxi" --show "" > "$WORK/gxi.txt" 2>&1 \
  || { cat "$WORK/gxi.txt"; fail "gradient_x_input"; }
"$PYTHON" "$REPO/tests/python/explain_check.py" "$CKPT" "$IMAGES" "$WORK/gxi/attributions.h5" || fail "explain_check.py"
pass "gradient_x_input equals x * gradient of a numpy backward pass"

# Integrated gradients at 500 points: completeness.
explain 3 --method integrated_gradients --steps 500 --limit 256 --output "$WORK/ig" > "$WORK/ig.txt" 2>&1 \
  || { cat "$WORK/ig.txt"; fail "integrated gradients"; }
grep -q "every completeness gap is within 5%" "$WORK/ig.txt" || { cat "$WORK/ig.txt"; fail "IG: gaps over 5% at 500 steps"; }
"$PYTHON" - "$WORK/ig/attributions.h5" <<'PY' || fail "IG completeness"
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")
values = a["values"][()].reshape(256, -1).astype(np.float64)
gap = values.sum(axis=1) - (a["output_values"][()] - a["base_values"][()])
assert np.abs(gap - a["gaps"][()]).max() < 1e-4, np.abs(gap - a["gaps"][()]).max()
assert np.abs(gap).max() < 0.07, np.abs(gap).max()
PY
# Few steps: the warning names the samples.
explain 1 --method integrated_gradients --steps 1 --limit 20 --output "$WORK/ig1" > "$WORK/ig1.txt" 2>&1 || fail "IG 1 step"
grep -q "have a completeness gap over 5%" "$WORK/ig1.txt" || { cat "$WORK/ig1.txt"; fail "IG: no gap warning at 1 step"; }
pass "integrated gradients: gaps below 0.07 at 500 steps; a warning names the samples at 1 step"

# Bad input: exit 2 (usage) or 1 (data) on every rank, the option and its value named.
bad() {
  local code=$1 message=$2; shift 2
  expect_code "$code" run_np 2 explain "$@"
  grep -qF -- "$message" "$WORK/out.txt" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$message' for: $*"; }
}
ARGS=(--checkpoint "$CKPT" --data "$IMAGES" --labels "$LABELS" --output "$WORK/bad")
bad 2 "--method integrated_gradient: unknown method" "${ARGS[@]}" --method integrated_gradient
bad 2 "--target 10: class out of range" "${ARGS[@]}" --method saliency --target 10
bad 2 "--steps 0: must be in [1, 10000]" "${ARGS[@]}" --method integrated_gradients --steps 0
bad 2 "--steps 20000: must be in [1, 10000]" "${ARGS[@]}" --method integrated_gradients --steps 20000
bad 2 "--group patch:0" "${ARGS[@]}" --method permutation_importance --group patch:0
bad 1 "--data $IMAGES: 784 features per row, the model needs 4" --checkpoint \
  "$REPO/tests/fixtures/checkpoint-v1/checkpoint-00000003.h5" --data "$IMAGES" --method saliency --output "$WORK/bad"
[[ ! -e "$WORK/bad/attributions.h5" ]] || fail "a refused run wrote attributions.h5"
pass "bad input refused on every rank, naming the option and its value"
