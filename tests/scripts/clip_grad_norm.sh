#!/usr/bin/env bash
# train.clip_grad_norm: with plain SGD (lr 0.1) and the global norm clipped to 1e-3, every step moves the
# parameters by exactly lr x 1e-3 = 1e-4 in L2 norm (the unclipped gradient is far larger), on every rank alike.
source "$(dirname "$0")/common.sh" "$@"
run_np 2 train --config "$REPO/configs/fashion_mnist.ini" --optim.name=sgd --optim.learning_rate=0.1 \
  --train.clip_grad_norm=0.001 --train.max_steps=4 --checkpoint.every_steps=1 --train.check_replicas_every=1 \
  --checkpoint.dir="$WORK/run" --log.progress=false > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "training"; }
run_np 2 train --config "$REPO/configs/fashion_mnist.ini" --optim.name=sgd --optim.learning_rate=0.1 \
  --train.max_steps=2 --checkpoint.every_steps=1 --checkpoint.dir="$WORK/free" --log.progress=false \
  > "$WORK/log" 2>&1 || { cat "$WORK/log"; fail "training without clipping"; }
"$PYTHON" - "$WORK" <<'PY' || fail "clipped steps do not have the clipped norm"
import sys, numpy as np, ckpt
def params(path):
    return ckpt.flat_parameters(path).astype(np.float64)  # differences of 1e-4 in norm, to 1e-3 relative
w = sys.argv[1]
p = [params(f"{w}/run/checkpoint-{s:08d}.h5") for s in (1, 2, 3, 4)]
for a, b in zip(p, p[1:]):
    step = np.linalg.norm(b - a)
    print(f"clipped step norm {step:.6e} (expected 1e-4)")
    assert abs(step - 1e-4) <= 1e-3 * 1e-4, step
free = np.linalg.norm(params(f"{w}/free/checkpoint-00000002.h5") - params(f"{w}/free/checkpoint-00000001.h5"))
print(f"unclipped step norm {free:.3e}")
assert free > 10 * 1e-4, free
PY
pass "gradient clipping by global norm"
