#!/usr/bin/env python3
"""The router A/B matrix in virtual time (`mint simulate`): traces x loads x routers.

  scripts/router_matrix.py OUT_DIR TRACE [TRACE ...] [--workers 8] [--jobs 2] [--svg FILE]

For each trace: round-robin's capacity C is found first (the smallest trace speed-up at which
round-robin's mean TTFT reaches 3x its unloaded value, the trace stretched 20x; by bisection to
2 %: the knee where its queues start to grow), then every router runs at 30 %, 60 %, 90 % and
110 % of C:
  round-robin;
  kv, old defaults       (--router-cost blocks, --prefill-load-scale 1 --kv-overlap-credit 1);
  kv, best sweep         (--router-cost blocks over a grid of the two weights: the setting with
                          the lowest mean TTFT summed over the four loads, chosen per trace);
  kv, new default        (the seconds cost, default flags);
  plus any --extra "NAME=FLAGS" routers.
Writes OUT_DIR/matrix.json (every run's report), OUT_DIR/matrix.md (the tables) and, with
--svg, a plot of TTFT mean against load per trace (gnuplot).
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MINT = os.environ.get("MINT", os.path.join(HERE, "..", "build", "apps", "mint"))
LOADS = [0.3, 0.6, 0.9, 1.1]
SCALES = [1, 2, 4, 10, 20]
CREDITS = [1, 2, 4]


def simulate(out_dir, trace, speedup, flags, a):
    name = f"{os.path.basename(trace)}-{speedup:.3f}-{'_'.join(flags).replace('-', '')}.json"
    path = os.path.join(out_dir, "runs", name)
    if not os.path.exists(path):
        cmd = [MINT, "simulate", "--trace", trace, "--speedup", f"{speedup:.4f}",
               "--workers", str(a.workers), "--block-size", str(a.block_size),
               "--num-blocks", str(a.num_blocks), "-o", path] + flags
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return json.load(f)


def capacity(out_dir, trace, a):
    rr = ["--router-mode", "round-robin"]
    ttft = lambda x: simulate(out_dir, trace, x, rr, a)["latency_s"]["ttft"]["mean"]
    limit = 3 * ttft(0.05)  # 3x the unloaded TTFT (the trace stretched 20x)
    lo, hi = 0.05, 0.1
    while ttft(hi) < limit:
        lo, hi = hi, hi * 2
    while hi / lo > 1.02:
        mid = (lo * hi) ** 0.5
        lo, hi = (mid, hi) if ttft(mid) < limit else (lo, mid)
    return hi


def row(rep):
    lat = rep["latency_s"]
    return {"ttft_mean": lat["ttft"]["mean"] * 1e3, "ttft_p99": lat["ttft"]["p99"] * 1e3,
            "itl_p99": lat["itl"]["p99"] * 1e3, "hit": rep["config"]["prefix_hit_rate"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--block-size", type=int, default=64)
    ap.add_argument("--num-blocks", type=int, default=16384)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--svg")
    ap.add_argument("--extra", action="append", default=[], help='"NAME=--flag value ..."')
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    hit_script = os.path.join(HERE, "trace_hit_rate.py")
    pooled = a.workers * a.num_blocks * a.block_size
    results = {}
    pool = concurrent.futures.ThreadPoolExecutor(a.jobs)
    for trace in a.traces:
        t = os.path.basename(trace)
        ceiling = json.loads(subprocess.run(
            [sys.executable, hit_script, trace, "--capacity-tokens", str(pooled)],
            check=True, capture_output=True, text=True).stdout)["token_hit_rate"]
        cap = capacity(a.out, trace, a)
        print(f"{t}: ceiling {ceiling:.3f} at pooled capacity, round-robin capacity x{cap:.2f}",
              flush=True)
        routers = {"round-robin": ["--router-mode", "round-robin"],
                   "kv, old defaults": ["--router-cost", "blocks"],
                   "kv, new default": []}
        for name_flags in a.extra:
            name, flags = name_flags.split("=", 1)
            routers[name] = flags.split()
        sweep = {f"blocks s{s} c{c}": ["--router-cost", "blocks", "--prefill-load-scale", str(s),
                                       "--kv-overlap-credit", str(c)]
                 for s in SCALES for c in CREDITS}
        jobs = {}
        for load in LOADS:
            for name, flags in list(routers.items()) + list(sweep.items()):
                jobs[(name, load)] = pool.submit(simulate, a.out, trace, load * cap, flags, a)
        runs = {k: row(f.result()) for k, f in jobs.items()}
        best = min(sweep, key=lambda n: sum(runs[(n, l)]["ttft_mean"] for l in LOADS))
        table = {}
        for name in list(routers) + [best]:
            label = f"kv, best sweep ({best[7:]})" if name == best else name
            table[label] = {str(l): dict(runs[(name, l)], hit_of_ceiling=runs[(name, l)]["hit"] / ceiling)
                            for l in LOADS}
        results[t] = {"ceiling": ceiling, "capacity_speedup": cap, "best_sweep": best,
                      "routers": table,
                      "sweep": {n: {str(l): runs[(n, l)] for l in LOADS} for n in sweep}}
    with open(os.path.join(a.out, "matrix.json"), "w") as f:
        json.dump(results, f, indent=1)
    md = []
    for t, r in results.items():
        md.append(f"\n**{t}**: hit-rate ceiling {100 * r['ceiling']:.1f} % at pooled capacity; "
                  f"round-robin capacity = trace speed-up {r['capacity_speedup']:.2f}\n")
        md.append("| router | " + " | ".join(f"{int(l * 100)} %: TTFT mean / p99, ITL p99 ms, hit of ceiling"
                                             for l in LOADS) + " |")
        md.append("|---|" + "---|" * len(LOADS))
        for name, cells in r["routers"].items():
            md.append(f"| {name} | " + " | ".join(
                f"{c['ttft_mean']:.0f} / {c['ttft_p99']:.0f}, {c['itl_p99']:.0f}, {100 * c['hit_of_ceiling']:.0f} %"
                for c in (cells[str(l)] for l in LOADS)) + " |")
    with open(os.path.join(a.out, "matrix.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    if a.svg:
        plot(results, a)


def plot(results, a):
    data = os.path.join(a.out, "plot.dat")
    names = list(next(iter(results.values()))["routers"].keys())
    with open(data, "w") as f:
        for t, r in results.items():
            routers = list(r["routers"].values())
            f.write(f"# {t}\n")
            for l in LOADS:
                f.write(f"{int(l * 100)} " + " ".join(f"{c[str(l)]['ttft_mean']:.2f}" for c in routers) + "\n")
            f.write("\n\n")
    n = len(results)
    gp = [f"set terminal svg size {420 * n},380 font 'sans,11'", f"set output '{a.svg}'",
          f"set multiplot layout 1,{n}", "set logscale y", "set xlabel 'load, % of round-robin capacity'",
          "set ylabel 'TTFT mean (ms)'", "set key top left font ',9'", "set xtics (30,60,90,110)"]
    for i, t in enumerate(results):
        gp.append(f"set title '{t}' noenhanced")
        gp.append("plot " + ", ".join(
            f"'{data}' index {i} using 1:{j + 2} with linespoints title '{names[j] if not names[j].startswith('kv, best') else 'kv, best sweep'}' noenhanced"
            for j in range(len(names))))
    gp.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(gp), text=True, check=True)


if __name__ == "__main__":
    main()
