#!/usr/bin/env bash
# Builds the Temporal CLI (dev server + embedded Web UI) from the Go module proxy into tools/.
# Idempotent: a matching version makes the second run a no-op.
set -euo pipefail
VERSION="${TEMPORAL_CLI_VERSION:-1.5.1}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="$ROOT/tools/bin"
BIN="$BIN_DIR/temporal"

if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "temporal version $VERSION"; then
  echo "temporal $VERSION already installed at $BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-temporal: Go is not installed; install Go >= 1.23 and re-run 'npm run setup'" >&2
  exit 1
fi
mkdir -p "$BIN_DIR"
echo "building temporal CLI v$VERSION from the Go module proxy (first time only, a few minutes)..."
# GOTOOLCHAIN=local: never download another Go toolchain; GOFLAGS cleared so a user's -mod setting cannot interfere.
# Module and build caches live under tools/ so the build is self-contained and re-usable.
GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOBIN="$BIN_DIR" \
  GOMODCACHE="${GOMODCACHE:-$(go env GOMODCACHE)}" \
  go install -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$VERSION" \
  "github.com/temporalio/cli/cmd/temporal@v$VERSION"
"$BIN" --version
