#!/usr/bin/env bash
# Bad input through the real command line under mpirun with 2 ranks: every case exits non-zero within
# the timeout (no hang), with a message naming the file and the place, and loses nothing already saved.
source "$(dirname "$0")/common.sh" "$@"
RUN_TIMEOUT=60
cfg="$REPO/configs/fashion_mnist.ini"

# expect CODE PATTERN ARGS...: runs mpitrain on 2 ranks, checks the exit code and that stderr matches.
expect() {
  local code=$1 pattern=$2; shift 2
  set +e
  run_np 2 "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local got=$?
  set -e
  [[ $got -ne 124 && $got -ne 137 ]] || fail "timed out (hang): $*"
  [[ $got -eq $code ]] || { cat "$WORK/err.txt"; fail "exit code $got, expected $code: $*"; }
  grep -qE -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt"; fail "no '$pattern' in the message: $*"; }
  echo "ok ($got): $(grep -m1 -E -- "$pattern" "$WORK/err.txt" | cut -c1-200)"
}

expect 2 "train.epocs" train --config "$cfg" --train.epocs=3
expect 2 "train.batch_size" train --config "$cfg" --train.batch_size=0
printf '[train]\nepochs = many\n' > "$WORK/bad.ini"
expect 2 "bad.ini.*train.epochs" train --config "$WORK/bad.ini"
expect 2 "nothere.ini" train --config "$WORK/nothere.ini"
expect 2 "unknown command" frobnicate
# Text that Boost.Program_options 1.74 would loop on while formatting its error (found by fuzz_config).
printf '[train]\nbad line %%invalid_line%% here\n' > "$WORK/placeholder.ini"
expect 2 "placeholder.ini: line 2: '%invalid_line%' is not allowed" train --config "$WORK/placeholder.ini"
expect 2 "'%option%' is not allowed" predict --x%option%=1
expect 2 "'%value%' is not allowed" evaluate --che%value%ckpoint=x
# Tokens that are no option are errors, not silently dropped; empty file names are named.
expect 2 "unexpected argument 'stray'" train --config "$cfg" stray
expect 2 "predict: unexpected argument 'b.csv'" predict --checkpoint x.h5 --input a.csv b.csv --output p.csv
expect 2 "predict: --output is empty" predict --checkpoint x.h5 --input a.csv --output ""

# A truncated IDX file: the error names the file.
head -c 1000 < <(gzip -dc "$FMNIST/train-images-idx3-ubyte.gz") > "$WORK/short-images-idx3-ubyte"
expect 1 "short-images-idx3-ubyte" train --config "$cfg" --data.train_images="$WORK/short-images-idx3-ubyte" \
  --checkpoint.dir="$WORK/run_bad"

# A CSV with a bad cell: file, line and column named.
printf 'label,a,b\n1,0.5,0.25\n2,abc,1\n' > "$WORK/bad.csv"
expect 1 "bad.csv.*line 3.*column 2" train --config "$cfg" --data.format=csv --data.train_csv="$WORK/bad.csv" \
  --data.test_csv= --checkpoint.dir="$WORK/run_bad"
printf 'label,a,b\n1,0.5,0.25\n12,0.1,1\n' > "$WORK/label.csv"
expect 1 "label.csv.*line 3" train --config "$cfg" --data.format=csv --data.train_csv="$WORK/label.csv" \
  --data.test_csv= --checkpoint.dir="$WORK/run_bad"

# Checkpoints: a good one from a short run, then corrupt copies. The good one is never touched.
run_np 2 train --config "$cfg" --train.max_steps=5 --checkpoint.dir="$WORK/run" --log.progress=false \
  > "$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "short training run"; }
ckpt="$WORK/run/$(json_get "$WORK/run/summary.json" checkpoint)"
sum_before=$(sha256sum < "$ckpt")
size=$(stat -c %s "$ckpt")
head -c $((size / 2)) "$ckpt" > "$WORK/truncated.h5"
expect 1 "truncated.h5" predict --checkpoint "$WORK/truncated.h5" --input "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --output "$WORK/p.csv"
echo "not an hdf5 file" > "$WORK/text.h5"
expect 1 "text.h5" evaluate --checkpoint "$WORK/text.h5" --data "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --labels "$FMNIST/t10k-labels-idx1-ubyte.gz"
expect 1 "nothere.h5" predict --checkpoint "$WORK/nothere.h5" --input "$FMNIST/t10k-images-idx3-ubyte.gz" \
  --output "$WORK/p.csv"
# Input with the wrong width for the model.
printf 'a,b,c\n1,2,3\n' > "$WORK/narrow.csv"
expect 1 "narrow.csv.*3 features.*784" predict --checkpoint "$ckpt" --input "$WORK/narrow.csv" --output "$WORK/p.csv"
[[ ! -e "$WORK/p.csv" ]] || fail "a failed predict left an output file"
[[ $(sha256sum < "$ckpt") == "$sum_before" ]] || fail "the good checkpoint changed"
pass "bad inputs"
