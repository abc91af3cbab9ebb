#!/usr/bin/env bash
# mpitrain generate (issue 12) end to end, on checkpoints written by tests/interop/lm_checkpoint (LM_CHECKPOINT,
# set by CTest) with random weights:
# - the same seed gives the same bytes (twice at 1 rank, and at 2 ranks), another seed other bytes; only rank 0
#   writes to stdout, exactly --tokens bytes;
# - greedy (--temperature 0) and --top-k 1 agree whatever the seed; the GPT of configs/kjv_gpt.json alike at
#   1 and 2 ranks;
# - bad input (--context > T, a negative temperature, --top-k > V, a classification checkpoint, 16 logits
#   instead of 256, no --tokens)
#   fails with a non-zero exit on every rank and a message naming the option and the values.
source "$(dirname "$0")/common.sh" "$@"
: "${LM_CHECKPOINT:?set by CTest: the lm_checkpoint test helper}"
# The block-free GPT stack: embedding, layer norm, q|k|v, causal attention, projection, tied output; T = 16.
cat > "$WORK/lm.json" <<'JSON'
{"input_shape": [16], "layers": [
  {"type": "embedding", "vocabulary": 256, "dim": 32}, {"type": "layer_norm"},
  {"type": "dense", "units": 96}, {"type": "causal_self_attention", "heads": 4},
  {"type": "dense", "units": 32}, {"type": "tied_output", "vocabulary": 256}]}
JSON
echo '{"input_shape": [784], "layers": [{"type": "dense", "units": 10}]}' > "$WORK/mlp.json"
echo '{"input_shape": [4], "layers": [{"type": "embedding", "vocabulary": 16, "dim": 4},
  {"type": "tied_output", "vocabulary": 16}]}' > "$WORK/v16.json"
"$LM_CHECKPOINT" --spec "$WORK/lm.json" --output "$WORK/lm.h5" --seed 7 --scale 5 || fail "lm_checkpoint"
"$LM_CHECKPOINT" --spec "$WORK/mlp.json" --output "$WORK/mlp.h5" || fail "lm_checkpoint (MLP)"
"$LM_CHECKPOINT" --spec "$WORK/v16.json" --output "$WORK/v16.h5" || fail "lm_checkpoint (V = 16)"
generate() { run_np "$1" generate --checkpoint "$WORK/lm.h5" "${@:2}"; }

generate 1 --prompt "In the beginning" --tokens 200 --seed 5 > "$WORK/a1.bin" 2> "$WORK/a1.log" || { cat "$WORK/a1.log"; fail "generate at 1 rank"; }
generate 1 --prompt "In the beginning" --tokens 200 --seed 5 > "$WORK/b1.bin" 2> /dev/null || fail "generate again"
generate 2 --prompt "In the beginning" --tokens 200 --seed 5 > "$WORK/a2.bin" 2> "$WORK/a2.log" || { cat "$WORK/a2.log"; fail "generate at 2 ranks"; }
generate 1 --prompt "In the beginning" --tokens 200 --seed 6 > "$WORK/c1.bin" 2> /dev/null || fail "generate with seed 6"
[[ $(stat -c %s "$WORK/a1.bin") -eq 200 && $(stat -c %s "$WORK/a2.bin") -eq 200 ]] || fail "not 200 bytes on stdout"
cmp "$WORK/a1.bin" "$WORK/b1.bin" || fail "the same seed gave other bytes"
cmp "$WORK/a1.bin" "$WORK/a2.bin" || fail "2 ranks gave other bytes than 1"
cmp -s "$WORK/a1.bin" "$WORK/c1.bin" && fail "seeds 5 and 6 gave the same 200 bytes"
grep -q "generate: 200 bytes after a prompt of 16 bytes" "$WORK/a1.log" || { cat "$WORK/a1.log"; fail "no log line on stderr"; }
pass "same seed same bytes (twice, and at 2 ranks), another seed other bytes"

generate 1 --tokens 60 --top-k 1 --seed 9 --context 8 --prompt "the beginning" > "$WORK/top1.bin" 2> /dev/null || fail "top-k 1"
generate 1 --tokens 60 --temperature 0 --context 8 --prompt "the beginning" > "$WORK/greedy8.bin" 2> /dev/null || fail "greedy, context 8"
cmp "$WORK/top1.bin" "$WORK/greedy8.bin" || fail "--top-k 1 differs from --temperature 0"
pass "greedy and top-k 1 agree"

# The GPT of configs/kjv_gpt.json (4 blocks, T = 64) at its initialisation: 1 and 2 ranks alike.
"$LM_CHECKPOINT" --spec "$REPO/configs/kjv_gpt.json" --output "$WORK/gpt.h5" --seed 3 || fail "lm_checkpoint (GPT)"
for np in 1 2; do
  run_np $np generate --checkpoint "$WORK/gpt.h5" --prompt "And God said" --tokens 100 --top-k 40 --seed 2 \
    > "$WORK/gpt$np.bin" 2> "$WORK/gpt$np.log" || { cat "$WORK/gpt$np.log"; fail "GPT at $np ranks"; }
done
[[ $(stat -c %s "$WORK/gpt1.bin") -eq 100 ]] || fail "GPT: not 100 bytes"
cmp "$WORK/gpt1.bin" "$WORK/gpt2.bin" || fail "GPT: 2 ranks gave other bytes than 1"
pass "the kjv_gpt.json GPT generates the same bytes at 1 and 2 ranks"

# bad NP CODE PATTERN ARGS...: generate fails with CODE on NP ranks, its message matching PATTERN.
bad() {
  local np=$1 code=$2 pattern=$3; shift 3
  expect_code "$code" run_np "$np" generate "$@"
  grep -q -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$pattern' for: $*"; }
  [[ ! -s "$WORK/out.txt" ]] || fail "something on stdout for: $*"
}
bad 2 2 "context 17 is outside \[1, T\] with T = 16" --checkpoint "$WORK/lm.h5" --tokens 5 --context 17
bad 2 2 "temperature -0.5 must be a finite number >= 0" --checkpoint "$WORK/lm.h5" --tokens 5 --temperature=-0.5
bad 1 2 "top-k 257 is outside \[0, 256\]" --checkpoint "$WORK/lm.h5" --tokens 5 --top-k 257
bad 2 1 "mlp.h5: the model maps (784) to (10) per sample, not (T) token ids to (T, V) logits" \
  --checkpoint "$WORK/mlp.h5" --tokens 5
bad 2 1 "v16.h5: the model's logits are (T, V) = (4, 16): generation needs byte logits, V = 256" \
  --checkpoint "$WORK/v16.h5" --tokens 5
bad 2 2 "generate: --tokens is required" --checkpoint "$WORK/lm.h5"
bad 2 1 "missing.h5" --checkpoint "$WORK/missing.h5" --tokens 5
pass "bad input named, non-zero exit, nothing on stdout"
