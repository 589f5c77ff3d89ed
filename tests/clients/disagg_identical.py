#!/usr/bin/env python3
"""Disaggregated serving changes no output: 1 prefill + 1 decode worker in separate processes
(`mint worker --role prefill|decode` behind `mint frontend`, real etcd) against one aggregated
engine (`mint serve`), greedy, N token-id prompts of lengths spread over [1, MAX_LEN].

  disagg_identical.py MINT MODEL.gguf [--prompts 32] [--max-len 2000] [--max-tokens 16]
                      [--simd] [--etcd /usr/bin/etcd]

MINT_CPU=scalar (the default here): every token and every logprob equal, to the last bit.
--simd (the machine's kernels): the first token and its logprob equal to the last bit; a later
difference must be a near-tie (the reference's top two candidates at the first differing
position within 0.05 nats), and each is printed. Every prompt is prefilled remotely
(--remote-prefill-min-tokens 1, --remote-prefill-min-fraction 0, one request at a time).
Exit 0 on success, 1 on a difference, 77 (skip) without etcd.
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(url, body, timeout=600):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def wait_for(what, fn, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if fn():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise SystemExit(f"FAIL: timed out waiting for {what}")


def wait_log(path, pattern, timeout=120):
    found = []

    def check():
        m = re.search(pattern, open(path).read())
        if m:
            found.append(m)
        return bool(m)

    wait_for(f"{pattern!r} in {path}", check, timeout)
    return found[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mint")
    ap.add_argument("model")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=2000)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=0, help="token ids below this (default: 500)")
    ap.add_argument("--simd", action="store_true")
    ap.add_argument("--etcd", default=os.environ.get("MINT_ETCD", "/usr/bin/etcd"))
    a = ap.parse_args()
    if not shutil.which(a.etcd):
        print("etcd not installed: skipped")
        return 77
    if not os.path.isfile(a.model):
        print(f"skipped: missing model {a.model} (the shared data is not beside this checkout)")
        return 77
    env = dict(os.environ)
    if a.simd:
        env.pop("MINT_CPU", None)
    else:
        env["MINT_CPU"] = "scalar"
    tmp = tempfile.mkdtemp(prefix="mint-disagg-identical-")
    procs = []

    def start(name, args):
        log = open(os.path.join(tmp, name + ".log"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        procs.append(p)
        return os.path.join(tmp, name + ".log")

    try:
        ec, ep = free_port(), free_port()
        start("etcd", [a.etcd, "--name", "default", "--data-dir", os.path.join(tmp, "etcd"),
                       "--listen-client-urls", f"http://127.0.0.1:{ec}",
                       "--advertise-client-urls", f"http://127.0.0.1:{ec}",
                       "--listen-peer-urls", f"http://127.0.0.1:{ep}",
                       "--initial-advertise-peer-urls", f"http://127.0.0.1:{ep}",
                       "--initial-cluster", f"default=http://127.0.0.1:{ep}"])
        wait_for("etcd", lambda: "true" in get(f"http://127.0.0.1:{ec}/health"))
        common = ["-m", a.model, "-t", "1", "--served-model-name", "m"]
        for role in ("prefill", "decode"):
            start(role, [a.mint, "worker", *common, "--etcd", f"127.0.0.1:{ec}", "--role", role])
        fport, sport = free_port(), free_port()
        start("frontend", [a.mint, "frontend", "-m", a.model, "--served-model-name", "m",
                           "--etcd", f"127.0.0.1:{ec}", "--port", str(fport),
                           "--remote-prefill-min-tokens", "1", "--remote-prefill-min-fraction", "0"])
        start("serve", [a.mint, "serve", *common, "--port", str(sport)])
        fe, ref = f"http://127.0.0.1:{fport}", f"http://127.0.0.1:{sport}"
        wait_for("2 workers in the frontend",
                 lambda: re.search(r"^mint_workers 2$", get(fe + "/metrics"), re.M))
        wait_for("mint serve", lambda: get(ref + "/health") is not None)

        rng = random.Random(1)
        vocab = a.vocab or 500
        lengths = sorted({1, a.max_len} | {rng.randint(2, a.max_len - 1) for _ in range(a.prompts * 2)})
        lengths = [lengths[i * (len(lengths) - 1) // (a.prompts - 1)] for i in range(a.prompts)]
        same = near_ties = 0
        for n in lengths:
            prompt = [rng.randrange(3, vocab) for _ in range(n)]
            body = {"model": "m", "prompt": prompt, "max_tokens": a.max_tokens, "temperature": 0,
                    "logprobs": 2, "ignore_eos": True}
            got, want = post(fe + "/v1/completions", body), post(ref + "/v1/completions", body)
            g, w = got["choices"][0]["logprobs"], want["choices"][0]["logprobs"]
            if g["tokens"][0] != w["tokens"][0] or g["token_logprobs"][0] != w["token_logprobs"][0]:
                print(f"FAIL: prompt of {n}: first token {g['tokens'][0]!r} ({g['token_logprobs'][0]!r}) "
                      f"!= {w['tokens'][0]!r} ({w['token_logprobs'][0]!r})")
                return 1
            if g["tokens"] == w["tokens"] and (a.simd or g["token_logprobs"] == w["token_logprobs"]):
                same += 1
                print(f"prompt of {n}: identical", flush=True)
                continue
            if not a.simd:
                print(f"FAIL: prompt of {n} (MINT_CPU=scalar): {g['tokens']} != {w['tokens']} or "
                      f"logprobs {g['token_logprobs']} != {w['token_logprobs']}")
                return 1
            i = next(k for k in range(len(w["tokens"])) if g["tokens"][k] != w["tokens"][k])
            top = sorted(w["top_logprobs"][i].values(), reverse=True)
            gap = top[0] - top[1] if len(top) > 1 else float("inf")
            print(f"prompt of {n}: tokens differ from position {i}: {g['tokens'][i]!r} vs "
                  f"{w['tokens'][i]!r}; the reference's top two there are {gap:.4f} nats apart")
            if gap > 0.05:
                print(f"FAIL: not a near-tie")
                return 1
            near_ties += 1
        remote = re.search(r"^mint_remote_prefills_total (\d+)$", get(fe + "/metrics"), re.M)
        if not remote or int(remote.group(1)) != len(lengths):
            print(f"FAIL: {remote and remote.group(1)} of {len(lengths)} prompts prefilled remotely")
            return 1
        mode = "SIMD kernels" if a.simd else "MINT_CPU=scalar"
        print(f"OK ({mode}): {len(lengths)} prompts of {lengths[0]}..{lengths[-1]} tokens, each "
              f"prefilled on the prefill worker: {same} identical to one engine's (tokens"
              f"{'' if a.simd else ' and logprobs'}), {near_ties} near-ties; first tokens and their "
              f"logprobs equal to the last bit")
        return 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
