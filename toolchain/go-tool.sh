#!/usr/bin/env bash
# Builds a Go tool from a module pinned in toolchain/<dir>/go.mod + go.sum (a `tool` line of `go get -tool`), once,
# into the toolchain cache keyed by the pinned sums. Prints the binary's path on its last stdout line.
#   bash toolchain/go-tool.sh <dir> <package> [binary]     e.g. go-tool.sh pebble github.com/letsencrypt/pebble/v2/cmd/pebble
# Used for the test servers only the integration tests need (test/integration/helpers/go-tool.ts: pebble for
# acme.test.ts, gofakes3 for team-backend.test.ts).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:?usage: go-tool.sh <dir> <package> [binary]}"
pkg="${2:?usage: go-tool.sh <dir> <package> [binary]}"
bin="${3:-${pkg##*/}}"
log() { printf '[go-tool %s] %s\n' "$bin" "$*" >&2; }
die() { printf '[go-tool %s] ERROR: %s\n' "$bin" "$*" >&2; exit 1; }
mod="$here/$dir"
[[ -f "$mod/go.mod" && -f "$mod/go.sum" ]] || die "toolchain/$dir/go.mod and go.sum are missing"
# The module that holds the package is the longest `require` path that prefixes it.
module="$(awk -v pkg="$pkg" '$1 ~ /^[a-z]/ && NF >= 2 && (pkg == $1 || index(pkg, $1 "/") == 1) && length($1) > best {
  best = length($1); found = $1 " " $2 } END { print found }' "$mod/go.mod")"
[[ -n "$module" ]] || die "toolchain/$dir/go.mod requires no module holding $pkg"
version="${module#* }"
key="$(cat "$mod/go.sum" "$here/go-tool.sh" | sha256sum | cut -c1-12)"
cache_root="${PINHOLE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pinhole/toolchain}"
out="$cache_root/$bin-$version-$key"
if [[ -x "$out/$bin" ]]; then printf '%s\n' "$out/$bin"; exit 0; fi
command -v go >/dev/null 2>&1 || die "Go is not installed: cannot build $bin $version (${module% *})"
log "building $bin $version from Go module ${module% *} ..."
mkdir -p "$out"
started=$(date +%s)
( cd "$mod" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w" -o "$out/$bin.tmp" "$pkg" ) >&2 || die "building $bin $version failed (see above)"
mv "$out/$bin.tmp" "$out/$bin"
log "built in $(( $(date +%s) - started ))s"
printf '%s\n' "$out/$bin"
