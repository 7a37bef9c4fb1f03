// Shell scripts run on a node (POSIX sh, as root) to apply, confirm, inspect and remove pinhole's
// nftables table. Pure string builders, unit-tested; provider/firewall.ts runs them over SSH.
//
// Apply protocol (anti-lockout):
//   session 1 (apply):   write the new ruleset, `nft -c` it, refuse if this SSH client's address is
//                        not among the new management sources, arm a detached rollback timer, then
//                        `nft -f` (one atomic transaction).
//   session 2 (confirm): a FRESH SSH connection claims the decision before the timer: cancels the
//                        rollback and persists the ruleset for boot. If no fresh connection gets in,
//                        the timer restores the last confirmed ruleset (or removes the table).
// Exactly one of confirm/rollback wins: both race to `mkdir decided.<token>`, which is atomic.
import { removeTableTransaction, replaceTableTransaction } from "../render/nftables";
import { shellQuote } from "../render/escape";

export const STATE_DIR = "/etc/pinhole";
export const RUN_DIR = "/run/pinhole";
export const PERSISTED_RULESET = `${STATE_DIR}/firewall.nft`;
export const OWNER_FILE = `${STATE_DIR}/firewall.owner`;
export const UNIT_NAME = "pinhole-firewall.service";
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
export const UNIT_WANTS_LINK = `/etc/systemd/system/sysinit.target.wants/${UNIT_NAME}`;

/** Exit codes of the scripts, mapped to messages by provider/firewall.ts. */
export const EXIT = {
    noNft: 10,
    checkFailed: 11,
    wouldLockOut: 12,
    alreadyDecided: 20,
} as const;


function heredoc(target: string, content: string): string {
    // base64 keeps the payload opaque to the shell whatever it contains.
    const b64 = Buffer.from(content, "utf8").toString("base64").replace(/(.{76})/g, "$1\n");
    return `base64 -d > ${target} <<'PINHOLE_PAYLOAD'\n${b64}\nPINHOLE_PAYLOAD\n`;
}

/** The systemd unit that loads the persisted ruleset before the network and the services. */
export function systemdUnit(): string {
    return [
        "[Unit]",
        "Description=pinhole host firewall (loaded before the network and services, stopped after them)",
        "DefaultDependencies=no",
        "Before=network-pre.target ssh.service sshd.service nginx.service shutdown.target",
        "Wants=network-pre.target",
        "Conflicts=shutdown.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        `ExecStart=/usr/sbin/nft -f ${PERSISTED_RULESET}`,
        "",
        "[Install]",
        "WantedBy=sysinit.target",
        "",
    ].join("\n");
}

const PRELUDE = `set -eu
umask 077
PATH=/usr/sbin:/usr/bin:/sbin:/bin
command -v nft >/dev/null 2>&1 || { echo "nft not found on this node (install the nftables package)" >&2; exit ${EXIT.noNft}; }
mkdir -p ${STATE_DIR} ${RUN_DIR}
`;

// IPv4 CIDR containment in awk (IPv6 clients skip the pre-check; the rollback still protects them).
const IN_CIDRS = `in_cidrs() {
  awk -v ip="$1" -v cidrs="$2" 'function toint(a,  p) { split(a, p, "."); return ((p[1]*256 + p[2])*256 + p[3])*256 + p[4] }
  BEGIN {
    if (ip ~ /:/) { print "unknown"; exit }
    n = split(cidrs, cs, " "); x = toint(ip)
    for (i = 1; i <= n; i++) {
      split(cs[i], q, "/"); if (q[1] ~ /:/) continue
      len = (q[2] == "" ? 32 : q[2]); size = 2 ^ (32 - len)
      if (int(x / size) == int(toint(q[1]) / size)) { print "yes"; exit }
    }
    print "no"
  }'
}
`;

export interface ApplyScriptArgs {
    token: string;
    ruleset: string;
    /** Sources the new ruleset allows on the management SSH port (IPs/CIDRs). */
    managementSources: string[];
    rollbackSeconds: number;
    /** Skip the address pre-check (tests of the rollback path only). */
    skipPrecheck?: boolean;
}

export function applyScript(a: ApplyScriptArgs): string {
    const t = a.token;
    return `${PRELUDE}${IN_CIDRS}
new=${RUN_DIR}/firewall.${t}.nft
${heredoc("\"$new\"", replaceTableTransaction(a.ruleset))}
if ! nft -c -f "$new" 2>${RUN_DIR}/check.${t}.err; then
  echo "nft -c rejected the ruleset:" >&2; cat ${RUN_DIR}/check.${t}.err >&2; rm -f "$new" ${RUN_DIR}/check.${t}.err; exit ${EXIT.checkFailed}
fi
rm -f ${RUN_DIR}/check.${t}.err
client="\${PINHOLE_SSH_CLIENT:-\${SSH_CLIENT:-}}"; client="\${client%% *}"
${a.skipPrecheck ? "" : `if [ -n "$client" ] && [ "$(in_cidrs "$client" ${shellQuote(a.managementSources.join(" "))})" = no ]; then
  echo "refusing to apply: this SSH connection comes from $client, which the new ruleset does not allow on the management port (allowed: ${a.managementSources.join(", ").replace(/[`$"\\]/g, "")}); applying it would cut the management path" >&2
  rm -f "$new"; exit ${EXIT.wouldLockOut}
fi`}
# Rollback target: the last confirmed ruleset, or no pinhole table at all.
prev=${RUN_DIR}/firewall.${t}.prev
if [ -s ${PERSISTED_RULESET} ]; then cp ${PERSISTED_RULESET} "$prev"; else
${heredoc("\"$prev\"", removeTableTransaction())}fi
setsid sh -c 'sleep ${a.rollbackSeconds}; if mkdir ${RUN_DIR}/decided.${t} 2>/dev/null; then nft -f ${RUN_DIR}/firewall.${t}.prev && echo rolled-back > ${RUN_DIR}/result.${t}; fi' </dev/null >/dev/null 2>&1 &
echo $! > ${RUN_DIR}/timer.${t}
nft -f "$new"
echo "applied-from=$client"
`;
}

export function confirmScript(token: string, owner: string): string {
    const t = token;
    return `${PRELUDE}
if ! mkdir ${RUN_DIR}/decided.${t} 2>/dev/null; then
  echo "too late: the rollback timer already restored the previous ruleset ($(cat ${RUN_DIR}/result.${t} 2>/dev/null || echo unknown))" >&2
  exit ${EXIT.alreadyDecided}
fi
kill "$(cat ${RUN_DIR}/timer.${t} 2>/dev/null)" 2>/dev/null || true
cp ${RUN_DIR}/firewall.${t}.nft ${PERSISTED_RULESET}.tmp && mv ${PERSISTED_RULESET}.tmp ${PERSISTED_RULESET}
printf '%s\\n' ${shellQuote(owner)} > ${OWNER_FILE}
mkdir -p /etc/systemd/system/sysinit.target.wants
${heredoc(`${UNIT_PATH}.tmp`, systemdUnit())}mv ${UNIT_PATH}.tmp ${UNIT_PATH}
ln -sf ${UNIT_PATH} ${UNIT_WANTS_LINK}
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
rm -f ${RUN_DIR}/firewall.${t}.nft ${RUN_DIR}/firewall.${t}.prev ${RUN_DIR}/timer.${t}
rm -rf ${RUN_DIR}/decided.${t}
echo "--- listing"
nft -s list table inet pinhole
`;
}

/** Prints the live table (or nothing when absent) and the owner. */
export function inspectScript(): string {
    return `${PRELUDE}
echo "owner=$(cat ${OWNER_FILE} 2>/dev/null || true)"
echo "persisted=$( [ -s ${PERSISTED_RULESET} ] && echo yes || echo no)"
echo "--- listing"
nft -s list table inet pinhole 2>/dev/null || true
`;
}

/** Removes pinhole's table, persisted ruleset and unit, unless another resource owns them now. */
export function removeScript(owner: string): string {
    return `${PRELUDE}
current="$(cat ${OWNER_FILE} 2>/dev/null || true)"
if [ -n "$current" ] && [ "$current" != ${shellQuote(owner)} ]; then
  echo "left in place: the firewall on this node now belongs to $current" ; exit 0
fi
${heredoc(`${RUN_DIR}/remove.nft`, removeTableTransaction())}nft -f ${RUN_DIR}/remove.nft
rm -f ${RUN_DIR}/remove.nft ${PERSISTED_RULESET} ${OWNER_FILE} ${UNIT_WANTS_LINK} ${UNIT_PATH}
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
echo removed
`;
}
