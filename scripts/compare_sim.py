#!/usr/bin/env python3
"""Puts a `mint simulate` prediction beside a wall-clock `mint bench` run of the same layout and
trace (issue 21's accuracy check), both mint-bench/1 JSON reports.

  scripts/compare_sim.py SIM.json REAL.json [--scale S] [--label NAME]

--scale: simulated seconds per wall second of the real run (the mockers' --speedup), so the real
latencies and throughput are put in the simulated hardware's time.

ITL is compared as the token-weighted mean gap, sum(e2e - ttft) / sum(output tokens - 1), which
a client's chunking does not change (a client sees two tokens in one chunk as one gap: the
chunk-based ITL mean of the report is larger by the share of merged tokens). Prints one
Markdown row per metric: simulated, wall clock, gap (simulated / wall clock - 1).
"""
import argparse
import json


def metrics(report, scale):
    lat = report["latency_s"]
    n = report["requests"]["succeeded"]
    out = report["tokens"]["output"]
    decode_s = (lat["e2e"]["mean"] - lat["ttft"]["mean"]) * n
    return {
        "TTFT mean ms": 1e3 * lat["ttft"]["mean"] * scale,
        "TTFT p99 ms": 1e3 * lat["ttft"]["p99"] * scale,
        "ITL mean ms (per token)": 1e3 * decode_s / max(out - n, 1) * scale,
        "ITL p50 ms (per chunk)": 1e3 * lat["itl"]["p50"] * scale,
        "ITL p99 ms (per chunk)": 1e3 * lat["itl"]["p99"] * scale,
        "output tokens/s": report["throughput"]["output_tokens_per_s"] / scale,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sim")
    ap.add_argument("real")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    sim = metrics(json.load(open(a.sim)), 1.0)
    real = metrics(json.load(open(a.real)), a.scale)
    for k in sim:
        gap = sim[k] / real[k] - 1 if real[k] else float("nan")
        print(f"| {a.label} | {k} | {sim[k]:,.1f} | {real[k]:,.1f} | {100 * gap:+.0f} % |")


if __name__ == "__main__":
    main()
