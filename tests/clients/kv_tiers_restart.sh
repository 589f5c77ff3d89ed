#!/usr/bin/env bash
# The tiered KV cache survives `kill -9`: a multi-turn run with a host and a disk tier, then the
# server is killed and started again on the same --kv-disk-dir. The second run of the same
# conversations finds its blocks on disk (mint_kv_tier_disk_found_at_start_blocks, disk hits in
# mint_kv_tier_hit_blocks_total) and its mean TTFT is below the first run's, which had to
# compute every first turn.
#
#   bash tests/clients/kv_tiers_restart.sh <mint binary>   (ctest: clients_kv_tiers_restart)
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 <mint binary>" >&2
  exit 2
fi
MINT_BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/mint_server.sh"
WORK=$(mktemp -d -t mint-kv-tiers.XXXXXX)
trap 'stop_mint; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; [ -n "${MINT_LOG:-}" ] && tail -n 20 "$MINT_LOG" >&2; exit 1; }

# SmolLM2-135M shapes cut to 8 layers: a prompt costs ~0.1 s to compute here, far more than
# loading its KV from disk.
MODEL=$WORK/m.gguf
"$MINT_BIN" gguf synth --preset smollm2-135m --layers 8 --vocab builtin --type q8_0 -o "$MODEL" \
  >/dev/null 2>&1 || fail "gguf synth"
TIERS=(--kv-cache-memory 4M --kv-host-memory 4M --kv-disk-dir "$WORK/disk" --kv-disk-size 256M
       --served-model-name m)
metric() {  # metric NAME [LABEL]: the value of one sample of /metrics text on stdin
  python3 -c 'import sys
name, label = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
for l in sys.stdin:
    if l.startswith(name) and l[len(name)] in " {" and label in l:
        print(float(l.split()[-1])); break
else:
    print("missing")' "$@"
}
bench() {  # bench OUT.json: 6 conversations of 3 turns, sequential turns within each
  "$MINT_BIN" bench --url "http://127.0.0.1:$MINT_PORT" --model m --conversations 6 --turns 3 \
    --rate 50 --think-time 0.05 --first-len 60 --input-len 10 --output-len 8 --seed 7 \
    --output "$1" >/dev/null 2>&1 || fail "mint bench"
}
ttft_mean() {  # mean TTFT (s) of a report
  python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
print(r["latency_s"]["ttft"]["mean"])' "$1"
}

start_mint "$MINT_BIN" "$MODEL" "${TIERS[@]}" || fail "mint serve did not start"
bench "$WORK/run1.json"
m1=$(http_get "http://127.0.0.1:$MINT_PORT/metrics")
disk_blocks=$(metric mint_kv_tier_blocks 'tier="disk"' <<<"$m1")
python3 -c "import sys; sys.exit(0 if float('$disk_blocks') > 0 else 1)" 2>/dev/null ||
  fail "no block reached the disk tier (mint_kv_tier_blocks{tier=\"disk\"} = $disk_blocks)"
kill -KILL "$MINT_PID"; wait "$MINT_PID" 2>/dev/null; MINT_PID=""

start_mint "$MINT_BIN" "$MODEL" "${TIERS[@]}" || fail "mint serve did not start again"
m2=$(http_get "http://127.0.0.1:$MINT_PORT/metrics")
found=$(metric mint_kv_tier_disk_found_at_start_blocks <<<"$m2")
bench "$WORK/run2.json"
m3=$(http_get "http://127.0.0.1:$MINT_PORT/metrics")
stop_mint || fail "mint serve did not stop cleanly"
disk_hits=$(metric mint_kv_tier_hit_blocks_total 'tier="disk"' <<<"$m3")
t1=$(ttft_mean "$WORK/run1.json")
t2=$(ttft_mean "$WORK/run2.json")
python3 - "$disk_blocks" "$found" "$disk_hits" "$t1" "$t2" <<'PY' || fail "see above"
import sys
disk_blocks, found, hits, t1, t2 = (float(x) if x != "missing" else -1 for x in sys.argv[1:])
ok = True
if found <= 0 or found > disk_blocks:
    print(f"found {found} blocks at start, {disk_blocks} were on disk"); ok = False
if hits <= 0:
    print(f"no disk hits after the restart ({hits})"); ok = False
if not t2 < t1:
    print(f"TTFT mean after the restart {t2 * 1e3:.1f} ms, not below the first run's {t1 * 1e3:.1f} ms"); ok = False
print(f"disk: {disk_blocks:.0f} blocks written, {found:.0f} found after kill -9, {hits:.0f} hit; "
      f"TTFT mean {t1 * 1e3:.1f} ms -> {t2 * 1e3:.1f} ms")
sys.exit(0 if ok else 1)
PY
echo "OK: a killed worker's disk tier is warm after the restart"
