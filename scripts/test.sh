#!/usr/bin/env bash
# The project's test command (`npm test`): node's test runner over test/**/*.test.ts, then a summary line.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# Fresh clone? set up first (idempotent; a few seconds when everything is in place).
bash scripts/setup.sh || { echo "setup failed" >&2; exit 1; }
export PATH="$ROOT/tools/bin:$ROOT/.venv/bin:$PATH"
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files under test/" >&2; exit 1; fi
tap="$(mktemp)"
trap 'rm -f "$tap"' EXIT
node --import tsx --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}"
rc=$?
pass=$(grep -E '^# pass ' "$tap" | tail -1 | awk '{print $3}')
fail=$(grep -E '^# fail ' "$tap" | tail -1 | awk '{print $3}')
skip=$(grep -E '^# skipped ' "$tap" | tail -1 | awk '{print $3}')
echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
exit $rc
