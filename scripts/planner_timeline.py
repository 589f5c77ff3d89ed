#!/usr/bin/env python3
"""Samples a frontend's (and optionally a planner's) /metrics every INTERVAL seconds until killed,
writing one CSV row per sample: time, workers the frontend sees, the interval's mean TTFT and ITL
and finished requests (from the histograms' sum/count differences), and the planner's actual and
desired replicas per role when --planner is given.

  scripts/planner_timeline.py --frontend URL [--planner URL] [--interval 2] --out FILE.csv
"""
import argparse
import re
import time
import urllib.request

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def scrape(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            key = m.group(1) + (m.group(2) or "")
            try:
                out[key] = out.get(key, 0.0) + float(m.group(3))
            except ValueError:
                pass
    return out


def total(s, name):
    return sum(v for k, v in s.items() if k == name or k.startswith(name + "{"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frontend", required=True)
    ap.add_argument("--planner")
    ap.add_argument("--interval", type=float, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    start = time.time()
    prev = None
    with open(a.out, "w") as f:
        f.write("t,workers,requests,ttft_mean,itl_mean,prefill,decode,desired_prefill,desired_decode\n")
        while True:
            s = scrape(a.frontend)
            p = scrape(a.planner) if a.planner else {}
            cur = {k: total(s, k) for k in (
                "mint_frontend_time_to_first_token_seconds_sum",
                "mint_frontend_time_to_first_token_seconds_count",
                "mint_frontend_inter_token_latency_seconds_sum",
                "mint_frontend_inter_token_latency_seconds_count",
                "mint_frontend_request_duration_seconds_count")}
            if prev is not None and s:
                d = {k: cur[k] - prev[k] for k in cur}
                tc = d["mint_frontend_time_to_first_token_seconds_count"]
                ic = d["mint_frontend_inter_token_latency_seconds_count"]
                row = [time.time() - start, total(s, "mint_workers"),
                       d["mint_frontend_request_duration_seconds_count"],
                       d["mint_frontend_time_to_first_token_seconds_sum"] / tc if tc else "",
                       d["mint_frontend_inter_token_latency_seconds_sum"] / ic if ic else ""]
                for role in ("prefill", "decode"):
                    row.append(p.get(f'mint_planner_actual_replicas{{role="{role}"}}', ""))
                for role in ("prefill", "decode"):
                    row.append(p.get(f'mint_planner_desired_replicas{{role="{role}"}}', ""))
                f.write(",".join(f"{x:.4f}" if isinstance(x, float) else str(x) for x in row) + "\n")
                f.flush()
            if s:
                prev = cur
            time.sleep(a.interval)


if __name__ == "__main__":
    main()
