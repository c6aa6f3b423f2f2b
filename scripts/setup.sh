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

step "production Temporal server (go.temporal.io/server + SQL tool; see README \"Production Temporal\")"
# Optional: only `scripts/prod-temporal.sh` and its test use it; cached by Go, so seconds after the first build.
bash scripts/prod-temporal.sh build ||
  echo "could not build the production Temporal server: its test (test/integration/prodTemporal.test.ts) tries again"

step "Python virtualenv (.venv)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
if cmp -s requirements.txt .venv/.ringrift-requirements 2>/dev/null; then
  echo ".venv up to date"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  cp requirements.txt .venv/.ringrift-requirements
fi

step "Prometheus server (used by the metrics test only)"
if command -v prometheus >/dev/null 2>&1; then
  echo "prometheus present ($(command -v prometheus))"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # Debian's package; its service must not start or stay enabled (tests start their own instance):
  # a policy-rc.d answering 101 keeps the package scripts from starting it.
  policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; fi
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends prometheus) >/tmp/ringrift-prometheus-install.log 2>&1; then
    installed=1
  else
    installed=0
  fi
  if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
  if [ "$installed" = 1 ]; then
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl disable --now prometheus >/dev/null 2>&1 || true
    else
      service prometheus stop >/dev/null 2>&1 || true
      update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
    echo "prometheus installed (Debian package; its service stopped and disabled)"
  else
    echo "could not install prometheus (see /tmp/ringrift-prometheus-install.log): the metrics test will be skipped"
  fi
else
  echo "prometheus not installed (needs root and apt-get): the metrics test will be skipped"
fi

step "OpenSSH server (used by the cluster tests only; each test starts its own sshd on a loopback port)"
if [ -x /usr/sbin/sshd ]; then
  echo "sshd present (/usr/sbin/sshd)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # as for prometheus: keep the package's service from starting (tests run `sshd -D -f <their config>`)
  policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; fi
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends openssh-server openssh-client) >/tmp/ringrift-sshd-install.log 2>&1; then
    installed=1
  else
    installed=0
  fi
  if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
  if [ "$installed" = 1 ]; then
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl disable --now ssh >/dev/null 2>&1 || true
    fi
    echo "openssh-server installed (Debian package; its service not started)"
  else
    echo "could not install openssh-server (see /tmp/ringrift-sshd-install.log): the cluster tests will be skipped"
  fi
else
  echo "openssh-server not installed (needs root and apt-get): the cluster tests will be skipped"
fi

echo
echo "setup done in $(( $(date +%s) - start ))s"
