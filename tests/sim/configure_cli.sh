#!/usr/bin/env bash
# mint configure and mint simulate as a user runs them: a synthetic workload, the ranked table,
# the JSON (checked with Python's json), the deploy commands, the profile's cost used; and a
# disaggregated mint simulate whose JSON report says what it was.
#   configure_cli.sh MINT
set -euo pipefail
MINT=$1
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cat >"$OUT/profile.json" <<'JSON'
{"version": 1, "device": "test device", "cost_per_hour": 3.5,
 "prefill": [[16, 2], [1024, 60], [4096, 300]], "decode": [[1, 8], [64, 20], [256, 45]],
 "kv_bytes_per_token": 65536, "kv_capacity_tokens": 200000, "kv_transfer_gbps": 40}
JSON
"$MINT" configure --rate 6 -n 300 --input-len uniform:500:3000 --output-len uniform:20:120 \
  --prefix-groups 8 --prefix-len 512 --sla ttft_p99=1.5,itl_p99=80ms --max-devices 4 \
  --profile "$OUT/profile.json" --batch-tokens 2048,8192 --block-sizes 64 --cache-credits 5 \
  --remote-prefill-thresholds 512 -t 2 -o "$OUT/configure.json" >"$OUT/table.txt" 2>"$OUT/log.txt"
cat "$OUT/table.txt"
grep -q "layouts simulated" "$OUT/log.txt"
grep -q "^   1  " "$OUT/table.txt"
grep -q "mint frontend -m MODEL.gguf" "$OUT/table.txt"
/usr/bin/python3 - "$OUT/configure.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["schema"] == "mint-configure/1", j["schema"]
assert j["device"] == "test device" and j["cost_per_hour"] == 3.5
assert j["simulations"] == len(j["ranked"]) > 0
best = j["ranked"][0]
assert best["meets_sla"], best
assert best["ttft_p99_s"] <= 1.5 and best["itl_p99_s"] <= 0.08, best
assert best["layout"]["devices"] <= 4
costs = [e["cost_per_million_output_tokens"] for e in j["ranked"] if e["meets_sla"]]
assert costs[0] <= min(costs) * 1.01, costs
assert any(e["layout"]["prefill_workers"] > 0 for e in j["ranked"]), "no disaggregated layout"
assert any(l.startswith("mint worker") for l in j["deploy"])
print("configure ok:", best["layout"]["shape"], round(best["cost_per_million_output_tokens"], 4))
PY
"$MINT" simulate --rate 6 -n 200 --input-len 2000 --output-len 50 --workers 2 \
  --prefill-workers 1 --remote-prefill-min-tokens 100 -o "$OUT/sim.json" >"$OUT/sim.txt"
grep -q "disaggregated: 200 of 200 prompts prefilled on the 1 prefill workers" "$OUT/sim.txt"
/usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
assert j['config']['prefill_workers'] == 1 and j['config']['workload']['kind'] == 'synthetic'
assert j['requests']['total'] == 200 and j['requests']['failed'] == 0, j['requests']
assert j['disaggregation']['remote_prefills'] == 200, j['disaggregation']
" "$OUT/sim.json"
# Errors are clear.
if "$MINT" configure --rate 1 -n 5 --sla ttft_p99=1 2>"$OUT/err.txt"; then exit 1; fi
grep -q "itl_p99" "$OUT/err.txt"
if "$MINT" configure --sla ttft_p99=1,itl_p99=1 2>"$OUT/err.txt"; then exit 1; fi
grep -q "rate" "$OUT/err.txt"
echo "ok"
