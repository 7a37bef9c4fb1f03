#!/usr/bin/env bash
# `npm test`: all set-up, then the type check, lint + format check, unit tests and integration tests (real engine, real lab).
# PINHOLE_TEST=unit runs only the unit tests; arguments select integration test files/options
# (e.g. npm test -- test/integration/firewall.test.ts --grep modular).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
t0=$(date +%s)
bash scripts/setup.sh
. scripts/env.sh   # the project's Node.js and Pulumi first on PATH
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }
step "type check (tsc --noEmit)"
npx tsc --noEmit -p .
step "lint and format check (eslint, prettier --check: npm run format fixes the format)"
npx eslint . --max-warnings 0
npx prettier --check . --log-level warn
step "unit tests"
npx mocha --config .mocharc.unit.json
if [[ "${PINHOLE_TEST:-all}" != "unit" ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "integration tests need root (network namespaces, nftables): run as root or PINHOLE_TEST=unit" >&2
    exit 1
  fi
  step "integration tests (real engine, lab in network namespaces)"
  if [[ $# -gt 0 ]]; then
    # Given files/options: run just those (the config's spec list would add every file).
    npx mocha --require ts-node/register/transpile-only --timeout 900000 --slow 30000 "$@"
  else
    # Files listed in test/integration/held-back.txt have not yet passed on the lab with the code on main:
    # they run only when asked for (PINHOLE_TEST_HELD_BACK=1, or by naming the file), never silently.
    ignore=()
    if [[ "${PINHOLE_TEST_HELD_BACK:-0}" != "1" ]]; then
      while read -r file reason; do
        [[ -z "$file" || "$file" == \#* ]] && continue
        echo "held back (PINHOLE_TEST_HELD_BACK=1 runs it): $file — $reason"
        ignore+=(--ignore "$file")
      done < test/integration/held-back.txt
    fi
    npx mocha --config .mocharc.integration.json "${ignore[@]}"
  fi
fi
step "all tests passed"
