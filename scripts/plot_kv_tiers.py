#!/usr/bin/env python3
"""Bar chart of a tiered-KV A/B (scripts/bench_kv_tiers.sh): TTFT mean and p99 per arm (gnuplot).

  scripts/plot_kv_tiers.py OUT_DIR ARM [ARM ...] --svg FILE [--title T]

Reads OUT_DIR/ARM.json (`mint bench` reports).
"""
import argparse
import json
import os
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("arms", nargs="+")
    ap.add_argument("--svg", required=True)
    ap.add_argument("--title", default="Multi-turn chat: TTFT by KV tiers")
    a = ap.parse_args()
    rows = []
    for arm in a.arms:
        with open(os.path.join(a.out, arm + ".json")) as f:
            t = json.load(f)["latency_s"]["ttft"]
        rows.append((arm.replace("_", "+"), t["mean"] * 1e3, t["p99"] * 1e3))
    data = "\n".join(f'"{n}" {m:.1f} {p:.1f}' for n, m, p in rows)
    gp = [
        "set terminal svg size 640,380 font 'sans,11'",
        f"set output '{a.svg}'",
        f"set title '{a.title}'",
        "set style data histograms", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set boxwidth 0.9",
        "set ylabel 'TTFT (ms)'", "set yrange [0:*]", "set grid ytics", "set key top right",
        "$d << EOD", data, "EOD",
        "plot $d using 2:xtic(1) title 'mean', '' using 3 title 'p99'",
    ]
    subprocess.run(["gnuplot"], input="\n".join(gp), text=True, check=True)


if __name__ == "__main__":
    main()
