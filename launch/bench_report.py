#!/usr/bin/python3
"""The table of launch/bench: medians over repetitions of each (world size, per-rank batch, reducer).

Reads raw.jsonl (one object per run: kind "mpitrain" with the summary's timing and memory, "torch" with
the peer's samples/s, "gemm" with gemm_bench's output) and writes bench.csv and bench.md into --out.
Achieved GFLOP/s of one rank = (step_gemm_flops / batch) · per-rank batch / step seconds: the model's
GEMM FLOPs (2·m·n·k per product of the step, forward, weight and input gradients) at the step's rate.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--reps", type=int, default=0)
    a = ap.parse_args()
    runs = [json.loads(line) for line in open(a.raw) if line.strip()]
    gemm, torch, mine = {}, {}, {}
    for r in runs:
        if r["kind"] == "gemm":
            gemm.setdefault(r["batch"], []).append(r)
        elif r["kind"] == "torch":
            torch.setdefault((r["np"], r["batch"]), []).append(r["samples_per_s"])
        else:
            mine.setdefault((r["np"], r["batch"], r["reducer"]), []).append(r)

    rows = []
    for (np_, batch, reducer), rs in sorted(mine.items()):
        t = lambda k: median([r["timing"][k] for r in rs])  # noqa: E731
        g = gemm.get(batch, [])
        peak = median([x["peak_gflops"] for x in g])
        flops_per_sample = median([x["step_gemm_flops"] / x["batch"] for x in g])
        step = t("step_s")
        achieved = flops_per_sample * batch / step / 1e9 if flops_per_sample and step else None
        peer = median(torch.get((np_, batch), []))
        sps = t("samples_per_second")
        rows.append(dict(
            world_size=np_, batch=batch, reducer=reducer, runs=len(rs), samples_per_s=sps, step_ms=step * 1e3,
            data_ms=t("data_s") * 1e3, forward_ms=t("forward_s") * 1e3, backward_ms=t("backward_s") * 1e3,
            allreduce_wait_ms=t("allreduce_wait_s") * 1e3, agreement_ms=t("agreement_s") * 1e3,
            optimizer_ms=t("optimizer_s") * 1e3, hidden_comm_share=t("hidden_comm_share"),
            gflops_per_rank=achieved, gemm_peak_gflops=peak,
            share_of_peak=achieved / peak if achieved and peak else None,
            peak_rss_mib=median([r["memory"]["peak_rss_bytes_max"] for r in rs]) / 2**20,
            torch_samples_per_s=peer, ratio_vs_torch=sps / peer if peer else None,
            test_accuracy=median([r.get("test_accuracy") for r in rs])))

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "bench.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)

    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    pct = lambda v: "n/a" if v is None else f"{v * 100:.0f}%"  # noqa: E731
    lines = [
        f"Medians of {a.reps} repetitions; {a.steps} steps per run, warm-up excluded; {a.threads} thread(s) per rank.",
        "Times are milliseconds per step; GFLOP/s and the GEMM peak are per rank (one core each).",
        "",
        "| ranks | batch/rank | reducer | samples/s | step | data | forward | backward | allreduce wait | "
        "agreement | optimizer | comm hidden | GFLOP/s | GEMM peak | % of peak | peak RSS MiB | DDP samples/s | × DDP |",
        "|" + "---|" * 18,
    ]
    for r in rows:
        lines.append(
            f"| {r['world_size']} | {r['batch']} | {r['reducer']} | {r['samples_per_s']:.0f} | {r['step_ms']:.3f} | "
            f"{r['data_ms']:.3f} | {r['forward_ms']:.3f} | {r['backward_ms']:.3f} | {r['allreduce_wait_ms']:.3f} | "
            f"{r['agreement_ms']:.3f} | {r['optimizer_ms']:.3f} | {pct(r['hidden_comm_share'])} | "
            f"{fmt(r['gflops_per_rank'], '.1f')} | {fmt(r['gemm_peak_gflops'], '.1f')} | "
            f"{pct(r['share_of_peak'])} | {r['peak_rss_mib']:.0f} | "
            f"{fmt(r['torch_samples_per_s'], '.0f')} | {fmt(r['ratio_vs_torch'], '.1f')} |")

    def best(np_, batch):
        cands = [r for r in rows if r["world_size"] == np_ and r["batch"] == batch]
        return max(cands, key=lambda r: r["samples_per_s"]) if cands else None

    lines += ["", "Targets (the faster reducer of each setting):"]
    r = best(2, 64)
    if r:
        ok = r["ratio_vs_torch"] is not None and r["ratio_vs_torch"] >= 10
        lines.append(f"- 2 ranks, batch 64: {fmt(r['ratio_vs_torch'], '.1f')}× the PyTorch DDP peer "
                     f"(target ≥ 10×): {'met' if ok else 'NOT met'}")
    r = best(1, 256)
    if r:
        ok = r["share_of_peak"] is not None and r["share_of_peak"] >= 0.5
        lines.append(f"- 1 rank, batch 256: {fmt(r['gflops_per_rank'], '.1f')} GFLOP/s = "
                     f"{pct(r['share_of_peak'])} of the GEMM peak "
                     f"{fmt(r['gemm_peak_gflops'], '.1f')} (target ≥ 50%): {'met' if ok else 'NOT met'}")
    r1, r2 = best(1, 256), best(2, 256)
    if r1 and r2:
        eff = r2["samples_per_s"] / (2 * r1["samples_per_s"])
        lines.append(f"- 2 ranks vs 1 at batch 256: scaling efficiency {eff * 100:.0f}% "
                     f"(target ≥ 90%): {'met' if eff >= 0.9 else 'NOT met'}")
    text = "\n".join(lines)
    open(os.path.join(a.out, "bench.md"), "w").write(text + "\n")
    print(text)
    print(f"\nwrote {a.out}/bench.md, {a.out}/bench.csv (raw runs: {a.raw})")


if __name__ == "__main__":
    sys.exit(main())
