#!/usr/bin/env bash
# data.format = text (issue 12): a byte-level GPT (2 transformer blocks, n_embd 32, 4 heads, context 16)
# on a generated text that also holds bytes which are not valid UTF-8. 20 steps on the same global batch at
# 1, 2 and 3 ranks give the same parameters (an epoch is 15 steps, the last one partial: the second epoch's
# offset is used too); 10 + 10 steps resumed equal 20 at once, and 10 at 2 ranks resumed for 10 at 3 ranks
# equal 20 at 2 within tolerance; 1 rank accumulating 3 micro-batches equals 3 ranks; `evaluate` on the text is the same at 1 and 3 ranks, and on the
# held-out tail equals the run's validation loss; the reports hold the per-token metrics; bad inputs exit
# non-zero on 2 ranks with the file or key in the message.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=120

# 3000 bytes of words, then every byte 0x80..0xff once (3128 bytes; the last 313 held out): floor((2815 - 16) /
# 16) = 174 training windows, ceil(174 / 12) = 15 steps per epoch.
"$PYTHON" - "$WORK/text.txt" <<'PY'
import random, sys
r = random.Random(12)
words = "in the beginning god created the heaven and the earth and the earth was without form".split()
text = " ".join(r.choice(words) for _ in range(600)).encode()[:3000] + bytes(range(0x80, 0x100))
open(sys.argv[1], "wb").write(text)
PY
size=$(stat -c %s "$WORK/text.txt")
cat > "$WORK/gpt.json" <<'JSON'
{"input_shape": [16], "layers": [{"type": "embedding", "vocabulary": 256, "dim": 32},
 {"type": "transformer_block", "heads": 4}, {"type": "transformer_block", "heads": 4},
 {"type": "layer_norm", "name": "ln_f"}, {"type": "tied_output", "vocabulary": 256}]}
JSON
cat > "$WORK/text.ini" <<EOF2
[data]
format = text
train_text = $WORK/text.txt
validation_fraction = 0.1
[model]
spec = $WORK/gpt.json
[optim]
name = adamw
learning_rate = 0.003
weight_decay = 0.1
[train]
epochs = 5
global_batch_size = 12
max_steps = 20
log_every = 5
check_replicas_every = 1
EOF2
common=(--log.progress=false)

for np in 1 2 3; do
  run_np "$np" train --config "$WORK/text.ini" "${common[@]}" --checkpoint.dir="$WORK/np$np" > "$WORK/train$np.log" 2>&1 \
    || { cat "$WORK/train$np.log"; fail "training on text with $np ranks"; }
done
grep -q "loss/token .* bpb" "$WORK/train1.log" || { cat "$WORK/train1.log"; fail "no loss/token and bpb on the console"; }
"$PYTHON" "$REPO/tests/python/world_size_params.py" --tolerance 1e-5 "$WORK" 20 12 1 2 3 \
  || fail "a language model's parameters differ across world sizes"
# One rank accumulating 3 micro-batches of 4 windows per step equals 3 ranks of 4 windows each: the
# gradient is averaged over the step's tokens, whichever way they were split.
mkdir -p "$WORK/accumulate" && ln -s "$WORK/np3" "$WORK/accumulate/np3"
run_np 1 train --config "$WORK/text.ini" "${common[@]}" --train.global_batch_size=4 --train.accumulate_steps=3 \
  --checkpoint.dir="$WORK/accumulate/np1" > "$WORK/accumulate.log" 2>&1 \
  || { cat "$WORK/accumulate.log"; fail "training on text with accumulation"; }
"$PYTHON" "$REPO/tests/python/world_size_params.py" "$WORK/accumulate" 20 12 3 1 \
  || fail "accumulating 3 micro-batches on one rank differs from 3 ranks"

# The reports: per-token metrics, consistent with each other.
"$PYTHON" - "$WORK/np2" "$size" <<'PY' || fail "summary.json or metrics.jsonl of a text run"
import json, math, sys
run, size = sys.argv[1], int(sys.argv[2])
s = json.load(open(f"{run}/summary.json"))
held_out = round(0.1 * size)
train_windows = (size - held_out - 16) // 16
samples = train_windows + 5 * 12  # the first epoch, then 5 steps of the second
assert s["context"] == 16 and s["tokens"] == samples * 16, s["tokens"]
assert s["samples"] == samples and abs(s["tokens_per_second"] - 16 * s["samples_per_second"]) < 1e-6 * s["tokens_per_second"]
assert s["epochs"] == 1 and train_windows == 174, (s["epochs"], train_windows)  # 15 steps per epoch
v = s["validation_loss"]
assert 0 < v < math.log(256) and abs(s["validation_bits_per_byte"] - v / math.log(2)) < 1e-12
assert abs(s["validation_perplexity"] - math.exp(v)) < 1e-9 * math.exp(v)
assert s["validation_tokens"] == (held_out - 1) // 16 * 16, s["validation_tokens"]
e = s["energy"]
assert abs(e["joules_per_token"] - e["joules_per_sample"] / 16) <= 1e-12 * e["joules_per_sample"], e
records = [json.loads(line) for line in open(f"{run}/metrics.jsonl")]
intervals = [r for r in records if r["kind"] == "interval"]
epochs = [r for r in records if r["kind"] == "epoch"]
assert len(intervals) == 4 and all(r["tokens_per_second"] > 0 for r in intervals)
assert all(abs(r["bits_per_byte"] - r["loss"] / math.log(2)) < 1e-12 for r in intervals)
assert intervals[-1]["loss"] < intervals[0]["loss"] < math.log(256) + 0.5, [r["loss"] for r in intervals]
for r in epochs:
    assert abs(r["val_bits_per_byte"] - r["val_loss"] / math.log(2)) < 1e-12 and "joules_per_token" in r, r
print(f"validation loss/token {v:.4f}, {s['validation_bits_per_byte']:.4f} bpb, {s['tokens_per_second']:.0f} tokens/s")
PY

# Exact resume at 2 ranks: 10 steps, then 10 more from the checkpoint, equal 20 at once.
run_np 2 train --config "$WORK/text.ini" "${common[@]}" --train.max_steps=10 --checkpoint.dir="$WORK/resume" \
  > "$WORK/resume1.log" 2>&1 || { cat "$WORK/resume1.log"; fail "the first 10 steps"; }
run_np 2 train --config "$WORK/text.ini" "${common[@]}" --checkpoint.resume=auto --checkpoint.dir="$WORK/resume" \
  > "$WORK/resume2.log" 2>&1 || { cat "$WORK/resume2.log"; fail "resuming for 10 more steps"; }
[[ $(checksum resume) == $(checksum np2) ]] || fail "10 + 10 steps gave $(checksum resume), 20 at once $(checksum np2)"
pass "exact resume of a text run: checksum $(checksum np2)"
# A resume at another world size continues the trajectory: 10 steps at 2 ranks, 10 more at 3, equal 20 at 2
# ranks within the float tolerance of the world-size runs above.
mkdir -p "$WORK/other/np3"
cp "$WORK/resume/checkpoint-00000010.h5" "$WORK/other/np3/"
run_np 3 train --config "$WORK/text.ini" "${common[@]}" --checkpoint.resume=auto --checkpoint.dir="$WORK/other/np3" \
  > "$WORK/other.log" 2>&1 || { cat "$WORK/other.log"; fail "resuming at 3 ranks"; }
ln -s "$WORK/np2" "$WORK/other/np2"
"$PYTHON" "$REPO/tests/python/world_size_params.py" "$WORK/other" 20 12 2 3 || fail "a resume at 3 ranks left the trajectory"

# evaluate: the whole file at 1 and 3 ranks, and the held-out tail equals the run's validation loss.
ckpt="$WORK/np1/model.h5"
held_out=$("$PYTHON" -c "print(round(0.1 * $size))")
tail -c "$held_out" "$WORK/text.txt" > "$WORK/tail.txt"
for np in 1 3; do
  run_np "$np" evaluate --checkpoint "$ckpt" --data "$WORK/text.txt" --output "$WORK/eval$np.json" \
    > "$WORK/eval$np.txt" 2> "$WORK/eval$np.err" || { cat "$WORK/eval$np.err"; fail "evaluate on text, $np ranks"; }
done
run_np 2 evaluate --checkpoint "$ckpt" --data "$WORK/tail.txt" --output "$WORK/tail.json" > /dev/null \
  2> "$WORK/tail.err" || { cat "$WORK/tail.err"; fail "evaluate on the tail"; }
grep -q "^tokens .* loss/token .* bits/byte .* perplexity" "$WORK/eval1.txt" || fail "evaluate's text report"
"$PYTHON" - "$WORK" "$size" <<'PY' || fail "evaluate on text"
import json, math, sys
w, size = sys.argv[1], int(sys.argv[2])
e1, e3 = json.load(open(f"{w}/eval1.json")), json.load(open(f"{w}/eval3.json"))
assert e1["windows"] == (size - 1) // 16 and e1["tokens"] == e1["windows"] * 16, e1
assert e1 == e3, (e1, e3)  # every value, at 1 and 3 ranks
assert abs(e1["bits_per_byte"] - e1["loss"] / math.log(2)) < 1e-12 and abs(e1["perplexity"] - math.exp(e1["loss"])) < 1e-9 * e1["perplexity"]
tail, s = json.load(open(f"{w}/tail.json")), json.load(open(f"{w}/np1/summary.json"))
assert tail["tokens"] == s["validation_tokens"] and abs(tail["loss"] - s["validation_loss"]) <= 1e-6 * tail["loss"], (tail, s)
print(f"evaluate: {e1['tokens']} tokens, loss/token {e1['loss']:.6f} at 1 and 3 ranks; tail {tail['loss']:.6f}")
PY
pass "evaluate on text"

# Bad inputs: non-zero exit on every rank, the file or key named.
: > "$WORK/empty.txt"
head -c 20 "$WORK/text.txt" > "$WORK/short.txt"   # < 2·T: not one training window at every offset
head -c 16 "$WORK/text.txt" > "$WORK/shorter.txt"  # < T + 1: not one validation window
cat > "$WORK/flat2d.json" <<'JSON'
{"input_shape": [4, 4], "layers": [{"type": "flatten"}, {"type": "dense", "units": 4}]}
JSON
sed 's/"heads": 4}, {"type": "transformer_block"/"heads": 3}, {"type": "transformer_block"/' "$WORK/gpt.json" > "$WORK/heads3.json"
bad() {  # bad CODE FRAGMENT OVERRIDES...
  local code=$1 fragment=$2; shift 2
  expect_code "$code" run_np 2 train --config "$WORK/text.ini" "${common[@]}" --checkpoint.dir="$WORK/bad" "$@"
  grep -qF -- "$fragment" "$WORK/err.txt" "$WORK/out.txt" || { cat "$WORK/err.txt"; fail "'$fragment' not in the message of $*"; }
}
bad 1 "$WORK/empty.txt: the file is empty" --data.train_text="$WORK/empty.txt"
bad 1 "$WORK/missing.txt: no such file" --data.train_text="$WORK/missing.txt"
bad 1 "$WORK/short.txt: 20 bytes, fewer than one window" --data.train_text="$WORK/short.txt" --data.validation_fraction=0
bad 1 "$WORK/shorter.txt: 16 bytes, fewer than one window" --data.validation_fraction=0 --data.validation_text="$WORK/shorter.txt"
bad 1 "data.validation_fraction = 0.995" --data.validation_fraction=0.995
bad 1 "data.validation_fraction = 0.001" --data.validation_fraction=0.001
bad 2 "config key data.train_text" --data.train_text=
bad 2 "config key data.shuffle" --data.shuffle=local
bad 2 "config key model.spec = '$WORK/flat2d.json': input_shape (4, 4) must have one dimension" --model.spec="$WORK/flat2d.json"
bad 2 "layer 1: layer h.0.attn (causal_self_attention): heads = 3 must be >= 1 and divide the 32 channels" \
  --model.spec="$WORK/heads3.json"  # n_embd not divisible by n_head
[[ ! -e "$WORK/bad/summary.json" ]] || fail "a refused run wrote summary.json"
expect_code 1 run_np 2 evaluate --checkpoint "$ckpt" --data "$WORK/shorter.txt"
grep -qF "$WORK/shorter.txt: 16 bytes, fewer than one window" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "evaluate on a short text"; }
pass "bad text inputs"
pass "text"
