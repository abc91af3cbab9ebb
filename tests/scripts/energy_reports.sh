#!/usr/bin/env bash
# End to end (issue 5): a training run writes its energy reports. A run of 40 steps and its resumption to
# 80 in one directory on 2 ranks (this machine has no RAPL: estimated) give metrics.jsonl epoch energy
# fields, summary.json's `energy` object with a prediction, and emissions.csv with CodeCarbon's header and
# one row per run; a run on a fake powercap tree is labelled measured.
source "$(dirname "$0")/common.sh" "$@"
args=(train --config "$REPO/configs/fashion_mnist.ini" --train.max_steps=40 --energy.predict_after_steps=10
      --log.progress=false)
run_np 2 "${args[@]}" --checkpoint.dir="$WORK/run" > "$WORK/log1" 2>&1 || { cat "$WORK/log1"; fail "first run"; }
run_np 2 "${args[@]}" --checkpoint.dir="$WORK/run" --checkpoint.resume=auto --train.max_steps=80 > "$WORK/log2" 2>&1 \
  || { cat "$WORK/log2"; fail "second run (resumed)"; }
grep -q "footprint: " "$WORK/log1" || fail "no footprint line"
grep -q "energy prediction after 10 steps" "$WORK/log1" || fail "no prediction line"
[[ $(grep -c "RAPL counters unavailable\|RAPL package zone" "$WORK/log1" || true) -le 1 ]] || fail "more than one warning"
run_np 2 "${args[@]}" --checkpoint.dir="$WORK/measured" \
  --energy.powercap_root="$REPO/tests/fixtures/powercap/two_packages_dram" > "$WORK/log3" 2>&1 \
  || { cat "$WORK/log3"; fail "run on a fake powercap tree"; }
"$PYTHON" - "$WORK" <<'PY' || fail "energy reports"
import csv, json, sys
work = sys.argv[1]
codecarbon = ("timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,"
              "cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,"
              "cloud_region,os,cpu_count,cpu_model,gpu_count,gpu_model,ram_total_size,tracking_mode,on_cloud,pue").split(",")
epochs = [r for r in map(json.loads, open(f"{work}/run/metrics.jsonl")) if r["kind"] == "epoch"]
assert len(epochs) == 2, epochs
for e in epochs:
    assert e["energy_method"] == "estimated" and e["energy_joules"] > 0, e
    assert abs(e["joules_per_sample"] - e["energy_joules"] / (40 * 128)) < 1e-12 * e["energy_joules"], e
s = json.load(open(f"{work}/run/summary.json"))["energy"]   # of the resumed run: 10 steps after step 40
for k in ("method", "nodes", "ranks", "duration_seconds", "cpu_energy_kwh", "ram_energy_kwh", "it_energy_kwh",
          "facility_energy_kwh", "pue", "carbon_intensity_g_per_kwh", "co2e_kg", "joules_per_sample", "prediction"):
    assert k in s, k
assert s["method"] == "estimated" and s["nodes"] == 1 and s["ranks"] == 2, s
assert abs(s["it_energy_kwh"] - s["cpu_energy_kwh"] - s["ram_energy_kwh"]) < 1e-15, s
assert abs(s["co2e_kg"] - s["facility_energy_kwh"] * 475 / 1000) < 1e-15, s
assert s["prediction"]["at_step"] == 50 and s["prediction"]["predicted_seconds"] > 0, s["prediction"]
rows = list(csv.reader(open(f"{work}/run/emissions.csv")))
assert rows[0] == codecarbon + ["method", "nodes", "ranks", "samples", "joules_per_sample"], rows[0]
assert len(rows) == 3, rows                    # header once, one row per run
row = dict(zip(rows[0], rows[2]))
assert row["project_name"] == "fashion_mnist" and row["method"] == "estimated" and row["ranks"] == "2", row
assert abs(float(row["energy_consumed"]) - s["facility_energy_kwh"]) < 1e-12, (row, s)
assert abs(float(row["emissions"]) - s["co2e_kg"]) < 1e-12, (row, s)
m = json.load(open(f"{work}/measured/summary.json"))["energy"]
assert m["method"] == "measured" and m["cpu_method"] == "measured" and m["ram_method"] == "measured", m
assert m["it_energy_kwh"] == 0, m              # the fake counters never advance
print(f"estimated: {s['it_energy_kwh'] * 3.6e6:.1f} J IT over {s['duration_seconds']:.1f} s; measured run labelled measured")
PY
pass "energy reports"
