#!/usr/bin/env bash
# `npm test`: all set-up, then the type check, unit tests and integration tests (real engine, real lab).
# PINHOLE_TEST=unit runs only the unit tests; extra args go to the integration mocha run (e.g. --grep).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
t0=$(date +%s)
bash scripts/setup.sh
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }
step "type check (tsc --noEmit)"
npx tsc --noEmit -p .
step "unit tests"
npx mocha --config .mocharc.unit.json
if [[ "${PINHOLE_TEST:-all}" != "unit" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "integration tests need root (network namespaces, nftables): run as root or PINHOLE_TEST=unit" >&2
    exit 1
  fi
  step "integration tests (real engine, lab in network namespaces)"
  npx mocha --config .mocharc.integration.json "$@"
fi
step "all tests passed"
