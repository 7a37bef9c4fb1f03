#!/usr/bin/env bash
# `npm run pulumi -- <args>`: the project's Pulumi CLI with the project's environment.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [[ -z "${PINHOLE_PULUMI_DIR:-}" ]]; then
  echo "pinhole: the Pulumi toolchain is not set up yet: run 'npm run setup' (or 'npm test' / 'npm start')." >&2
  exit 1
fi
cd "$PINHOLE_ROOT"
exec pulumi "$@"
