#!/usr/bin/env bash
# Builds the S3-compatible server the team-backend test stores Pulumi state in (gofakes3's server, Go module
# github.com/johannesboyne/gofakes3, in-memory backend), once into a cache, pinned by toolchain/s3/go.mod + go.sum.
# Prints the binary's path on its last stdout line. Used by test/integration/team-backend.test.ts only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[s3-server] %s\n' "$*" >&2; }
die() { printf '[s3-server] ERROR: %s\n' "$*" >&2; exit 1; }
version="$(sed -n 's#^[[:space:]]*github.com/johannesboyne/gofakes3 v\([0-9.]*\).*#\1#p' "$here/s3/go.mod")"
[[ -n "$version" ]] || die "cannot read the pinned version from toolchain/s3/go.mod"
key="$(cat "$here/s3/go.sum" "$here/s3-server.sh" | sha256sum | cut -c1-12)"
cache_root="${PINHOLE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pinhole/toolchain}"
out="$cache_root/gofakes3-v$version-$key"
if [[ -x "$out/gofakes3" ]]; then printf '%s\n' "$out/gofakes3"; exit 0; fi
command -v go >/dev/null 2>&1 || die "Go is not installed: cannot build the S3 server for the team-backend test"
log "building the S3 server (gofakes3 v$version) from its Go module ..."
mkdir -p "$out"
( cd "$here/s3" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w" -o "$out/gofakes3.tmp" github.com/johannesboyne/gofakes3/cmd/gofakes3 ) >&2 ||
  die "building gofakes3 v$version failed (see above)"
mv "$out/gofakes3.tmp" "$out/gofakes3"
printf '%s\n' "$out/gofakes3"
