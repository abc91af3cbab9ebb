#!/usr/bin/env bash
# Data augmentation and sample shapes. With data.augment = flip_horizontal, shift:2 (drawn per sample from
# the seed, the epoch and the global sample index): 20 steps on the same global batch at 1, 2 and 3 ranks
# agree within 1e-5 relative and differ from the run without augmentation; 10 + 10 steps resumed equal 20
# steps bit for bit, and a resume with another augmentation is refused. Bad values of data.augment and
# data.sample_shape, and a model input_shape that is not the images' shape, exit 2 naming the key.
source "$(dirname "$0")/common.sh" "$@"
cfg="$REPO/configs/fashion_mnist.ini"
common=(--train.max_steps=20 --train.global_batch_size=96 --log.progress=false --train.log_every=5)
aug=(--data.augment="flip_horizontal, shift:2")
for np in 1 2 3; do
  run_np "$np" train --config "$cfg" "${common[@]}" "${aug[@]}" --checkpoint.dir="$WORK/np$np" \
    > "$WORK/train$np.log" 2>&1 || { cat "$WORK/train$np.log"; fail "augmented training with $np ranks"; }
done
run_np 2 train --config "$cfg" "${common[@]}" --checkpoint.dir="$WORK/plain" > "$WORK/plain.log" 2>&1 \
  || { cat "$WORK/plain.log"; fail "training without augmentation"; }
"$PYTHON" - "$WORK" <<'PY' || fail "augmented runs depend on the world size"
import sys, numpy as np, ckpt
work = sys.argv[1]
p1 = ckpt.final_parameters(f"{work}/np1")
for n in (2, 3):
    rel = np.abs(ckpt.final_parameters(f"{work}/np{n}") - p1).max() / np.abs(p1).max()
    print(f"augmented, world size {n} vs 1: max |diff| / max |param| = {rel:.3e}")
    assert rel <= 1e-5, rel
plain = ckpt.final_parameters(f"{work}/plain")
rel = np.abs(plain - p1).max() / np.abs(p1).max()
print(f"augmented vs not: {rel:.3e}")
assert rel > 1e-3, "augmentation changed nothing"
PY
grep -q "^augment = flip_horizontal, shift:2" "$WORK/np1/config.ini" || fail "config.ini does not keep data.augment"

# Exact resume with augmentation: 10 steps, then 10 more from the checkpoint, equal 20 steps.
run_np 2 train --config "$cfg" "${common[@]}" "${aug[@]}" --train.max_steps=10 --checkpoint.dir="$WORK/split" \
  > "$WORK/split1.log" 2>&1 || { cat "$WORK/split1.log"; fail "first half"; }
run_np 2 train --config "$cfg" "${common[@]}" "${aug[@]}" --checkpoint.dir="$WORK/split" --checkpoint.resume=auto \
  > "$WORK/split2.log" 2>&1 || { cat "$WORK/split2.log"; fail "second half"; }
[[ $(checksum split) == $(checksum np2) ]] || fail "10 + 10 augmented steps: $(checksum split), 20 steps: $(checksum np2)"
# A resume with another augmentation is another trajectory.
set +e
run_np 2 train --config "$cfg" "${common[@]}" --data.augment=flip_horizontal --train.max_steps=30 \
  --checkpoint.dir="$WORK/split" --checkpoint.resume=auto > "$WORK/other.log" 2>&1
got=$?
set -e
[[ $got -ne 0 ]] && grep -q "data.augment = flip_horizontal, shift:2 in the checkpoint, flip_horizontal now" "$WORK/other.log" \
  || { cat "$WORK/other.log"; fail "resume with another data.augment: exit $got"; }
pass "augmentation is independent of the world size and resumes exactly"

# expect PATTERN ARGS...: train exits 2 with PATTERN in its error output.
expect() {
  local pattern=$1; shift
  set +e
  run_np 2 train --config "$cfg" "${common[@]}" --checkpoint.dir="$WORK/bad" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local got=$?
  set -e
  [[ $got -eq 2 ]] || { cat "$WORK/err.txt"; fail "exit $got, expected 2: $*"; }
  grep -qF -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$pattern' in the message: $*"; }
  [[ ! -e "$WORK/bad/summary.json" ]] || fail "a refused run trained: $*"
  echo "ok: $(grep -m1 -F -- "$pattern" "$WORK/err.txt" | cut -c1-200)"
}
expect "config key data.augment = 'flip_vertical': unknown item 'flip_vertical'" --data.augment=flip_vertical
expect "config key data.augment = 'shift:40': a shift of 40 pixels does not fit images of shape (28, 28, 1)" \
  --data.augment=shift:40
expect "config key data.sample_shape = (28, 28, 2): 1568 values per sample" --data.sample_shape=28,28,2
expect "config key data.augment = 'flip_horizontal': augmentation needs images of shape (height, width, channels); the samples have shape (784)" \
  --data.sample_shape=784 --data.augment=flip_horizontal
printf '%s' '{"input_shape": [1, 28, 28], "layers": [{"type": "dense", "units": 10}]}' > "$WORK/chw.json"
grep -vE '^(hidden|activation) *=' "$cfg" > "$WORK/spec.ini"
set +e
run_np 2 train --config "$WORK/spec.ini" "${common[@]}" --model.spec="$WORK/chw.json" --checkpoint.dir="$WORK/bad" \
  > "$WORK/out.txt" 2> "$WORK/err.txt"
got=$?
set -e
[[ $got -eq 2 ]] && grep -qF "input_shape (1, 28, 28) differs from the data's sample shape (28, 28, 1)" "$WORK/err.txt" \
  || { cat "$WORK/err.txt"; fail "a channels-first input_shape on IDX images: exit $got"; }
pass "bad augmentation and sample shapes are named"
