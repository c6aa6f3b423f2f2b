#!/usr/bin/env bash
# One-time (idempotent) setup: node modules, the Temporal CLI built from source, the Python virtualenv.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
start=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }

step "node modules (npm ci)"
export ONNXRUNTIME_NODE_INSTALL=skip   # CPU binaries ship in the package; the CUDA download host is unreachable
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.ringrift-lock 2>/dev/null; then
  echo "node_modules up to date"
else
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.ringrift-lock
fi

step "Temporal CLI (dev server + Web UI)"
bash scripts/install-temporal.sh

step "Python virtualenv (.venv)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
if cmp -s requirements.txt .venv/.ringrift-requirements 2>/dev/null; then
  echo ".venv up to date"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  cp requirements.txt .venv/.ringrift-requirements
fi

echo
echo "setup done in $(( $(date +%s) - start ))s"
