#!/usr/bin/env bash
# Provides the Pulumi CLI and its Node.js language host for this project, without downloads:
#   1. PINHOLE_PULUMI_BIN=/dir (or a `pulumi` + `pulumi-language-nodejs` pair on PATH) is used as is;
#   2. otherwise both are built from their Go modules through the Go module proxy, once, into a cache
#      keyed by version and by the pinned go.sum files (a second run takes a second).
# Prints the directory holding `pulumi` and `pulumi-language-nodejs` on its last stdout line.
# Progress goes to stderr. See docs/toolchain.md for versions and why they are what they are.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] ERROR: %s\n' "$*" >&2; exit 1; }

# The CLI must match the @pulumi/pulumi SDK the program runs with.
sdk_pkg="$root/node_modules/@pulumi/pulumi/package.json"
[[ -f "$sdk_pkg" ]] || die "node_modules/@pulumi/pulumi is missing: run 'npm ci' first (scripts/setup.sh does)."
sdk_version="$(node -p "require('$sdk_pkg').version")"
cli_version="$(sed -n 's#^[[:space:]]*github.com/pulumi/pulumi/pkg/v3 v\([0-9.]*\).*#\1#p' "$here/cli/go.mod" | head -1)"
lang_version="$(sed -n 's#^[[:space:]]*github.com/pulumi/pulumi/sdk/v3 v\([0-9.]*\).*#\1#p' "$here/language-nodejs/go.mod" | head -1)"
[[ -n "$cli_version" && -n "$lang_version" ]] || die "cannot read pinned versions from toolchain/*/go.mod"
if [[ "$cli_version" != "$sdk_version" ]]; then
  die "toolchain/cli/go.mod pins pulumi CLI v$cli_version but package.json has @pulumi/pulumi $sdk_version.
  Re-pin the CLI: (cd toolchain/cli && GOTOOLCHAIN=local go get github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$sdk_version github.com/pulumi/pulumi/sdk/v3@v$sdk_version)"
fi

# 1. A preinstalled Pulumi (official install or an air-gapped copy) wins when asked for or when complete.
use_dir() {
  local dir="$1"
  [[ -x "$dir/pulumi" ]] || return 1
  if [[ ! -x "$dir/pulumi-language-nodejs" ]] && ! command -v pulumi-language-nodejs >/dev/null 2>&1; then
    return 1
  fi
  local v; v="$("$dir/pulumi" version 2>/dev/null | tr -d 'v')" || return 1
  log "using preinstalled Pulumi $v from $dir"
  if [[ "$v" != "$sdk_version" ]]; then
    log "note: that CLI is v$v, the project's SDK is $sdk_version (works when the CLI is not older)"
  fi
  printf '%s\n' "$dir"
  exit 0
}
if [[ -n "${PINHOLE_PULUMI_BIN:-}" ]]; then
  use_dir "$PINHOLE_PULUMI_BIN" || die "PINHOLE_PULUMI_BIN=$PINHOLE_PULUMI_BIN has no executable pulumi and pulumi-language-nodejs"
fi
if [[ "${PINHOLE_BUILD_TOOLCHAIN:-}" != "1" ]] && command -v pulumi >/dev/null 2>&1; then
  use_dir "$(dirname "$(command -v pulumi)")" || true
fi

# 2. Build from Go modules, cached by version and by the pinned dependency sums.
command -v go >/dev/null 2>&1 || die "Go is not installed. Install Go >= 1.25 or set PINHOLE_PULUMI_BIN to a directory with pulumi and pulumi-language-nodejs."
key="$( (cat "$here/cli/go.sum" "$here/language-nodejs/go.sum" "$here/build.sh") | sha256sum | cut -c1-12)"
cache_root="${PINHOLE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pinhole/toolchain}"
out="$cache_root/pulumi-v$cli_version-langhost-v$lang_version-$key"
if [[ -f "$out/.complete" && -x "$out/pulumi" && -x "$out/pulumi-language-nodejs" ]]; then
  log "cached: $out"
  printf '%s\n' "$out"
  exit 0
fi
mkdir -p "$out"

export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
ldflags_version="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version"

# go build with a heartbeat; on failure, name the module/version the proxy refused and the way out.
build() {
  local what="$1" moddir="$2" pkg="$3" bin="$4" version="$5" started errf rc pid
  started=$(date +%s)
  errf="$(mktemp)"
  log "building $what v$version from Go module $pkg (first build: a few minutes on 2 cores) ..."
  ( cd "$moddir" && go build -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w $ldflags_version=v$version" -o "$out/$bin.tmp" "$pkg" ) 2>"$errf" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 15
    kill -0 "$pid" 2>/dev/null && log "  ... still building $what ($(( $(date +%s) - started ))s)"
  done
  rc=0; wait "$pid" || rc=$?
  if [[ $rc -ne 0 ]]; then
    cat "$errf" >&2
    local refused
    refused="$(grep -oE '[a-zA-Z0-9./_-]+@v[^:]+: (reading|verifying|invalid)[^ ]*' "$errf" | head -3 || true)"
    [[ -n "$refused" ]] && log "the module proxy did not serve: $refused"
    rm -f "$errf"
    die "building $what failed (exit $rc). To use an existing Pulumi install instead, set PINHOLE_PULUMI_BIN to the directory that holds pulumi and pulumi-language-nodejs (or put them on PATH) and re-run."
  fi
  rm -f "$errf"
  mv "$out/$bin.tmp" "$out/$bin"
  log "built $what in $(( $(date +%s) - started ))s"
}

build "pulumi CLI" "$here/cli" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi pulumi "$cli_version"
build "Node.js language host" "$here/language-nodejs" \
  github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs pulumi-language-nodejs "$lang_version"
"$out/pulumi" version >/dev/null || die "the built CLI does not run: $out/pulumi"
touch "$out/.complete"
printf '%s\n' "$out"
