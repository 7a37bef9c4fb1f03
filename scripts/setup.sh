#!/usr/bin/env bash
# All set-up a fresh clone needs, idempotent (a second run takes seconds):
#   apt packages for the lab, npm packages, the Pulumi CLI + language host (toolchain/build.sh),
#   the project's Pulumi home/state directories and a generated passphrase file.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
t0=$(date +%s)

# 1. Debian packages the lab and the tests use (sshd, nft, nginx, sudo for the non-root node, openssl,
#    sslscan for the TLS scan of the web nodes);
#    systemd-container (systemd-nspawn) and mmdebstrap for the booted tier (lab up --boot). Installing
#    systemd-container upgrades the machine's systemd packages to its version (apt does that by itself).
#    The lab's real services (lab up --services, lab/services.ts) and their clients: chrony, slapd, ldap-utils,
#    snmpd, snmptrapd, snmp (policy-rc.d below keeps their system-wide daemons from starting; chrony replaces
#    systemd-timesyncd where that is installed).
apt_packages=(openssh-server openssh-client nftables nginx-light sudo openssl iproute2 procps util-linux passwd curl gcc libc6-dev systemd-container mmdebstrap sslscan chrony slapd ldap-utils snmpd snmptrapd snmp)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ "${PINHOLE_SKIP_APT:-}" == "1" ]]; then
    log "skipping apt (PINHOLE_SKIP_APT=1); missing: ${missing[*]}"
  elif [[ $(id -u) -ne 0 ]]; then
    # A non-root operator runs pinhole against real nodes; only the lab (root: namespaces, nftables) needs these.
    log "not root: skipping the lab's Debian packages (missing: ${missing[*]}); npm run pulumi / matrix / verify /"
    log "  narrow against real nodes need only openssh-client. For the lab, npm start and the integration tests (root):"
    log "  sudo apt-get install ${missing[*]}"
  else
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # policy-rc.d keeps package scripts from starting system-wide sshd/nginx/chronyd/slapd/snmpd: the lab runs its own.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    rm -f /usr/sbin/policy-rc.d; trap - EXIT
  fi
fi

# 2. npm packages, exactly as locked (re-installed when package-lock.json changes).
lock_hash="$(sha256sum package-lock.json | cut -c1-16)"
if [[ "$(cat node_modules/.pinhole-lock 2>/dev/null)" != "$lock_hash" ]]; then
  log "installing npm packages (npm ci) ..."
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" > node_modules/.pinhole-lock
else
  log "npm packages up to date"
fi

# 3. Node.js, the current LTS (toolchain/node.sh: the machine's when current, else from the npm registry).
#    node_modules/.bin/node links to it, so every npm script and npx finds it first on PATH (npm puts
#    node_modules/.bin first); scripts/env.sh puts it first for the rest (the engine, the language host,
#    the provider plugin, the policy pack).
node_dir="$(bash toolchain/node.sh | tail -1)"
[[ -x "$node_dir/node" ]] || die "toolchain/node.sh did not provide a node binary"
ln -sfn "$node_dir/node" node_modules/.bin/node

# 4. Pulumi CLI + Node.js language host (built from Go modules once, then cached).
mkdir -p .pulumi/home .pulumi/state
pulumi_dir="$(bash toolchain/build.sh | tail -1)"
[[ -x "$pulumi_dir/pulumi" ]] || die "toolchain/build.sh did not produce a pulumi binary"
printf 'export PINHOLE_PULUMI_DIR=%q\nexport PINHOLE_NODE_BIN_DIR=%q\n' "$pulumi_dir" "$node_dir" > .pulumi/toolchain.env

# 5. Passphrase for the local secrets provider, unless the operator provides one.
if [[ -z "${PULUMI_CONFIG_PASSPHRASE:-}" && -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" && ! -s .pulumi/passphrase ]]; then
  umask 077
  head -c 32 /dev/urandom | base64 > .pulumi/passphrase
  log "generated .pulumi/passphrase (local secrets; keep it: it decrypts this clone's stack secrets)"
fi

. scripts/env.sh

# 6. The program and the provider run compiled (dist/, scripts/compile.js: incremental tsc, no type check);
#    their launchers rebuild it too whenever a source is newer.
node scripts/compile.js

# 7. The pinhole provider plugin, registered in PULUMI_HOME too (Pulumi.yaml already points the engine at
#    provider/bin; this makes `pulumi plugin ls` show it with its version).
provider_version="$(sed -n 's/^export const PROVIDER_VERSION = "\(.*\)";/\1/p' provider/schema.ts)"
mkdir -p .pulumi/plugin
wrapper_text="$(printf '#!/bin/sh\n# Installed by scripts/setup.sh: runs this checkout'"'"'s provider plugin.\nexec %q "$@"\n' "$root/provider/bin/pulumi-resource-pinhole")"
installed="$PULUMI_HOME/plugins/resource-pinhole-v$provider_version/pulumi-resource-pinhole"
if [[ "$(cat "$installed" 2>/dev/null)" != "$wrapper_text" ]]; then
  printf '%s\n' "$wrapper_text" > .pulumi/plugin/pulumi-resource-pinhole
  chmod +x .pulumi/plugin/pulumi-resource-pinhole
  pulumi plugin install resource pinhole "$provider_version" --file .pulumi/plugin/pulumi-resource-pinhole --reinstall >&2
fi
# 8. actionlint for the workflow lint test (optional: needs Go; the test says so when it is missing).
bash toolchain/actionlint.sh >/dev/null || log "warning: actionlint is not available (test/unit/project/workflows.test.ts will fail)"
log "node $(node --version), pulumi $(pulumi version) at $pulumi_dir; backend $PULUMI_BACKEND_URL; provider plugin pinhole v$provider_version"
log "set-up done in $(( $(date +%s) - t0 ))s"
