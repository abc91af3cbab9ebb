#!/usr/bin/env bash
# The projection model (mpitrain/dist/allreduce_model.hpp, mpitrain_project) against runs at 1 to 4 ranks
# on this machine. Open MPI is told to use the ring allreduce (coll_tuned algorithm 4), the algorithm the
# model describes, for the benchmark and the training runs alike.
#
# 1. Allreduce: α and β are fitted to 2-rank timings of 4 KiB, 64 KiB, 256 KiB and 4 MiB messages; the
#    model's time for the MLP's gradient (940584 bytes, not in the fit) must be within a factor 1.5 of the
#    measured 2-rank time (the benchmark's 10th percentile of single calls).
# 2. Compute: c and the fixed per-step time come from 1-rank runs at global batch 96 and 48; the model's
#    1-rank step at global batch 72 (not in the fit) must be within a factor 1.5 of the measured one.
#    Step times are those of the fastest log interval (10 steps) of each run, the least disturbed by the
#    other jobs of a shared machine (as the benchmark's percentile).
# 3. World sizes 2 to 4, allreduce and whole training step: where ranks exceed the cores (3 and 4 ranks
#    on 2 cores) they time-share them, and a step needs every rank scheduled at once to pass its
#    allreduce; on a machine shared with other jobs the same holds at 2 ranks. The model (compute × N/cores
#    when N > cores, a contention-free allreduce) is then a lower bound: the measured times must not be
#    below 0.67 × the projection. The ratios are printed (on the build machine, 3 to 40: contention).
# Why a factor 1.5 for checks 1 and 2: repeated runs of this script on the 2-core build machine, shared
# with other jobs (load 5 to 9), gave ratios of 0.67 to 1.18 for check 2 and 0.71 to 0.99 for check 1;
# 1.5 still fails a wrong model (a missing factor 2 in either term of the ring cost, or a per-sample cost
# mistaken for a per-step one).
source "$(dirname "$0")/common.sh" "$@"
BIN=$(dirname "$MPITRAIN")
ring=(--mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm 4)
bench() {  # bench NP OUT SIZES
  # shellcheck disable=SC2086
  timeout -k 10 300 mpirun -np "$1" $MPIRUN_FLAGS "${ring[@]}" "$BIN/mpitrain_allreduce_bench" --sizes "$3" \
    --output "$2" > "$WORK/bench.log" 2>&1 || { cat "$WORK/bench.log"; fail "allreduce benchmark with $1 ranks"; }
}
train() {  # train NP GLOBAL_BATCH DIR
  # shellcheck disable=SC2086
  timeout -k 10 300 mpirun -np "$1" $MPIRUN_FLAGS "${ring[@]}" "$MPITRAIN" train --config "$REPO/configs/fashion_mnist.ini" \
    --train.max_steps=400 --train.log_every=10 --train.global_batch_size="$2" --checkpoint.dir="$3" \
    --checkpoint.every_epochs=0 --log.progress=false > "$3.log" 2>&1 || { cat "$3.log"; fail "training with $1 ranks"; }
}
grad=940584   # the Fashion-MNIST MLP 784-256-128-10: 235146 float parameters
bench 2 "$WORK/fit2.json" 4096,65536,262144,4194304
for np in 2 3 4; do bench "$np" "$WORK/grad$np.json" "$grad"; done
for g in 96 48 72; do train 1 "$g" "$WORK/np1-g$g"; done
for np in 2 3 4; do train "$np" 96 "$WORK/np$np-g96"; done
project() {  # project BATCH RANKS [more options]
  local batch=$1 ranks=$2
  shift 2
  "$BIN/mpitrain_project" --summary "$WORK/np1-g96/summary.json" --summary "$WORK/np1-g48/summary.json" \
    --step-time best-interval --bench "$WORK/fit2.json" --network measured --cores "$(nproc)" \
    --batch "$batch" --ranks "$ranks" "$@"
}
project 96 1,2,3,4 --format json > "$WORK/projection.json" || fail "mpitrain_project"
project 72 1 --format json > "$WORK/projection72.json" || fail "mpitrain_project"
project 96 1,2,3,4

"$PYTHON" - "$WORK" "$(nproc)" <<'PY' || fail "the model disagrees with the runs"
import json, sys
work, cores = sys.argv[1], int(sys.argv[2])
proj = json.load(open(f"{work}/projection.json"))
net = proj["networks"][0]
points = {p["world_size"]: p for p in net["points"]}
print(f"fitted on 2 ranks: alpha = {net['latency_seconds']*1e6:.2f} us, "
      f"beta = {net['bandwidth_bytes_per_second']/1e9:.2f} GB/s; c = {proj['compute_seconds_per_sample']*1e6:.2f} "
      f"us/sample, fixed = {proj['fixed_seconds_per_step']*1e3:.3f} ms/step")
ok = True

def best_step(run, batch):
    rows = [json.loads(line) for line in open(f"{work}/{run}/metrics.jsonl") if line.strip()]
    return batch / max(r["samples_per_second"] for r in rows if r.get("kind") == "interval")

def check(what, n, measured, predicted, contended):
    global ok
    ratio = measured / predicted
    if contended:
        good, rule = ratio >= 0.67, f"{n} ranks, {cores} cores, shared: lower bound"
    else:
        good, rule = 1 / 1.5 <= ratio <= 1.5, "within x1.5"
    print(f"{what:9s} N={n}: measured {measured*1e3:8.3f} ms, model {predicted*1e3:8.3f} ms, "
          f"ratio {ratio:5.2f} [{rule}] {'ok' if good else 'FAIL'}")
    ok = ok and good

p72 = json.load(open(f"{work}/projection72.json"))["networks"][0]["points"][0]
check("step G=72", 1, best_step("np1-g72", 72), p72["step_seconds"], False)
for n in (2, 3, 4):
    bench = json.load(open(f"{work}/grad{n}.json"))
    check("allreduce", n, bench["samples"][0]["seconds"], points[n]["allreduce_seconds"], n > cores)
for n in (2, 3, 4):
    check("step G=96", n, best_step(f"np{n}-g96", 96), points[n]["step_seconds"], True)
sys.exit(0 if ok else 1)
PY
pass "the projection model agrees with runs at 1 to 4 ranks"
