#!/usr/bin/env bash
# The serve command: installs dependencies, builds, and serves the default tiny model over the
# OpenAI API on http://127.0.0.1:8000 (chat page at /). Extra arguments go to `mint serve`
# (e.g. --port 8080, --host 0.0.0.0, --api-key KEY, --model OTHER.gguf).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target mint
exec build/apps/mint serve --model ../shared/models/stories260K.gguf "$@"
