#!/usr/bin/env bash
# launch/plot (issue 13, "Training curves"): a short Fashion-MNIST run with a validation set (2 ranks, 2
# epochs, an interval record every 50 steps) is plotted;
# - every PNG exists, is a PNG (signature, IHDR chunk) of the size plot.gp asks for and holds a picture
#   (more than 8 KB; an empty 760x480 canvas is about 3 KB);
# - the data files gnuplot reads hold the numbers of metrics.jsonl, read here with json and compared with
#   numpy's reading of the data files (exact: the files keep every digit);
# - a running run: a last line cut mid-write is skipped (the rows are those of the complete lines);
# - a run resumed from an older checkpoint repeats steps: the later record of a step is the one plotted;
# - a missing, empty or corrupt metrics.jsonl is exit 2 with a message naming the file (and line, column).
source "$(dirname "$0")/common.sh" "$@"
PLOT=$REPO/launch/plot
run_np 2 train --config "$REPO/configs/fashion_mnist.ini" --train.epochs=2 --train.log_every=50 \
  --data.validation_fraction=0.1 --log.progress=false --checkpoint.dir="$WORK/run" > "$WORK/train.txt" 2>&1 \
  || { tail -20 "$WORK/train.txt"; fail "training run"; }
"$PLOT" "$WORK/run" > "$WORK/plot.txt" 2>&1 || { cat "$WORK/plot.txt"; fail "launch/plot on a finished run"; }

# check_pngs DIR: the PNGs of launch/plot in DIR, with their pixel sizes from plot.gp.
check_pngs() {
  "$PYTHON" - "$1" <<'PY'
import os, struct, sys
sizes = {"curves.png": (1200, 860), "curves_loss.png": (760, 480), "curves_accuracy.png": (760, 480),
         "curves_learning_rate.png": (760, 480), "curves_throughput.png": (760, 480),
         "curves_energy.png": (760, 480)}
for name, want in sizes.items():
    path = os.path.join(sys.argv[1], name)
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{name}: not a PNG signature"
    length, kind, width, height = struct.unpack(">I4sII", data[8:24])
    assert kind == b"IHDR" and length == 13, f"{name}: no IHDR chunk first"
    assert (width, height) == want, f"{name}: {width}x{height}, expected {want}"
    assert data[-12:-4] == b"\x00\x00\x00\x00IEND", f"{name}: no IEND chunk (truncated)"
    assert len(data) > 8000, f"{name}: {len(data)} bytes, an empty picture?"
PY
}
check_pngs "$WORK/run" || fail "PNGs"
pass "six PNGs of the expected sizes"

# check_data DIR JSONL: the data files in DIR against the complete records of JSONL (later record of a
# step wins), each column by name.
check_data() {
  "$PYTHON" - "$1" "$2" <<'PY'
import json, math, sys
import numpy as np
out, jsonl = sys.argv[1], sys.argv[2]
records = []
for line in open(jsonl).read().split("\n"):
    try:
        records.append(json.loads(line))
    except ValueError:
        pass  # blank, or the cut last line
for kind in ("interval", "epoch"):
    path = f"{out}/curves_{kind}.dat"
    columns = open(path).readline().lstrip("#").split()
    table = np.genfromtxt(path, missing_values="n/a", filling_values=np.nan, ndmin=2)
    latest = {r["step"]: r for r in records if r["kind"] == kind}
    steps = sorted(latest)
    assert table.shape == (len(steps), len(columns)), f"{path}: shape {table.shape}, expected {(len(steps), len(columns))}"
    for i, step in enumerate(steps):
        for j, name in enumerate(columns):
            want = latest[step].get(name)
            got = table[i, j]
            if want is None:
                assert math.isnan(got), f"{path} step {step} {name}: {got}, expected missing"
            else:
                assert got == want, f"{path} step {step} {name}: {got!r}, metrics.jsonl has {want!r}"
    print(f"{kind}: {len(steps)} rows x {len(columns)} columns match")
epochs = [r for r in records if r["kind"] == "epoch"]
assert all(r.get("val_loss") is not None and r.get("energy_joules") is not None for r in epochs), \
    "expected validation and energy figures in every epoch record"
PY
}
check_data "$WORK/run" "$WORK/run/metrics.jsonl" || fail "data files against metrics.jsonl"
intervals=$(grep -c '"kind":"interval"' "$WORK/run/metrics.jsonl")
((intervals >= 15)) || fail "only $intervals interval records"
pass "data files hold metrics.jsonl's numbers ($intervals intervals)"

# A running run: the complete lines of the first half, then half of the next line, no newline.
mkdir "$WORK/running"
total=$(wc -l < "$WORK/run/metrics.jsonl")
head -n $((total / 2)) "$WORK/run/metrics.jsonl" > "$WORK/running/metrics.jsonl"
next=$(sed -n "$((total / 2 + 1))p" "$WORK/run/metrics.jsonl")
printf '%s' "${next:0:$((${#next} / 2))}" >> "$WORK/running/metrics.jsonl"
"$PLOT" "$WORK/running" > "$WORK/plot.txt" 2>&1 || { cat "$WORK/plot.txt"; fail "launch/plot on a running run"; }
grep -q "skipping the last line, cut mid-write" "$WORK/plot.txt" || fail "no note on the cut line"
check_data "$WORK/running" "$WORK/running/metrics.jsonl" || fail "running run's data files"
rows=$(grep -vc '^#' "$WORK/running/curves_interval.dat")
(( rows + $(grep -vc '^#' "$WORK/running/curves_epoch.dat") == total / 2 )) || fail "running run: rows are not the complete lines"
pass "a running run's cut last line is skipped"

# A resumed run that repeats a step: the later record wins.
mkdir "$WORK/resumed"
cp "$WORK/run/metrics.jsonl" "$WORK/resumed/"
"$PYTHON" - "$WORK/resumed/metrics.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
first = json.loads(lines[0])
first["loss"] = 9.5; first["accuracy"] = None
open(sys.argv[1], "a").write(json.dumps(first) + "\n")
PY
"$PLOT" "$WORK/resumed" > "$WORK/plot.txt" 2>&1 || { cat "$WORK/plot.txt"; fail "launch/plot on a resumed run"; }
check_data "$WORK/resumed" "$WORK/resumed/metrics.jsonl" || fail "resumed run's data files"
awk 'NR == 2 { exit !($3 == "9.5" && $4 == "n/a") }' "$WORK/resumed/curves_interval.dat" \
  || fail "the repeated step's later record is not the one plotted"
pass "a repeated step plots its later record"

# Bad input: exit 2 naming the file.
mkdir "$WORK/none" "$WORK/empty" "$WORK/corrupt"
expect_code 2 "$PLOT" "$WORK/none"
grep -q "$WORK/none/metrics.jsonl: no such file" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "missing file message"; }
: > "$WORK/empty/metrics.jsonl"
expect_code 2 "$PLOT" "$WORK/empty"
grep -q "$WORK/empty/metrics.jsonl: empty" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "empty file message"; }
{ head -n 2 "$WORK/run/metrics.jsonl"; echo '{"kind": "interval", "step": 7,'; tail -n 1 "$WORK/run/metrics.jsonl"; } \
  > "$WORK/corrupt/metrics.jsonl"
expect_code 2 "$PLOT" "$WORK/corrupt"
grep -q "$WORK/corrupt/metrics.jsonl:3:32: not JSON" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "corrupt line message"; }
expect_code 2 "$PLOT"
expect_code 2 "$PLOT" "$WORK/no-such-dir"
pass "missing, empty and corrupt metrics.jsonl: exit 2 naming the file"
