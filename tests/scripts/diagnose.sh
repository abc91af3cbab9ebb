#!/usr/bin/env bash
# `mpitrain diagnose` (issue 13): an MLP trained briefly on 2 ranks, diagnosed on 4000 Fashion-MNIST test
# images with the temperature fitted on the other 6000, at 1, 2 and 3 ranks: calibration.csv,
# temperature.csv, classes.csv, confusion.csv and simplification.csv identical byte for byte. Checked
# another way: the confusion matrix, precision and recall against `evaluate` (F1 in numpy); the bins, the
# ECE and the temperature against numpy from `predict`'s probabilities (the temperature by golden-section
# search on log T, another method than diagnose's Newton steps in 1/T). A --write-pruned 90 checkpoint
# evaluates with `evaluate` to the accuracy diagnose printed for it, predicts, holds 90 % zero kernel
# entries and says that it is pruned. Bad input exits non-zero on every rank with the option and value named.
# Then a CNN with batch norm gives identical files at 1 and 3 ranks.
source "$(dirname "$0")/common.sh" "$@"
run_np 2 train --config "$REPO/configs/fashion_mnist.ini" --train.max_steps=150 --checkpoint.dir="$WORK/run" \
  --log.progress=false > "$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "training"; }
model="$WORK/run/model.h5"

# The test set split: images 0..5999 to fit the temperature on, 6000..9999 to diagnose.
"$PYTHON" - "$FMNIST" "$WORK" <<'PY'
import gzip, struct, sys, numpy as np
src, work = sys.argv[1:]
images = np.frombuffer(gzip.open(f"{src}/t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
labels = np.frombuffer(gzip.open(f"{src}/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
def write(name, x, y):
    with open(f"{work}/{name}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(x), x.shape[1], x.shape[2])); f.write(x.tobytes())
    with open(f"{work}/{name}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, len(y))); f.write(y.tobytes())
write("cal", images[:6000], labels[:6000])
write("test", images[6000:], labels[6000:])
write("small", images[:50, :10, :10].copy(), labels[:50])   # 100 features: another model's width
PY
data=(--data "$WORK/test-images-idx3-ubyte" --labels "$WORK/test-labels-idx1-ubyte")
cal=(--calibration-data "$WORK/cal-images-idx3-ubyte" --calibration-labels "$WORK/cal-labels-idx1-ubyte")
for np in 1 2 3; do
  run_np "$np" diagnose --checkpoint "$model" "${data[@]}" "${cal[@]}" --output "$WORK/np$np" \
    > "$WORK/np$np.txt" 2> "$WORK/np$np.err" || { cat "$WORK/np$np.err"; fail "diagnose at $np ranks"; }
done
for f in calibration temperature classes confusion simplification; do
  for np in 2 3; do
    cmp "$WORK/np1/$f.csv" "$WORK/np$np/$f.csv" || fail "$f.csv differs between 1 and $np ranks"
  done
done
for png in reliability confusion simplification; do
  head -c 8 "$WORK/np1/$png.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "$png.png is no PNG"
  size=$(stat -c %s "$WORK/np1/$png.png")
  [[ $size -gt 5000 && $size -lt 200000 ]] || fail "$png.png has $size bytes"
done
pass "diagnose writes the same files at 1, 2 and 3 ranks"

run_np 2 evaluate --checkpoint "$model" "${data[@]}" --output "$WORK/eval.json" > /dev/null || fail "evaluate"
run_np 2 predict --checkpoint "$model" --input "$WORK/test-images-idx3-ubyte" --output "$WORK/pred_test.csv" \
  || fail "predict test"
run_np 2 predict --checkpoint "$model" --input "$WORK/cal-images-idx3-ubyte" --output "$WORK/pred_cal.csv" \
  || fail "predict cal"
"$PYTHON" - "$WORK" <<'PY' || fail "diagnose disagrees with evaluate or predict"
import csv, json, math, sys, numpy as np
work = sys.argv[1]
def labels(name):
    return np.fromfile(f"{work}/{name}-labels-idx1-ubyte", np.uint8, offset=8).astype(int)
def probs(name):
    rows = sorted(csv.DictReader(open(f"{work}/pred_{name}.csv")), key=lambda r: int(r["row"]))
    return np.array([[float(r[f"prob_{j}"]) for j in range(10)] for r in rows])
def table(path):
    return list(csv.DictReader(open(path)))
out = f"{work}/np1"
# Confusion, precision, recall against evaluate; F1 in numpy.
ev = json.load(open(f"{work}/eval.json"))
conf = np.loadtxt(f"{out}/confusion.csv", delimiter=",", skiprows=1, dtype=np.int64)[:, 1:]
assert (conf == np.array(ev["confusion"])).all()
classes = table(f"{out}/classes.csv")
for k, row in enumerate(classes):
    p, r = ev["precision"][k], ev["recall"][k]
    assert float(row["precision"]) == p and float(row["recall"]) == r, (k, row, p, r)
    assert abs(float(row["f1"]) - (2 * p * r / (p + r) if p + r else 0)) < 1e-15, row
    assert int(row["support"]) == conf[k].sum()
# Reliability bins and ECE from predict's (float) probabilities.
y, p = labels("test"), probs("test")
conf_, pred = p.max(1), p.argmax(1)
b = np.clip(np.ceil(conf_ * 15) - 1, 0, 14).astype(int)
rows = [r for r in table(f"{out}/calibration.csv") if r["model"] == "uncalibrated"]
counts = np.array([float(r["count"]) for r in rows])
ours = np.bincount(b, minlength=15)
assert np.abs(counts - ours).sum() <= 2, (counts, ours)   # a confidence on a bin edge may round either way
ece = sum(abs((pred[b == m] == y[b == m]).mean() - conf_[b == m].mean()) * (b == m).sum() for m in range(15) if (b == m).any()) / len(y)
ece_diag = sum(float(r["count"]) * abs(float(r["gap"])) for r in rows) / len(y)
assert abs(ece - ece_diag) < 1e-4, (ece, ece_diag)
# The temperature: golden-section search of the mean NLL over log T on the calibration set's log-probabilities
# (softmax(log p / T) = softmax(z / T): the constant of log p cancels).
yc, lc = labels("cal"), np.log(np.maximum(probs("cal"), 1e-45))
def nll(t):
    s = lc / t
    s = s - s.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(s).sum(1)) - s[np.arange(len(yc)), yc]))
lo, hi = math.log(0.05), math.log(20.0)
g = (math.sqrt(5) - 1) / 2
for _ in range(80):
    a, c = hi - g * (hi - lo), lo + g * (hi - lo)
    if nll(math.exp(a)) < nll(math.exp(c)): hi = c
    else: lo = a
t_numpy = math.exp((lo + hi) / 2)
temp = {r["quantity"]: float(r["value"]) for r in table(f"{out}/temperature.csv")}
assert abs(temp["temperature"] - t_numpy) < 1e-3 * t_numpy, (temp["temperature"], t_numpy)
assert temp["converged"] == 1
yt = y
def nll_test(t):
    s = np.log(np.maximum(p, 1e-45)) / t
    s = s - s.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(s).sum(1)) - s[np.arange(len(yt)), yt]))
assert abs(temp["nll_before"] - ev["loss"]) < 1e-5, (temp["nll_before"], ev["loss"])
assert abs(temp["nll_after"] - nll_test(temp["temperature"])) < 1e-5, (temp["nll_after"], nll_test(temp["temperature"]))
# The simplification table: the trained row is evaluate's; every pruning row reaches its target sparsity.
simp = table(f"{out}/simplification.csv")
assert [r["method"] for r in simp] == ["none"] + ["prune_layer"] * 4 + ["prune_global"] * 4 + ["int8"]
assert float(simp[0]["accuracy"]) == ev["accuracy"] and abs(float(simp[0]["loss"]) - ev["loss"]) < 1e-12
for r in simp[1:9]:
    assert abs(float(r["kernel_sparsity"]) - float(r["sparsity_percent"]) / 100) < 1e-4, r
    assert int(r["bytes"]) < int(simp[0]["bytes"]), r
assert int(simp[9]["bytes"]) < int(simp[0]["bytes"]) / 2.5, simp[9]     # int8 kernels: about a quarter
assert abs(float(simp[9]["accuracy"]) - ev["accuracy"]) < 0.01, simp[9]
print(f"T = {temp['temperature']:.4f} (numpy {t_numpy:.4f}), ECE {ece_diag:.4f} (numpy {ece:.4f})")
PY
pass "diagnose agrees with evaluate, predict and numpy"

# --write-pruned: a checkpoint that evaluate and predict load, pruned at 90 %.
run_np 2 diagnose --checkpoint "$model" "${data[@]}" --output "$WORK/pruned" --write-pruned 90 \
  > "$WORK/pruned.txt" 2>&1 || { cat "$WORK/pruned.txt"; fail "diagnose --write-pruned"; }
printed=$(grep -oE "pruned checkpoint .* accuracy [0-9.]+" "$WORK/pruned.txt" | grep -oE "[0-9.]+$")
[[ -n $printed ]] || { cat "$WORK/pruned.txt"; fail "no accuracy printed for the pruned checkpoint"; }
run_np 3 evaluate --checkpoint "$WORK/pruned/pruned-90.h5" "${data[@]}" --output "$WORK/eval_pruned.json" \
  > /dev/null || fail "evaluate the pruned checkpoint"
"$PYTHON" - "$WORK" "$printed" <<'PY' || fail "the pruned checkpoint"
import json, sys, h5py, numpy as np
work, printed = sys.argv[1], float(sys.argv[2])
acc = json.load(open(f"{work}/eval_pruned.json"))["accuracy"]
assert abs(acc - printed) < 5e-7, (acc, printed)
f, g = h5py.File(f"{work}/pruned/pruned-90.h5", "r"), h5py.File(f"{work}/run/model.h5", "r")
assert f["mpitrain"].attrs["derivation"] == b"magnitude pruning (global) at 90% of the kernels"
for key in ("config", "lineage", "model_spec"):
    assert f["mpitrain"].attrs[key] == g["mpitrain"].attrs[key], key
kernels = [f[l][n] for l in f.attrs["layer_names"] for n in f[l].attrs["weight_names"] if n.endswith(b"kernel:0")]
zeros = sum(int((k[()] == 0).sum()) for k in kernels) / sum(k.size for k in kernels)
assert abs(zeros - 0.9) < 1e-4, zeros
biases = [n for l in f.attrs["layer_names"] for n in f[l].attrs["weight_names"] if n.endswith(b"bias:0")]
for n in biases:
    l = n.split(b"/")[0]
    assert (f[l][n][()] == g[l][n][()]).all(), n
print(f"pruned at 90 %: evaluate's accuracy {acc} = diagnose's {printed}")
PY
run_np 2 predict --checkpoint "$WORK/pruned/pruned-90.h5" --input "$WORK/test-images-idx3-ubyte" \
  --output "$WORK/pred_pruned.csv" || fail "predict from the pruned checkpoint"
pass "--write-pruned writes a checkpoint that evaluate and predict load"

# Bad input: exit non-zero at every rank (mpirun returns), the option and value named, nothing overwritten.
expect_bad() {
  local pattern=$1; shift
  set +e
  RUN_TIMEOUT=60 run_np 2 diagnose --checkpoint "$model" "${data[@]}" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local got=$?
  set -e
  [[ $got -ne 0 && $got -ne 124 && $got -ne 137 ]] || fail "exit $got (0 or a hang): $*"
  grep -qF -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$pattern' in the message: $*"; }
  echo "ok ($got): $(grep -m1 -F -- "$pattern" "$WORK/err.txt" | cut -c1-200)"
}
expect_bad "--bins 0: needs at least 1 bin" --output "$WORK/bad1" --bins 0
expect_bad "--write-pruned 100: the sparsity must be a percentage in [0, 100)" --output "$WORK/bad2" --write-pruned 100
expect_bad "--write-pruned -5: the sparsity" --output "$WORK/bad3" --write-pruned -5
expect_bad "--calibration-data: $WORK/small-images-idx3-ubyte: 100 features per row, the model needs 784" --output "$WORK/bad4" \
  --calibration-data "$WORK/small-images-idx3-ubyte" --calibration-labels "$WORK/small-labels-idx1-ubyte"
cp "$WORK/pruned/pruned-90.h5" "$WORK/keep.h5"
expect_bad "--pruned-output $WORK/keep.h5 exists" --output "$WORK/bad5" --write-pruned 50 --pruned-output "$WORK/keep.h5"
cmp -s "$WORK/keep.h5" "$WORK/pruned/pruned-90.h5" || fail "an existing --pruned-output was changed"
expect_bad "is the same file as --checkpoint" --output "$WORK/bad6" --write-pruned 50 --pruned-output "$model"
expect_bad "already holds calibration.csv" --output "$WORK/np1"
pass "bad input is named and stops every rank"

# A CNN with batch norm: the same files at 1 and 3 ranks.
run_np 2 train --config "$REPO/configs/fashion_mnist_cnn_bn.ini" --model.spec="$REPO/configs/fashion_mnist_cnn_bn.json" \
  --train.max_steps=30 --checkpoint.dir="$WORK/cnn" \
  --log.progress=false > "$WORK/cnn.log" 2>&1 || { cat "$WORK/cnn.log"; fail "training the CNN"; }
for np in 1 3; do
  run_np "$np" diagnose --checkpoint "$WORK/cnn/model.h5" "${data[@]}" "${cal[@]}" --output "$WORK/cnn$np" \
    > /dev/null 2> "$WORK/cnn$np.err" || { cat "$WORK/cnn$np.err"; fail "diagnose the CNN at $np ranks"; }
done
for f in calibration temperature classes confusion simplification; do
  cmp "$WORK/cnn1/$f.csv" "$WORK/cnn3/$f.csv" || fail "the CNN's $f.csv differs between 1 and 3 ranks"
done
pass "a CNN's diagnosis is the same at 1 and 3 ranks"
