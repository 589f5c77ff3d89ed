#!/usr/bin/env python3
"""Writes a Mooncake-format trace (JSONL: timestamp ms, input_length, output_length, hash_ids of
512-token blocks) with a chosen prefix-reuse structure, so that no router result rests on one
published trace.

  scripts/gen_trace.py KIND [options] > trace.jsonl
  KIND: conversation | agent | tenants | mix

  conversation  multi-turn chats: each turn resends the whole history (earlier prompts and
                answers) plus a new user message; think time between turns.
  agent         tool-agent loops: a long system prompt shared by every session of the same agent
                (--agents kinds), then a scratchpad that grows by each step's output and tool
                result; short think times (tool latency).
  tenants       many tenants, each with its own system prompt, chosen by Zipf popularity; every
                request is that prompt plus a question of its own.
  mix           the three above, interleaved (a third of the sessions each).

Every session's tokens form one stream; block k of it has one hash id wherever it recurs, and a
prompt's trailing partial block shares the id of the block it will fill (its tokens are that
block's first tokens, as `mint bench --trace` turns ids into tokens). Sessions start as a
renewal process of --rate per second with gaps of coefficient of variation --burstiness (1:
Poisson; > 1: bursty, gamma gaps). Lengths are lognormal with the given mean and sigma.

The reuse a trace allows: scripts/trace_hit_rate.py TRACE [--capacity-tokens N].
"""
import argparse
import json
import math
import random
import sys

BLOCK = 512


class Ids:
    """Hash ids, unique across the whole trace."""

    def __init__(self):
        self.next = 1

    def new(self, n):
        ids = list(range(self.next, self.next + n))
        self.next += n
        return ids


def lognormal(rng, mean, sigma, lo=1):
    """A lognormal draw with the given mean (sigma of the underlying normal)."""
    if sigma <= 0:
        return max(lo, int(round(mean)))
    mu = math.log(mean) - sigma * sigma / 2
    return max(lo, int(round(rng.lognormvariate(mu, sigma))))


def gaps(rng, rate, cv):
    """Inter-arrival gaps (s) of a renewal process with mean 1/rate and coefficient of variation cv."""
    while True:
        if abs(cv - 1) < 1e-9:
            yield rng.expovariate(rate)
        else:
            k = 1 / (cv * cv)  # gamma shape; scale keeps the mean
            yield rng.gammavariate(k, 1 / (rate * k))


class Stream:
    """One session's token stream: block k has one hash id, allocated when first reached."""

    def __init__(self, ids, shared=None):
        self.ids = ids
        self.blocks = list(shared or [])  # leading blocks shared with other sessions
        self.length = len(self.blocks) * BLOCK

    def extend(self, n):
        self.length += n
        need = -(-self.length // BLOCK)
        if need > len(self.blocks):
            self.blocks += self.ids.new(need - len(self.blocks))

    def prompt(self):
        return self.length, self.blocks[: -(-self.length // BLOCK)]


def conversation(rng, ids, a, t0):
    s = Stream(ids)
    t = t0
    for turn in range(lognormal(rng, a.turns, 0.5)):
        s.extend(lognormal(rng, a.user_tokens if turn else a.first_tokens, a.sigma))
        n, blocks = s.prompt()
        out = lognormal(rng, a.output_tokens, a.sigma)
        yield t, n, out, blocks
        s.extend(out)  # the answer is part of the next turn's history
        t += rng.expovariate(1 / a.think_s)


def agent(rng, ids, a, t0, system):
    s = Stream(ids, shared=system)
    t = t0
    s.extend(lognormal(rng, a.user_tokens, a.sigma))  # the task
    for step in range(lognormal(rng, a.steps, 0.4)):
        n, blocks = s.prompt()
        out = lognormal(rng, a.agent_output_tokens, a.sigma)
        yield t, n, out, blocks
        s.extend(out + lognormal(rng, a.tool_tokens, a.sigma))  # its call, then the tool's result
        t += rng.expovariate(1 / a.tool_s)


def tenant(rng, ids, a, t0, system):
    s = Stream(ids, shared=system)
    s.extend(lognormal(rng, a.user_tokens, a.sigma))
    n, blocks = s.prompt()
    yield t0, n, lognormal(rng, a.output_tokens, a.sigma), blocks


def zipf_weights(n, s):
    w = [1 / (i + 1) ** s for i in range(n)]
    z = sum(w)
    return [x / z for x in w]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("kind", choices=["conversation", "agent", "tenants", "mix"])
    ap.add_argument("--sessions", type=int, default=600, help="sessions (tenants: requests)")
    ap.add_argument("--rate", type=float, default=1.0, help="session starts per second")
    ap.add_argument("--burstiness", type=float, default=1.0,
                    help="coefficient of variation of the gaps between session starts")
    ap.add_argument("--sigma", type=float, default=0.6, help="lognormal sigma of every length")
    ap.add_argument("--first-tokens", type=int, default=2048, help="conversation: first message")
    ap.add_argument("--user-tokens", type=int, default=400, help="later messages, tasks, questions")
    ap.add_argument("--output-tokens", type=int, default=250)
    ap.add_argument("--turns", type=float, default=4, help="conversation: mean turns")
    ap.add_argument("--think-s", type=float, default=30, help="conversation: mean think time")
    ap.add_argument("--agents", type=int, default=8, help="agent: distinct system prompts")
    ap.add_argument("--system-tokens", type=int, default=6000, help="agent/tenants: system prompt")
    ap.add_argument("--steps", type=float, default=8, help="agent: mean steps per session")
    ap.add_argument("--agent-output-tokens", type=int, default=120)
    ap.add_argument("--tool-tokens", type=int, default=800, help="agent: tool result per step")
    ap.add_argument("--tool-s", type=float, default=3, help="agent: mean tool time")
    ap.add_argument("--tenants", type=int, default=64)
    ap.add_argument("--zipf", type=float, default=1.0, help="tenants: popularity exponent")
    ap.add_argument("--max-input", type=int, default=131072, help="longer prompts are dropped")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    ids = Ids()
    systems = [ids.new(-(-lognormal(rng, a.system_tokens, 0.3) // BLOCK))
               for _ in range(max(a.agents, a.tenants))]
    tenant_w = zipf_weights(a.tenants, a.zipf)
    entries = []
    start = 0.0
    gen = gaps(rng, a.rate, a.burstiness)
    for i in range(a.sessions):
        start += next(gen)
        kind = a.kind if a.kind != "mix" else ["conversation", "agent", "tenants"][i % 3]
        if kind == "conversation":
            reqs = conversation(rng, ids, a, start)
        elif kind == "agent":
            reqs = agent(rng, ids, a, start, systems[rng.randrange(a.agents)])
        else:
            t = rng.choices(range(a.tenants), weights=tenant_w)[0]
            reqs = tenant(rng, ids, a, start, systems[t])
        for t, n, out, blocks in reqs:
            if n <= a.max_input:
                entries.append((t, n, out, blocks))
    entries.sort(key=lambda e: e[0])
    for t, n, out, blocks in entries:
        sys.stdout.write(json.dumps({"timestamp": int(round(t * 1000)), "input_length": n,
                                     "output_length": out, "hash_ids": blocks}) + "\n")


if __name__ == "__main__":
    main()
