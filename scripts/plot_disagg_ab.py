#!/usr/bin/env python3
"""Disaggregated against aggregated serving over a rate sweep (scripts/bench_disagg_ab.sh): ITL
p99 and the share of requests within the SLA, per layout and rate (gnuplot, two panels).

  scripts/plot_disagg_ab.py --svg FILE [--title T] DIR [DIR ...]

Reads every DIR/{agg,disagg}-RATE.json (`mint bench` reports); a rate found in several DIRs
takes the last one given.
"""
import argparse
import glob
import json
import os
import re
import subprocess


def load(dirs):
    runs = {}  # (layout, rate) -> report
    for d in dirs:
        for path in glob.glob(os.path.join(d, "*.json")):
            m = re.fullmatch(r"(agg|disagg)-([0-9.]+)\.json", os.path.basename(path))
            if m:
                with open(path) as f:
                    runs[(m.group(1), float(m.group(2)))] = json.load(f)
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--svg", required=True)
    ap.add_argument("--title", default="1 prefill + 1 decode against 2 aggregated engines")
    a = ap.parse_args()
    runs = load(a.dirs)
    rates = sorted({r for _, r in runs})
    lines = []
    for rate in rates:
        row = [f"{rate:g}"]
        for layout in ("agg", "disagg"):
            t = runs.get((layout, rate))
            if t is None:
                row += ["NaN", "NaN"]
                continue
            good = t["goodput"]["good_requests"] / max(1, t["requests"]["total"])
            row += [f"{t['latency_s']['itl']['p99'] * 1e3:.1f}", f"{100 * good:.0f}"]
        lines.append(" ".join(row))
    gp = [
        "set terminal svg size 820,360 font 'sans,11'",
        f"set output '{a.svg}'",
        "set multiplot layout 1,2 title '" + a.title + "'",
        "set grid", "set key top left", "set xlabel 'request rate (req/s)'",
        "set xtics (" + ", ".join(f"'{r:g}' {r:g}" for r in rates) + ")",
        f"set xrange [{rates[0] - 0.01:g}:{rates[-1] + 0.01:g}]",
        "set logscale y", "set yrange [10:20000]", "set ylabel 'ITL p99 (ms)'",
        "set title 'ITL p99 (lower is better)'",
        "$d << EOD", *lines, "EOD",
        "plot $d using 1:2 with linespoints lw 2 title '2 aggregated', "
        "'' using 1:4 with linespoints lw 2 title '1 prefill + 1 decode'",
        "unset logscale y", "set yrange [0:105]", "set ylabel 'requests within the SLA (%)'",
        "set title 'goodput (higher is better)'", "set key bottom left",
        "plot $d using 1:3 with linespoints lw 2 title '2 aggregated', "
        "'' using 1:5 with linespoints lw 2 title '1 prefill + 1 decode'",
        "unset multiplot",
    ]
    subprocess.run(["gnuplot"], input="\n".join(gp), text=True, check=True)


if __name__ == "__main__":
    main()
