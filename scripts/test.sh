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

# The Python trainer's unit tests (pytest); their counts join the summary line.
echo
echo "==> pytest trainer/tests"
pylog="$(mktemp)"
trap 'rm -f "$tap" "$pylog"' EXIT
PYTHONDONTWRITEBYTECODE=1 .venv/bin/python -m pytest -q -p no:cacheprovider trainer/tests 2>&1 | tee "$pylog"
pyrc=${PIPESTATUS[0]}
pyline="$(grep -E '[0-9]+ (passed|failed|skipped|error)' "$pylog" | tail -1)"
pycount() { echo "$pyline" | grep -oE "[0-9]+ $1" | awk '{print $1}' | head -1; }
pypass=$(pycount passed)
pyfail=$(pycount failed)
pyerr=$(pycount 'errors?')
pyskip=$(pycount skipped)
pyfail=$(( ${pyfail:-0} + ${pyerr:-0} ))
if [ "$pyrc" -ne 0 ] && [ "$pyfail" -eq 0 ]; then pyfail=1; fi   # pytest itself failed (collection, crash)
[ "$pyrc" -ne 0 ] && [ "$rc" -eq 0 ] && rc=$pyrc

echo "$(( ${pass:-0} + ${pypass:-0} )) passed, $(( ${fail:-0} + pyfail )) failed, $(( ${skip:-0} + ${pyskip:-0} )) skipped"
exit $rc
