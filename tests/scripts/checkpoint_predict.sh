#!/usr/bin/env bash
# Checkpoint round trip: train on 2 ranks, predict on 3 ranks, and check the predictions against an
# independent forward pass in numpy over the weights read the way Keras `load_weights` reads them
# (tests/python/keras_load.py), to 1e-5; evaluate's accuracy equals the share of right predictions.
# model.h5 (the final weights) predicts the same; a resume from it is refused; a format-1 checkpoint kept in
# tests/fixtures/checkpoint-v1 predicts what the build that wrote it predicted.
# Then the same on CSV input (label column dropped) with the tanh activation and standardisation.
source "$(dirname "$0")/common.sh" "$@"
run_np 2 train --config "$REPO/configs/fashion_mnist.ini" --train.max_steps=60 --checkpoint.dir="$WORK/run" \
  --log.progress=false > "$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "training"; }
ckpt="$WORK/run/$(json_get "$WORK/run/summary.json" checkpoint)"
run_np 3 predict --checkpoint "$ckpt" --input "$FMNIST/t10k-images-idx3-ubyte.gz" --output "$WORK/pred.csv" \
  || fail "predict"
"$PYTHON" "$REPO/tests/python/keras_load.py" "$ckpt" "$FMNIST/t10k-images-idx3-ubyte.gz" "$WORK/pred.csv" \
  || fail "predictions differ from the numpy forward pass"
# model.h5: the final weights alone, the same predictions as the last checkpoint, read the Keras way too.
[[ "$(json_get "$WORK/run/summary.json" weights)" == model.h5 ]] || fail "summary.json names no weights file"
run_np 3 predict --checkpoint "$WORK/run/model.h5" --input "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --output "$WORK/pred_weights.csv" || fail "predict from model.h5"
cmp -s "$WORK/pred.csv" "$WORK/pred_weights.csv" || fail "model.h5 predicts otherwise than $ckpt"
"$PYTHON" "$REPO/tests/python/keras_load.py" "$WORK/run/model.h5" "$FMNIST/t10k-images-idx3-ubyte.gz" \
  "$WORK/pred_weights.csv" || fail "model.h5 read the Keras way differs"
"$PYTHON" - "$WORK/run/model.h5" <<'PY' || fail "model.h5 holds optimizer state or another kind"
import sys, h5py
own = h5py.File(sys.argv[1], "r")["mpitrain"]
assert own.attrs["kind"] == b"weights", own.attrs["kind"]
assert "optimizer" not in own, list(own)
PY
run_np 1 train --config "$REPO/configs/fashion_mnist.ini" --checkpoint.dir="$WORK/run2" \
  --checkpoint.resume="$WORK/run/model.h5" > "$WORK/resume_weights.log" 2>&1 && fail "resume from model.h5 ran"
grep -q "is a weights file" "$WORK/resume_weights.log" || { cat "$WORK/resume_weights.log"; fail "resume from model.h5: no clear error"; }

# A format-1 checkpoint (tests/fixtures/checkpoint-v1) still predicts what the build that wrote it predicted.
v1="$REPO/tests/fixtures/checkpoint-v1"
run_np 2 predict --checkpoint "$v1/checkpoint-00000003.h5" --input "$v1/tiny.csv" --output "$WORK/pred_v1.csv" \
  || fail "predict from a format-1 checkpoint"
"$PYTHON" - "$v1/predictions-v1.csv" "$WORK/pred_v1.csv" <<'PY' || fail "format-1 predictions changed"
import sys, numpy as np
old, new = (np.loadtxt(p, delimiter=",", skiprows=1) for p in sys.argv[1:])
old, new = (t[np.argsort(t[:, 0], kind="stable")] for t in (old, new))
assert old.shape == new.shape, (old.shape, new.shape)
assert (old[:, :2] == new[:, :2]).all(), "rows or classes differ"
assert np.abs(old[:, 2:] - new[:, 2:]).max() <= 1e-6, np.abs(old[:, 2:] - new[:, 2:]).max()
PY
"$PYTHON" "$REPO/tests/python/keras_load.py" "$v1/checkpoint-00000003.h5" "$v1/tiny.csv" "$WORK/pred_v1.csv" \
  || fail "format-1 checkpoint read the Keras way differs"

run_np 2 evaluate --checkpoint "$ckpt" --data "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --labels "$FMNIST/t10k-labels-idx1-ubyte.gz" --output "$WORK/eval.json" > "$WORK/eval.txt" || fail "evaluate"
"$PYTHON" - "$WORK" "$FMNIST/t10k-labels-idx1-ubyte.gz" <<'PY' || fail "evaluate disagrees with predict"
import csv, gzip, json, sys, numpy as np
work, labels_path = sys.argv[1], sys.argv[2]
labels = np.frombuffer(gzip.open(labels_path).read(), dtype=np.uint8, offset=8)
pred = np.array([int(r["predicted_class"]) for r in csv.DictReader(open(f"{work}/pred.csv"))])
ev = json.load(open(f"{work}/eval.json"))
acc = float((pred == labels).mean())
assert abs(ev["accuracy"] - acc) < 1e-12, (ev["accuracy"], acc)
conf = np.zeros((10, 10), dtype=int)
np.add.at(conf, (labels, pred), 1)
assert (np.array(ev["confusion"]) == conf).all()
recall = conf.diagonal() / conf.sum(1)
assert np.allclose(ev["recall"], recall)
print(f"accuracy {acc:.4f} from predictions equals evaluate's")
PY

# CSV input, tanh, standardize.
"$PYTHON" - "$WORK" <<'PY'
import sys, random
work = sys.argv[1]
rng = random.Random(5)
for name, rows in (("train", 600), ("test", 97)):
    with open(f"{work}/{name}.csv", "w") as f:
        f.write("label,x0,x1,x2,x3,x4\n")
        for i in range(rows):
            y = rng.randrange(3)
            xs = [y * 2.0 + rng.gauss(0, 1) + 10 * j for j in range(5)]
            cells = ["" if rng.random() < 0.02 else f"{x:.4f}" for x in xs]
            f.write(f"{y}," + ",".join(cells) + "\n")
PY
run_np 2 train --config "$REPO/configs/fashion_mnist.ini" --data.format=csv --data.train_csv="$WORK/train.csv" \
  --data.test_csv="$WORK/test.csv" --data.scaling=standardize --model.classes=3 --model.hidden=8 \
  --model.activation=tanh --train.epochs=2 --train.batch_size=16 --checkpoint.dir="$WORK/csvrun" \
  --log.progress=false > "$WORK/train_csv.log" 2>&1 || { cat "$WORK/train_csv.log"; fail "CSV training"; }
ckpt="$WORK/csvrun/$(json_get "$WORK/csvrun/summary.json" checkpoint)"
run_np 3 predict --checkpoint "$ckpt" --input "$WORK/test.csv" --output "$WORK/pred_csv.csv" || fail "CSV predict"
[[ $(wc -l < "$WORK/pred_csv.csv") -eq 98 ]] || fail "CSV predict rows"
"$PYTHON" "$REPO/tests/python/keras_load.py" "$ckpt" "$WORK/test.csv" "$WORK/pred_csv.csv" \
  || fail "CSV predictions differ from the numpy forward pass"
pass "checkpoint round trip and Keras-layout forward pass"
