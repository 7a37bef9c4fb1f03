#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter, Go module github.com/rhysd/actionlint) once into a cache,
# pinned by toolchain/actionlint/go.mod + go.sum. Prints the binary's path on its last stdout line.
# `npm test` runs it on every workflow file (test/unit/project/workflows.test.ts).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[actionlint] %s\n' "$*" >&2; }
die() { printf '[actionlint] ERROR: %s\n' "$*" >&2; exit 1; }
version="$(sed -n 's#^[[:space:]]*github.com/rhysd/actionlint v\([0-9.]*\).*#\1#p' "$here/actionlint/go.mod")"
[[ -n "$version" ]] || die "cannot read the pinned version from toolchain/actionlint/go.mod"
key="$(cat "$here/actionlint/go.sum" "$here/actionlint.sh" | sha256sum | cut -c1-12)"
cache_root="${PINHOLE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pinhole/toolchain}"
out="$cache_root/actionlint-v$version-$key"
if [[ -x "$out/actionlint" ]]; then
  printf '%s\n' "$out/actionlint"
  exit 0
fi
command -v go >/dev/null 2>&1 || die "Go is not installed: cannot build actionlint v$version (only the workflow lint test needs it)"
log "building actionlint v$version from its Go module ..."
mkdir -p "$out"
( cd "$here/actionlint" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=v$version" -o "$out/actionlint.tmp" github.com/rhysd/actionlint/cmd/actionlint ) >&2 ||
  die "building actionlint v$version failed (see above)"
mv "$out/actionlint.tmp" "$out/actionlint"
printf '%s\n' "$out/actionlint"
