#!/usr/bin/env python3
"""Soak test of `mint serve`: steady mixed load with random client aborts and slow readers for a
long time, the server's RSS and open descriptors sampled every 10 s; after warm-up neither may
grow by more than 5 %. Writes the samples (CSV) and a plot (SVG) next to each other.

  python3 tests/abuse/soak.py --mint build/apps/mint [--duration 1800] [--out build/soak]

Exit status 0 when RSS and descriptors stayed flat, 1 when either grew, 2 on a setup error.
Standard library only. The client mix, per worker thread, in random order:
  complete   a non-streamed completion, read whole
  stream     a streamed chat completion, read whole
  abort      a streamed completion (n=4) dropped after its first bytes
  slow       a streamed completion read a few bytes at a time, then dropped
  stall      a streamed completion (n=8) never read, dropped after a few seconds
  garbage    malformed HTTP, an oversized header, a body over the limit
"""
import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def request(path, body, host="127.0.0.1"):
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


class Client(threading.Thread):
    def __init__(self, port, seed, stop):
        super().__init__(daemon=True)
        self.port, self.rng, self.stop = port, random.Random(seed), stop
        self.counts = {}

    def conn(self, timeout=30):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def read_all(self, s):
        while True:
            b = s.recv(65536)
            if not b or b.endswith(b"0\r\n\r\n") or b.endswith(b"}"):
                return

    def prompt(self):
        words = ["alpha", "beta", "gamma", "delta", "story", "river", "stone", "light"]
        return " ".join(self.rng.choice(words) for _ in range(self.rng.randint(4, 200)))

    def one(self):
        kind = self.rng.choice(["complete", "stream", "abort", "slow", "stall", "garbage"])
        self.counts[kind] = self.counts.get(kind, 0) + 1
        s = self.conn()
        try:
            if kind == "complete":
                s.sendall(request("/v1/completions", {"model": "tiny", "prompt": self.prompt(),
                                                      "max_tokens": self.rng.randint(1, 64)}))
                self.read_all(s)
            elif kind == "stream":
                s.sendall(request("/v1/chat/completions", {
                    "model": "tiny", "stream": True, "max_tokens": self.rng.randint(1, 64),
                    "messages": [{"role": "user", "content": self.prompt()}]}))
                self.read_all(s)
            elif kind == "abort":
                s.sendall(request("/v1/completions", {"model": "tiny", "prompt": self.prompt(),
                                                      "n": 4, "stream": True, "max_tokens": 400,
                                                      "ignore_eos": True}))
                s.recv(self.rng.randint(1, 2000))
            elif kind == "slow":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(request("/v1/completions", {"model": "tiny", "prompt": self.prompt(),
                                                      "stream": True, "max_tokens": 300,
                                                      "ignore_eos": True}))
                for _ in range(self.rng.randint(5, 30)):
                    s.recv(16)
                    time.sleep(0.05)
            elif kind == "stall":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(request("/v1/completions", {"model": "tiny", "prompt": self.prompt(),
                                                      "n": 8, "stream": True, "max_tokens": 800,
                                                      "ignore_eos": True}))
                time.sleep(self.rng.uniform(1, 4))
            else:
                s.sendall(self.rng.choice([
                    b"GARBAGE\r\n\r\n",
                    b"GET /health HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
                    b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999\r\n\r\n",
                    b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"]))
                s.recv(4096)
        except OSError:
            pass
        finally:
            s.close()

    def run(self):
        while not self.stop.is_set():
            self.one()


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def svg(samples, warmup_s, path):
    """A two-panel line plot (RSS MiB, open descriptors) against minutes."""
    w, h, pad = 760, 200, 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{2 * h + 40}" '
           'font-family="sans-serif" font-size="12">']
    t_max = max(s[0] for s in samples) or 1
    for panel, (col, label) in enumerate([(1, "RSS (MiB)"), (2, "open descriptors")]):
        y0 = 20 + panel * (h + 20)
        vals = [s[col] / 1024 if col == 1 else s[col] for s in samples]
        v_max = max(vals) * 1.1 or 1
        def xy(t, v):
            return pad + (w - 2 * pad) * t / t_max, y0 + h - pad / 2 - (h - pad) * v / v_max
        out.append(f'<text x="{pad}" y="{y0 + 8}">{label} (max {max(vals):.1f})</text>')
        out.append(f'<line x1="{pad}" y1="{y0 + h - pad / 2}" x2="{w - pad}" y2="{y0 + h - pad / 2}" stroke="#999"/>')
        wx, _ = xy(warmup_s, 0)
        out.append(f'<line x1="{wx:.1f}" y1="{y0 + 12}" x2="{wx:.1f}" y2="{y0 + h - pad / 2}" '
                   'stroke="#c66" stroke-dasharray="4"/>')
        out.append(f'<text x="{wx + 4:.1f}" y="{y0 + 24}" fill="#c66">end of warm-up</text>')
        pts = " ".join("%.1f,%.1f" % xy(s[0], v) for s, v in zip(samples, vals))
        out.append(f'<polyline fill="none" stroke="#2a6" stroke-width="1.5" points="{pts}"/>')
        for m in range(0, int(t_max / 60) + 1, max(1, int(t_max / 60 / 10))):
            x, _ = xy(m * 60, 0)
            out.append(f'<text x="{x:.1f}" y="{y0 + h - pad / 2 + 14}" text-anchor="middle">{m} min</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mint", required=True, help="the mint binary")
    ap.add_argument("--duration", type=int, default=1800, help="seconds of load (default 1800)")
    ap.add_argument("--warmup", type=int, default=0, help="seconds before the baseline (default: a fifth)")
    ap.add_argument("--clients", type=int, default=12, help="concurrent client threads")
    ap.add_argument("--interval", type=float, default=10, help="seconds between samples")
    ap.add_argument("--out", default=None, help="directory for soak.csv and soak.svg")
    a = ap.parse_args()
    warmup = a.warmup or a.duration // 5
    out = a.out or tempfile.mkdtemp(prefix="mint-soak-")
    os.makedirs(out, exist_ok=True)
    model = os.path.join(out, "tiny.gguf")
    # The preset's vocabulary lives in ../shared beside the checkout (ctest runs in the build tree).
    shared = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
    if subprocess.run([a.mint, "gguf", "synth", "--preset", "tiny", "--type", "q8_0",
                       "--shared-dir", shared, "-o", model], capture_output=True).returncode != 0:
        log("cannot write the synthetic model")
        return 2
    server_log = open(os.path.join(out, "server.log"), "w")
    server = subprocess.Popen([a.mint, "serve", "-m", model, "--port", "0", "-t", "1",
                               "--served-model-name", "tiny", "--max-queued", "4096"],
                              stdout=server_log, stderr=subprocess.STDOUT)
    port = None
    for _ in range(600):
        time.sleep(0.1)
        text = open(os.path.join(out, "server.log")).read()
        if "serving 'tiny' on http://127.0.0.1:" in text:
            port = int(text.split("serving 'tiny' on http://127.0.0.1:")[1].split("/")[0])
            break
    if port is None:
        log("the server did not start; see " + os.path.join(out, "server.log"))
        server.kill()
        return 2
    log(f"server pid {server.pid} on port {port}; {a.clients} clients for {a.duration} s "
        f"(warm-up {warmup} s); samples every {a.interval} s into {out}")
    stop = threading.Event()
    clients = [Client(port, seed, stop) for seed in range(a.clients)]
    for c in clients:
        c.start()
    samples = []
    t0 = time.time()
    with open(os.path.join(out, "soak.csv"), "w") as csv:
        csv.write("seconds,rss_kib,fds\n")
        while time.time() - t0 < a.duration and server.poll() is None:
            rss, fds = sample(server.pid)
            samples.append((time.time() - t0, rss, fds))
            csv.write("%.1f,%d,%d\n" % samples[-1])
            csv.flush()
            if len(samples) % 6 == 1:
                log(f"t={samples[-1][0]:.0f}s rss={rss / 1024:.1f} MiB fds={fds}")
            time.sleep(a.interval)
    stop.set()
    for c in clients:
        c.join(timeout=60)
    crashed = server.poll() is not None
    server.terminate()
    server.wait(timeout=30)
    svg(samples, warmup, os.path.join(out, "soak.svg"))
    totals = {}
    for c in clients:
        for k, v in c.counts.items():
            totals[k] = totals.get(k, 0) + v
    log("requests by kind: " + json.dumps(totals, sort_keys=True))
    if crashed:
        log("FAIL: the server exited during the soak")
        return 1
    after = [s for s in samples if s[0] >= warmup]
    if len(after) < 3:
        log("FAIL: too few samples after warm-up")
        return 1
    base = after[:3]
    rss0 = sorted(s[1] for s in base)[1]
    fd0 = sorted(s[2] for s in base)[1]
    rss_max = max(s[1] for s in after)
    fd_max = max(s[2] for s in after)
    # The last third against the first samples after warm-up: growth, not noise, is the failure.
    tail = after[len(after) * 2 // 3:]
    rss_tail = sorted(s[1] for s in tail)[len(tail) // 2]
    fd_tail = sorted(s[2] for s in tail)[len(tail) // 2]
    rss_growth = rss_tail / rss0 - 1
    fd_growth = (fd_tail - fd0) / max(fd0, 1)
    log(f"after warm-up: RSS {rss0 / 1024:.1f} -> median of the last third {rss_tail / 1024:.1f} MiB "
        f"({100 * rss_growth:+.1f} %, max {rss_max / 1024:.1f}); descriptors {fd0} -> {fd_tail} "
        f"({100 * fd_growth:+.1f} %, max {fd_max})")
    ok = rss_growth <= 0.05 and fd_growth <= 0.05
    log(("PASS" if ok else "FAIL") + ": plot " + os.path.join(out, "soak.svg"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
