#!/usr/bin/env bash
# `npm run pulumi -- <args>`: the project's Pulumi CLI with the project's environment (scripts/env.sh).
# Before set-up has run, an existing `pulumi` on PATH (an official install) is used as it is.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [[ -z "${PINHOLE_PULUMI_DIR:-}" ]] && ! command -v pulumi >/dev/null 2>&1; then
  for a in "$@"; do
    if [[ "$a" == "--help" || "$a" == "-h" ]]; then
      echo "usage: npm run pulumi -- <pulumi command and flags>   (the project's Pulumi CLI, with scripts/env.sh's environment)"
      echo "  no Pulumi CLI yet: 'npm run setup' builds one (or uses an existing install on PATH); then --help is the CLI's own"
      exit 0
    fi
  done
  echo "pinhole: no Pulumi CLI yet: run 'npm run setup' (it builds one, or uses an existing install on PATH)." >&2
  exit 1
fi
cd "$PINHOLE_ROOT"
# --policy-pack <dir> with an executable <dir>/analyzer (policy/): start the pack through it. The language host
# the offline toolchain builds cannot start a Node.js policy pack directory (docs/toolchain.md "Policy packs").
args=()
for a in "$@"; do
  if [[ "${prev:-}" == "--policy-pack" && -d "$a" && -x "$a/analyzer" ]]; then a="$a/analyzer"; fi
  if [[ "$a" == --policy-pack=* && -x "${a#--policy-pack=}/analyzer" ]]; then a="$a/analyzer"; fi
  args+=("$a"); prev="$a"
done
exec pulumi "${args[@]}"
