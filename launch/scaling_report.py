#!/usr/bin/python3
"""Collects the summary.json of launch/scaling's runs into scaling.csv, scaling.md (a markdown table per
sweep; both in --out) and the gnuplot data files scaling_<sweep>.dat (in --runs). Standard library only.

Per run: samples/s is timing.samples_per_second (the trainer's steady state, warm-up steps excluded) when
summary.json has it, else samples_per_second (the whole run). Speedup = samples/s over the same sweep's
1-rank samples/s; efficiency = speedup / N (for weak scaling this is the 1-rank step time over the N-rank
step time). Communication share = timing.allreduce_wait_s / timing.step_s (the time a step waits for the
allreduce). Joules per sample = energy.joules_per_sample. Missing figures are "n/a".
"""
import argparse
import csv
import json
import math
import os
import sys

FIELDS = ["sweep", "world_size", "oversubscribed", "global_batch", "per_rank_batch", "steps", "step_seconds",
          "samples_per_second", "speedup", "efficiency", "communication_share", "joules_per_sample",
          "test_accuracy", "peak_rss_mb_per_rank"]


def get(obj, *keys):
    for key in keys:
        if not isinstance(obj, dict) or key not in obj or obj[key] is None:
            return None
        obj = obj[key]
    return obj


def row_of(sweep, n, cores, summary):
    timing = summary.get("timing") if isinstance(summary.get("timing"), dict) else {}
    sps = get(timing, "samples_per_second") or summary["samples_per_second"]
    step = get(timing, "step_s") or summary["train_seconds"] / max(summary["steps"], 1)
    wait = get(timing, "allreduce_wait_s")
    rss = get(summary, "memory", "peak_rss_bytes_max")
    return {
        "sweep": sweep, "world_size": n, "oversubscribed": "yes" if n > cores else "no",
        "global_batch": summary["global_batch_size"],
        "per_rank_batch": summary["global_batch_size"] / n,
        "steps": summary["steps"], "step_seconds": step, "samples_per_second": sps,
        "communication_share": wait / step if wait is not None and step else None,
        "joules_per_sample": get(summary, "energy", "joules_per_sample"),
        "test_accuracy": summary.get("test_accuracy"),
        "peak_rss_mb_per_rank": rss / 2**20 if rss else None,
    }


def text(value, digits):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if digits >= 0 else f"{value:.3g}"
    return str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", required=True)
    parser.add_argument("--cores", type=int, required=True)
    parser.add_argument("--sweeps", nargs="+", required=True)
    parser.add_argument("--ranks", nargs="+", type=int, required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rows = []
    for sweep in args.sweeps:
        base = None
        for n in args.ranks:
            path = os.path.join(args.runs, f"{sweep}-np{n}", "summary.json")
            try:
                with open(path) as f:
                    summary = json.load(f)
            except (OSError, ValueError) as e:
                sys.exit(f"scaling_report: {path}: {e}")
            row = row_of(sweep, n, args.cores, summary)
            if n == 1:
                base = row["samples_per_second"]
            row["speedup"] = row["samples_per_second"] / base if base else None
            row["efficiency"] = row["speedup"] / n if row["speedup"] is not None else None
            rows.append(row)

    with open(os.path.join(args.out, "scaling.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("n/a" if r.get(k) is None else r[k]) for k in FIELDS})

    lines = []
    for sweep in args.sweeps:
        sub = [r for r in rows if r["sweep"] == sweep]
        if not sub:
            continue
        batch = (f"global batch {sub[0]['global_batch']}" if sweep == "strong"
                 else f"per-rank batch {sub[0]['per_rank_batch']:.0f}")
        lines += [f"**{sweep.capitalize()} scaling** ({batch}, {sub[0]['steps']} steps, {args.cores} cores)", "",
                  "| world size | samples/s | speedup | efficiency | communication share | joules/sample | test accuracy |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in sub:
            n = f"{r['world_size']}" + (" (oversubscribed)" if r["oversubscribed"] == "yes" else "")
            lines.append(f"| {n} | {text(r['samples_per_second'], 0)} | {text(r['speedup'], 2)} | "
                         f"{text(r['efficiency'], 2)} | {text(r['communication_share'], 3)} | "
                         f"{text(r['joules_per_sample'], -1)} | {text(r['test_accuracy'], 4)} |")
        lines.append("")
        with open(os.path.join(args.runs, f"scaling_{sweep}.dat"), "w") as f:
            f.write("# world_size speedup efficiency joules_per_sample\n")
            for r in sub:
                f.write(f"{r['world_size']} {text(r['speedup'], 4)} {text(r['efficiency'], 4)} "
                        f"{text(r['joules_per_sample'], -1)}\n")
    table = "\n".join(lines)
    with open(os.path.join(args.out, "scaling.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
