#!/usr/bin/env bash
# The serve command until `mint serve` exists: installs dependencies, builds, and runs the default
# tiny model from BOS with greedy sampling. Extra arguments go to `mint run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target mint
exec build/apps/mint run --model ../shared/models/stories260K.gguf -n 64 --temp 0 "$@"
