#!/usr/bin/env bash
# launch/slurm.sbatch's time-limit cycle without SLURM: the script is run by bash with SLURM_JOB_ID set and a
# fake scontrol on the PATH; SIGUSR1 to the script (what `#SBATCH --signal=B:USR1@120` sends) must reach
# the ranks through mpirun, make rank 0 write a checkpoint, and end in `scontrol requeue <job id>` with exit
# 0; the requeued start (the same script again) must resume from that checkpoint and finish the run.
source "$(dirname "$0")/common.sh" "$@"
mkdir -p "$WORK/bin"
printf '#!/bin/sh\necho "$@" >> "%s/scontrol.calls"\n' "$WORK" > "$WORK/bin/scontrol"
chmod +x "$WORK/bin/scontrol"
job() {  # job LOG: the batch script as SLURM would start it, in the background
  PATH="$WORK/bin:$PATH" SLURM_JOB_ID=4242 SLURM_JOB_NAME=mpitrain SLURM_SUBMIT_DIR="$REPO" \
    MPITRAIN="$MPITRAIN" MPIRUN_FLAGS="-np 2 $MPIRUN_FLAGS" RUN_DIR="$WORK/run" \
    CONFIG="$REPO/configs/fashion_mnist.ini" \
    bash "$REPO/launch/slurm.sbatch" --train.epochs=1 --train.log_every=20 > "$1" 2>&1 &
  job_pid=$!
}
job "$WORK/first.log"
# Signal once training is under way (the first metrics line), as the time limit would.
for _ in $(seq 600); do
  grep -q "step 20/" "$WORK/first.log" 2>/dev/null && break
  kill -0 "$job_pid" 2>/dev/null || { cat "$WORK/first.log"; fail "the job ended before it was signalled"; }
  sleep 0.2
done
kill -USR1 "$job_pid"
code=0
timeout 120 tail --pid="$job_pid" -f /dev/null || fail "the job did not stop within 120 s of SIGUSR1"
wait "$job_pid" || code=$?
[[ $code -eq 0 ]] || { cat "$WORK/first.log"; fail "the signalled job exited with $code, expected 0 after requeueing"; }
grep -q "stop signal received" "$WORK/first.log" || { cat "$WORK/first.log"; fail "the ranks did not see the signal"; }
[[ $(cat "$WORK/scontrol.calls" 2>/dev/null) == "requeue 4242" ]] || fail "no 'scontrol requeue 4242' (got: $(cat "$WORK/scontrol.calls" 2>/dev/null))"
ls "$WORK/run"/checkpoint-*.h5 >/dev/null || fail "no checkpoint written"
job "$WORK/second.log"
wait "$job_pid" || { cat "$WORK/second.log"; fail "the requeued job failed"; }
grep -q "resumed from $WORK/run/checkpoint-" "$WORK/second.log" || { cat "$WORK/second.log"; fail "the requeued job did not resume"; }
steps=$(json_get "$WORK/run/summary.json" steps)
[[ $steps -eq 469 ]] || fail "the resumed run ended at step $steps, expected 469 (one epoch of 60000 at global batch 128)"
[[ $(wc -l < "$WORK/scontrol.calls") -eq 1 ]] || fail "the finished job requeued itself again"
pass "SIGUSR1 -> checkpoint -> requeue -> resume, with launch/slurm.sbatch"
