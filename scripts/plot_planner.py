#!/usr/bin/env python3
"""The planner against static provisioning over a day-shaped load (scripts/bench_planner.sh):
workers over time per layout (and the planner's prefill/decode split), and the mean TTFT of each
2-second sample, one panel each (gnuplot SVG).

  scripts/plot_planner.py --svg FILE [--title T] DIR

Reads DIR/timeline-{planner,static-peak,static-mean}.csv (scripts/planner_timeline.py).
"""
import argparse
import csv
import os
import subprocess

LAYOUTS = [("planner", "planner"), ("static-peak", "static for the peak"),
           ("static-mean", "static for the mean")]


def load(path):
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            rows.append(r)
    return rows


def block(name, rows, cols):
    lines = [f"${name} << EOD"]
    for r in rows:
        lines.append(" ".join((r.get(c) or "NaN") for c in cols))
    lines.append("EOD")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--svg", required=True)
    ap.add_argument("--title", default="SLA planner against static provisioning, day-shaped load")
    a = ap.parse_args()
    data, plots_w, plots_t = [], [], []
    for i, (layout, label) in enumerate(LAYOUTS):
        path = os.path.join(a.dir, f"timeline-{layout}.csv")
        if not os.path.exists(path):
            continue
        rows = load(path)
        data += block(f"d{i}", rows, ["t", "workers", "ttft_mean", "prefill", "decode"])
        plots_w.append(f"$d{i} using 1:2 with steps lw 2 title '{label}'")
        plots_t.append(f"$d{i} using 1:($3*1000) with lines lw 2 title '{label}'")
        if layout == "planner":
            plots_w.append(f"$d{i} using 1:4 with steps lw 1 dt 2 title 'planner: prefill'")
            plots_w.append(f"$d{i} using 1:5 with steps lw 1 dt 3 title 'planner: decode'")
    gp = [
        "set terminal svg size 820,620 font 'sans,11'",
        f"set output '{a.svg}'",
        "set multiplot layout 2,1 title '" + a.title + "'",
        "set grid", "set key top left", "set xlabel 'time (s)'",
        *data,
        "set ylabel 'workers'", "set yrange [0:*]", "set title 'workers serving'",
        "plot " + ", ".join(plots_w),
        "set ylabel 'mean TTFT (ms)'", "set logscale y", "set yrange [*:*]",
        "set title 'TTFT, mean of each 2 s sample'",
        "plot " + ", ".join(plots_t),
        "unset multiplot",
    ]
    subprocess.run(["gnuplot"], input="\n".join(gp), text=True, check=True)


if __name__ == "__main__":
    main()
