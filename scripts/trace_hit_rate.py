#!/usr/bin/env python3
"""The prefix-cache hit rate a Mooncake trace allows: the fraction of its prompt blocks that an
ideal router could serve from cache.

  scripts/trace_hit_rate.py TRACE.jsonl [--capacity-tokens N] [--block-tokens 512]

Infinite cache: a block (hash id, 512 tokens) hits when any earlier request listed it. With
--capacity-tokens: one LRU cache of that many tokens (the workers' caches pooled, as if a perfect
router kept every prefix on one worker and nothing were stored twice) -- an upper bound for any
routing over that much KV memory. Blocks are counted as the trace lists them; a request's tokens
beyond its listed blocks are unique and never hit.
"""
import argparse
import collections
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace")
    ap.add_argument("--capacity-tokens", type=int, default=0, help="0: infinite")
    ap.add_argument("--block-tokens", type=int, default=512)
    a = ap.parse_args()
    cap = a.capacity_tokens // a.block_tokens if a.capacity_tokens else 0
    lru = collections.OrderedDict()
    hits = total = 0
    hit_tokens = total_tokens = 0
    with open(a.trace) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            ids = r["hash_ids"]
            total_tokens += r["input_length"]
            remaining = r["input_length"]
            # A prefix cache hits a leading run of blocks only.
            run = True
            for h in ids:
                total += 1
                n = max(min(remaining, a.block_tokens), 0)
                remaining -= n
                if run and h in lru:
                    hits += 1
                    hit_tokens += n
                else:
                    run = False
            for h in ids:
                lru[h] = True
                lru.move_to_end(h)
                if cap and len(lru) > cap:
                    lru.popitem(last=False)
    print(json.dumps({"blocks": total, "hits": hits, "hit_rate": hits / total if total else 0,
                      "prompt_tokens": total_tokens,
                      "token_hit_rate": hit_tokens / total_tokens if total_tokens else 0,
                      "capacity_blocks": cap or None}))


if __name__ == "__main__":
    main()
