#!/usr/bin/env python3
"""Holds N concurrent SSE streams open against a Mint server and measures what a new request sees
meanwhile: /health latency and the time to first token of a new streamed completion (p50/p99).

  python3 scripts/hold_streams.py --port 8000 --model NAME [--streams 10000] [--probes 200]

The held streams are completions with a large max_tokens and ignore_eos, read and discarded by
one thread (selectors); they are opened at --rate per second, and the probes start once every
stream has its response header. Prints one JSON object. Standard library only; needs a
descriptor limit above --streams (ulimit -n).
"""
import argparse
import json
import resource
import selectors
import socket
import sys
import threading
import time


def req(model, max_tokens, stream=True):
    body = json.dumps({"model": model, "prompt": "Once upon a time", "max_tokens": max_tokens,
                       "ignore_eos": True, "stream": stream, "temperature": 0}).encode()
    return (b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--streams", type=int, default=10000)
    ap.add_argument("--rate", type=float, default=1000, help="streams opened per second")
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=100000, help="of each held stream")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < a.streams + 64:
        print(f"descriptor limit {hard} is below {a.streams} streams", file=sys.stderr)
        return 2

    sel = selectors.DefaultSelector()
    headers = set()
    closed = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def pump():
        while not stop.is_set():
            for key, _ in sel.select(timeout=0.1):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    s.close()
                    closed[0] += 1
                    continue
                with lock:
                    headers.add(s.fileno())

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    payload = req(a.model, a.max_tokens)
    t0 = time.time()
    held = []
    for i in range(a.streams):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(payload)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        held.append(s)
        behind = (i + 1) / a.rate - (time.time() - t0)
        if behind > 0:
            time.sleep(behind)
    open_s = time.time() - t0
    deadline = time.time() + 600
    while len(headers) < a.streams - closed[0] and time.time() < deadline:
        time.sleep(0.2)
    all_started = time.time() - t0

    health, ttft = [], []
    probe = req(a.model, 1)
    for _ in range(a.probes):
        s = socket.create_connection(("127.0.0.1", a.port))
        start = time.perf_counter()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.recv(4096)
        health.append((time.perf_counter() - start) * 1000)
        s.close()
        s = socket.create_connection(("127.0.0.1", a.port))
        start = time.perf_counter()
        s.sendall(probe)
        buf = b""
        while b"data: " not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        ttft.append((time.perf_counter() - start) * 1000)
        s.close()
        time.sleep(0.05)
    stop.set()
    t.join()
    print(json.dumps({
        "streams": a.streams, "open_seconds": round(open_s, 1),
        "all_headers_seconds": round(all_started, 1), "streams_with_header": len(headers),
        "streams_closed_by_server": closed[0],
        "health_ms": {"p50": round(pct(health, 50), 2), "p99": round(pct(health, 99), 2)},
        "new_request_ttft_ms": {"p50": round(pct(ttft, 50), 1), "p99": round(pct(ttft, 99), 1),
                                "max": round(max(ttft), 1)},
        "probes": a.probes}))
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
