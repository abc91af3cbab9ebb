#!/usr/bin/env bash
# data.shuffle = local (each rank loads and shuffles only its contiguous 1/N of the training records):
# - a world of one is bit-identical to global shuffling (the same permutation, the same bytes);
# - at 2 ranks on Fashion-MNIST each rank holds exactly half the set in memory (bytes computed from the
#   file's record count), every sample is used once per epoch, and one epoch still learns (>= 0.80);
# - a CSV split by byte ranges over 3 ranks loads every row exactly once (row counts from the file), and
#   a bad cell in the last shard is reported with the file's own line number;
# - resume at the same world size is bit-identical; at another world size it is refused, naming the key;
# - keys that need the whole set on every rank are refused with local shuffling, naming the key.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=120
cfg="$REPO/configs/fashion_mnist.ini"
quiet=(--log.progress=false --train.log_every=50)
train() { local np=$1 dir=$2; shift 2; run_np "$np" train --config "$cfg" "${quiet[@]}" --checkpoint.dir="$WORK/$dir" "$@"; }

# 1 rank: local == global, bit for bit.
train 1 g1 --train.max_steps=30 > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "1 rank, global"; }
train 1 l1 --train.max_steps=30 --data.shuffle=local > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "1 rank, local"; }
[[ $(checksum g1) == "$(checksum l1)" ]] || fail "a world of one: local $(checksum l1) != global $(checksum g1)"
echo "ok: 1 rank, local == global ($(checksum l1))"

# 2 ranks, one epoch, IDX.
train 2 l2 --train.epochs=1 --data.shuffle=local > "$WORK/log2" 2>&1 || { cat "$WORK/log2"; fail "2 ranks, local"; }
grep -q "shard 0 of 2: records \[0, 30000) of 60000" "$WORK/log2" || { cat "$WORK/log2"; fail "no shard log line"; }
records=$("$PYTHON" -c 'import gzip,struct,sys; print(struct.unpack(">I", gzip.open(sys.argv[1]).read(8)[4:])[0])' \
  "$FMNIST/train-labels-idx1-ubyte.gz")
"$PYTHON" - "$WORK/l2/summary.json" "$WORK/g1/summary.json" "$records" <<'PY' || fail "2-rank local run"
import json, sys
s, g, records = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
half = records // 2 * (784 + 4)  # 8-bit pixels and an int32 label per record
m = s["memory"]
assert m["train_storage"] == "uint8", m
assert m["train_data_bytes_per_rank"] == [half, half], (m, half)
assert g["memory"]["train_data_bytes_per_rank"] == [records * (784 + 4)], g["memory"]
assert s["samples"] == records, s["samples"]  # one epoch: every sample of every shard once
assert s["test_accuracy"] >= 0.80, s["test_accuracy"]
print(f"ok: 2 ranks, {m['train_data_bytes_per_rank']} bytes of training data per rank "
      f"(global: {g['memory']['train_data_bytes_per_rank'][0]}), test accuracy {s['test_accuracy']:.4f}")
PY

# CSV over 3 ranks: byte ranges, each row exactly once; 2 epochs to cover an uneven split.
"$PYTHON" "$REPO/launch/make-seed-csv" --rows 301 --seed 5 --output "$WORK/small.csv" > /dev/null
csv=(--data.format=csv --data.train_csv="$WORK/small.csv" --data.test_csv= --data.scaling=divide
     --data.scale_divisor=10 --model.hidden=16 --train.global_batch_size=30 --train.epochs=2)
train 3 c3 "${csv[@]}" --data.shuffle=local > "$WORK/logc" 2>&1 || { cat "$WORK/logc"; fail "CSV, 3 ranks, local"; }
"$PYTHON" - "$WORK/c3/summary.json" "$WORK/small.csv" <<'PY' || fail "CSV shards"
import json, sys
s = json.load(open(sys.argv[1]))
rows = sum(1 for line in open(sys.argv[2]) if line.strip()) - 1  # minus the header
features = len(open(sys.argv[2]).readline().split(",")) - 1
per_rank = [b // ((features + 1) * 4) for b in s["memory"]["train_data_bytes_per_rank"]]
assert sum(per_rank) == rows, (per_rank, rows)
assert all(b % ((features + 1) * 4) == 0 for b in s["memory"]["train_data_bytes_per_rank"])
assert s["samples"] == 2 * rows, (s["samples"], rows)
print(f"ok: CSV of {rows} rows over 3 ranks: {per_rank} rows per rank, {s['samples']} samples in 2 epochs")
PY

# A bad cell in the last rank's shard: every rank stops, and the error names the file's own line (as grep
# counts it), though that rank read only its byte range.
"$PYTHON" - "$WORK/small.csv" "$WORK/bad.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
cells = lines[290].split(","); cells[3] = "oops"; lines[290] = ",".join(cells)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
line=$(grep -n oops "$WORK/bad.csv" | cut -d: -f1)
expect_code 1 train 3 cbad "${csv[@]}" --data.train_csv="$WORK/bad.csv" --data.shuffle=local
grep -q "bad.csv: line $line, column 4 ('f2'): 'oops' is not a number (on rank 2)" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "bad cell in a shard: no 'line $line' message"; }
echo "ok: a bad cell in rank 2's shard is reported at the file's line $line"

# Resume: 2 ranks, 15 + 15 steps == 30 steps; at 3 ranks the checkpoint is refused.
train 2 r30 --train.max_steps=30 --data.shuffle=local > /dev/null 2>&1 || fail "30 steps"
train 2 r15 --train.max_steps=15 --data.shuffle=local > /dev/null 2>&1 || fail "15 steps"
train 2 r15 --train.max_steps=30 --data.shuffle=local --checkpoint.resume=auto > /dev/null 2>&1 || fail "resume"
[[ $(checksum r15) == "$(checksum r30)" ]] || fail "resume with local shuffling: $(checksum r15) != $(checksum r30)"
echo "ok: 15 + 15 steps == 30 steps with local shuffling ($(checksum r30))"
config_before=$(sha256sum < "$WORK/r15/config.ini")
expect_code 1 train 3 r15 --train.max_steps=30 --data.shuffle=local --checkpoint.resume=auto \
  --train.global_batch_size=128
grep -q "world_size = 2 in the checkpoint, 3 now" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no world-size message"; }
grep -q "resumes only at the world size that wrote it, 2" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no hint"; }
# The refused run left the run directory's config.ini as the checkpoints' run wrote it.
[[ $(sha256sum < "$WORK/r15/config.ini") == "$config_before" ]] || fail "a refused resume rewrote config.ini"
echo "ok: resume at another world size refused: $(grep -m1 -o 'world_size = 2 in the checkpoint, 3 now' "$WORK/err.txt")"

# Keys that need the whole set on every rank.
expect_code 2 train 2 bad --data.shuffle=local --data.scaling=standardize
grep -q "data.scaling" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "standardize message"; }
expect_code 2 train 2 bad --data.shuffle=local --data.validation_fraction=0.1
grep -q "data.validation_fraction" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "validation message"; }
# A global batch smaller than the world: a rank's shard would never be used.
expect_code 2 train 3 bad --data.shuffle=local --train.global_batch_size=2 --train.max_steps=1
grep -q "config key train.global_batch_size = 2: must be at least the world size (3)" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "small global batch message"; }
pass "local shuffling"
