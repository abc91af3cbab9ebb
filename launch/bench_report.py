#!/usr/bin/python3
"""The table of launch/bench: medians over repetitions of each (world size, per-rank batch, reducer, precision).

Reads raw.jsonl (one object per run: kind "mpitrain" with the summary's timing, memory, flops_per_sample and
joules per sample; "torch" with the peer's samples/s and its precision; "peak" with peak_bench's output)
and writes bench.csv and bench.md into --out.
GFLOP/s per rank = flops_per_sample · samples/s / world size: the model's products (forward, weight and
input gradients, counted by its layers) at the run's rate, each rank running on one core; it is shown as a
share of the core's fp32 FMA peak and of its bf16 dot-product peak: the best round of peak_bench over the
repetitions, since other jobs on a shared machine can only slow a loop on registers down, so the fastest
round is the closest to the hardware's limit (the median is printed beside it).
"""
import argparse
import csv
import json
import os
import statistics
import sys


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


def load(path):
    """Splits raw.jsonl into the peak runs, the peer's samples/s by (np, batch, precision), mpitrain's runs."""
    peaks, torch, mine = [], {}, {}
    for line in open(path):
        if not line.strip():
            continue
        r = json.loads(line)
        if r["kind"] == "peak":
            peaks.append(r)
        elif r["kind"] == "torch":
            torch.setdefault((r["np"], r["batch"], r["precision"]), []).append(r["samples_per_s"])
        else:
            mine.setdefault((r["np"], r["batch"], r["reducer"], r["precision"]), []).append(r)
    return peaks, torch, mine


def make_rows(mine, torch, fp32_peak, bf16_peak):
    rows = []
    order = lambda item: (item[0][:3], item[0][3] != "fp32", item[0][3])  # noqa: E731  fp32 first
    for (np_, batch, reducer, precision), rs in sorted(mine.items(), key=order):
        t = lambda k: median([r["timing"][k] for r in rs])  # noqa: E731
        sps = t("samples_per_second")
        gflops = median([r["flops_per_sample"] for r in rs]) * sps / np_ / 1e9
        peer_fp32 = median(torch.get((np_, batch, "fp32"), []))
        peer_bf16 = median(torch.get((np_, batch, "bf16"), []))
        peer_best = max([p for p in (peer_fp32, peer_bf16) if p is not None], default=None)
        rows.append(dict(
            world_size=np_, batch=batch, reducer=reducer, precision=precision, runs=len(rs), samples_per_s=sps,
            step_ms=t("step_s") * 1e3, data_ms=t("data_s") * 1e3, forward_ms=t("forward_s") * 1e3,
            backward_ms=t("backward_s") * 1e3, allreduce_wait_ms=t("allreduce_wait_s") * 1e3,
            agreement_ms=t("agreement_s") * 1e3, optimizer_ms=t("optimizer_s") * 1e3,
            hidden_comm_share=t("hidden_comm_share"), gflops_per_rank=gflops,
            share_of_fp32_peak=ratio(gflops, fp32_peak), share_of_bf16_peak=ratio(gflops, bf16_peak),
            joules_per_sample=median([r["joules_per_sample"] for r in rs]),
            energy_method="/".join(sorted({r["energy_method"] for r in rs})),
            peak_rss_mib=median([r["memory"]["peak_rss_bytes_max"] for r in rs]) / 2**20,
            peer_fp32_samples_per_s=peer_fp32, peer_bf16_samples_per_s=peer_bf16,
            ratio_vs_peer_best=ratio(sps, peer_best), test_accuracy=median([r.get("test_accuracy") for r in rs])))
    return rows


fmt = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
pct = lambda v: "n/a" if v is None else f"{v * 100:.0f}%"  # noqa: E731
verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731


def table(rows):
    lines = [
        "| ranks | batch/rank | reducer | precision | samples/s | step | data | forward | backward | allreduce wait | "
        "agreement | optimizer | comm hidden | GFLOP/s per rank | % fp32 peak | % bf16 peak | µJ/sample | "
        "peak RSS MiB | peer fp32 samples/s | peer bf16 samples/s | × peer best |",
        "|" + "---|" * 21,
    ]
    for r in rows:
        lines.append(
            f"| {r['world_size']} | {r['batch']} | {r['reducer']} | {r['precision']} | {r['samples_per_s']:.0f} | "
            f"{r['step_ms']:.3f} | {r['data_ms']:.3f} | {r['forward_ms']:.3f} | {r['backward_ms']:.3f} | "
            f"{r['allreduce_wait_ms']:.3f} | {r['agreement_ms']:.3f} | {r['optimizer_ms']:.3f} | "
            f"{pct(r['hidden_comm_share'])} | {r['gflops_per_rank']:.1f} | {pct(r['share_of_fp32_peak'])} | "
            f"{pct(r['share_of_bf16_peak'])} | {r['joules_per_sample'] * 1e6:.0f} | {r['peak_rss_mib']:.0f} | "
            f"{fmt(r['peer_fp32_samples_per_s'], '.0f')} | {fmt(r['peer_bf16_samples_per_s'], '.0f')} | "
            f"{fmt(r['ratio_vs_peer_best'], '.1f')} |")
    return lines


def targets(rows, fp32_peak):
    """The issue's targets, each with its measured value; the faster reducer of each setting."""
    def best(np_, batch, precision=None):
        cands = [r for r in rows if r["world_size"] == np_ and r["batch"] == batch
                 and precision in (None, r["precision"])]
        return max(cands, key=lambda r: r["samples_per_s"]) if cands else None

    lines = ["", "Targets (issue 11; the faster reducer of each setting):"]
    r = best(1, 256, "fp32")
    if r:
        share = r["share_of_fp32_peak"]
        lines.append(f"- fp32, 1 rank, batch 256: {r['gflops_per_rank']:.1f} GFLOP/s = {pct(share)} of the fp32 FMA "
                     f"peak {fmt(fp32_peak, '.1f')} (target ≥ 80%): {verdict(share is not None and share >= 0.8)}")
    r32, r16 = best(1, 256, "fp32"), best(1, 256, "bf16")
    if r32 and r16:
        x = r16["samples_per_s"] / r32["samples_per_s"]
        lines.append(f"- bf16 against fp32, 1 rank, batch 256: {x:.2f}× ({r16['samples_per_s']:.0f} vs "
                     f"{r32['samples_per_s']:.0f} samples/s; target ≥ 1.7×): {verdict(x >= 1.7)}")
    r = best(2, 64)
    if r:
        x = r["ratio_vs_peer_best"]
        peers = [p for p in (r["peer_fp32_samples_per_s"], r["peer_bf16_samples_per_s"]) if p is not None]
        lines.append(f"- 2 ranks, batch 64, mpitrain at its best ({r['precision']}, {r['samples_per_s']:.0f} "
                     f"samples/s): {fmt(x, '.1f')}× the PyTorch DDP peer at its best "
                     f"({fmt(max(peers, default=None), '.0f')} samples/s; target ≥ 10×): "
                     f"{verdict(x is not None and x >= 10)}")
    r1, r2 = best(1, 256, "fp32"), best(2, 256, "fp32")
    if r1 and r2:
        eff = r2["samples_per_s"] / (2 * r1["samples_per_s"])
        lines.append(f"- (issue 4) fp32, 2 ranks vs 1 at batch 256: scaling efficiency {eff * 100:.0f}% "
                     f"(target ≥ 90%): {verdict(eff >= 0.9)}")
    if len(lines) == 2:
        lines.append("- none: the targets need 1 rank at batch 256 (fp32, bf16) and 2 ranks at batch 64")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--peer-blas", default="unknown", help="the BLAS library the PyTorch peer loaded")
    a = ap.parse_args()
    peaks, torch, mine = load(a.raw)
    if not mine:
        sys.exit(f"bench_report.py: no mpitrain run in {a.raw}")
    best_round = lambda key: max((p[key] for p in peaks if p[key] is not None), default=None)  # noqa: E731
    fp32_peak, bf16_peak = best_round("fp32_fma_gflops_max"), best_round("bf16_dot_gflops_max")
    rows = make_rows(mine, torch, fp32_peak, bf16_peak)

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "bench.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)

    isa = "/".join(sorted({p["isa"] for p in peaks})) or "n/a"
    methods = "/".join(sorted({r["energy_method"] for r in rows}))
    lines = [
        f"Medians of {a.reps} repetitions; {a.steps} steps per run, warm-up excluded; {a.threads} thread(s) per rank.",
        f"Peaks of one core (build/peak_bench, {isa}; the best round of {len(peaks)} repetition(s), the median in "
        f"brackets): fp32 FMA {fmt(fp32_peak, '.1f')} ({fmt(median([p['fp32_fma_gflops'] for p in peaks]), '.1f')}) "
        f"GFLOP/s, bf16 dot product {fmt(bf16_peak, '.1f')} "
        f"({fmt(median([p['bf16_dot_gflops'] for p in peaks]), '.1f')}) GFLOP/s.",
        "Times are milliseconds per step; GFLOP/s is per rank (one core each) = flops_per_sample × samples/s / ranks;"
        f" µJ/sample from summary.json energy.joules_per_sample ({methods}).",
        f"PyTorch DDP peer's BLAS: {a.peer_blas}; × peer best = samples/s over the faster of the peer's fp32 and bf16.",
        "",
    ]
    lines += table(rows) + targets(rows, fp32_peak)
    text = "\n".join(lines)
    open(os.path.join(a.out, "bench.md"), "w").write(text + "\n")
    print(text)
    print(f"\nwrote {a.out}/bench.md, {a.out}/bench.csv (raw runs: {a.raw})")


if __name__ == "__main__":
    sys.exit(main())
