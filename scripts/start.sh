#!/usr/bin/env bash
# `npm start [-- args]`: the project's set-up (scripts/setup.sh), then tools/start/main.ts (lab, pulumi up, verify),
# compiled (scripts/run.js: dist/, rebuilt first when a source changed).
# --help / -h prints the usage and nothing else: no set-up, no lab, no Pulumi.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
for a in "$@"; do
  if [[ "$a" == "--help" || "$a" == "-h" ]]; then
    if [[ ! -x node_modules/.bin/ts-node ]]; then
      echo "usage: npm start [-- --model <standalone|unified|modular|multisite>] [--verbose] [--parallel N] [--no-probes] [--backend URL]"
      echo "  (not set up yet: the first npm start runs the set-up; docs/operations.md explains each option)"
      exit 0
    fi
    exec node scripts/run.js tools/start/main.ts --help
  fi
done
# --backend URL: the state backend of this run (set-up reports it, scripts/env.sh keeps it; start.ts checks it).
# A value that is not even scheme://... is refused here, before set-up (start.ts checks the scheme itself).
backend_flag() {
  if [[ ! "$1" =~ ^[a-z0-9]+://. ]]; then
    echo "npm start: --backend needs a backend URL (s3://..., file://..., azblob://..., gs://..., https://...); got \"$1\"" >&2
    exit 64
  fi
  export PULUMI_BACKEND_URL="$1"
}
prev=""
for a in "$@"; do
  if [[ "$prev" == "--backend" ]]; then backend_flag "$a"; fi
  if [[ "$a" == --backend=* ]]; then backend_flag "${a#--backend=}"; fi
  prev="$a"
done
if [[ "$prev" == "--backend" ]]; then backend_flag ""; fi
bash scripts/setup.sh
. scripts/env.sh
exec node scripts/run.js tools/start/main.ts "$@"
