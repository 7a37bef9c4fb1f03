// The probes a node runs on itself (verify, and the proof after `pulumi up`): a bash program that opens each
// target with bash's /dev/tcp and /dev/udp, and the parser of what it prints. model/probes.ts plans and judges.
import type { Protocol } from "../model/types";
import type { ProbeOutcome } from "../model/probes";

/**
 * The script run on a node: POSIX sh that hands a bash program to bash (nothing beyond bash is assumed on the
 * node). Every probe is a forked subshell (no exec: cheap even for hundreds of probes on a busy node) opening
 * bash's /dev/tcp/<host>/<port> itself; after `timeoutSeconds` the ones still connecting are killed (nothing is
 * left behind on the node) and count as timed out. Prints "<index> <open|refused|eperm|unreach|error> [detail]" per finished probe, then
 * "probes-done"; a probe without a line timed out.
 */
export function probeScript(
    targets: { address: string; port: number; protocol?: Protocol }[],
    opts: { timeoutSeconds?: number } = {},
): string {
    // Addresses and ports go into the script as they are: only IP literals and whole port numbers get in.
    for (const x of targets) {
        if (!/^[0-9A-Fa-f:.]+$/.test(x.address) || !Number.isInteger(x.port) || x.port < 1 || x.port > 65535) {
            throw new Error(`probe target ${JSON.stringify(x.address)} port ${x.port}: not an IP address and port`);
        }
    }
    const t = opts.timeoutSeconds ?? 2;
    const probes = targets
        .map((x, i) => `${x.protocol === "udp" ? "u" : "p"} ${i} ${x.address} ${x.port} &`)
        .join("\n");
    const readSeconds = Math.max(0.2, t - 0.3).toFixed(1);
    return `PATH=/usr/sbin:/usr/bin:/sbin:/bin
command -v bash >/dev/null 2>&1 || { echo "bash not found on this node (verify probes with bash's /dev/tcp)" >&2; exit 40; }
exec bash -c '
D=$(mktemp -d) || exit 42
trap "rm -rf \\$D" EXIT
p() {
  if { exec 3<>"/dev/tcp/$2/$3"; } 2>"$D/$1"; then echo "$1 open"; return; fi
  why "$1"
}
# UDP: an NTP client request (48 bytes, mode 3; any echo service answers it too); a reply is "open", an ICMP
# port-unreachable "refused", a local EPERM the egress filter; no answer before the read timeout: no line.
u() {
  { exec 3<>"/dev/udp/$2/$3"; } 2>"$D/$1" || { why "$1"; return; }
  { printf "\\033\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000" >&3; } 2>"$D/$1" || { why "$1"; return; }
  if IFS= read -r -t ${readSeconds} -N 1 _ <&3 2>"$D/$1"; then echo "$1 open"; return; fi
  [ -s "$D/$1" ] && why "$1"
}
why() {
  err=$(cat "$D/$1")
  case "$err" in
    *refused*) echo "$1 refused" ;;
    *"not permitted"*) echo "$1 eperm" ;;
    *"No route"*|*unreachable*) echo "$1 unreach" ;;
    *) echo "$1 error $(printf %s "$err" | tr "\\n" " " | cut -c1-120)" ;;
  esac
}
${probes.replace(/'/g, "")}
end=$(( $(date +%s%N) / 1000000 + ${Math.round(t * 1000)} ))
while [ -n "$(jobs -rp)" ] && [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do sleep 0.05; done
kill $(jobs -rp) 2>/dev/null
echo probes-done
'
`;
}

/** "<index> <outcome> [detail]" lines → outcome per target index (no line: timeout, or not-run without "probes-done"). */
export function parseProbeOutput(stdout: string, count: number): { outcome: ProbeOutcome; detail?: string }[] {
    const out: { outcome: ProbeOutcome; detail?: string }[] = Array.from({ length: count }, () => ({
        outcome: "not-run" as ProbeOutcome,
    }));
    for (const line of stdout.split("\n")) {
        const m = /^(\d+) (open|refused|timeout|eperm|unreach|error)(?: (.*))?$/.exec(line.trim());
        if (!m) continue;
        const i = Number(m[1]);
        if (i < count) out[i] = { outcome: m[2] as ProbeOutcome, ...(m[3] ? { detail: m[3] } : {}) };
    }
    // The script ran to its end: a probe that printed nothing was still connecting at the deadline.
    if (/^probes-done$/m.test(stdout)) for (const o of out) if (o.outcome === "not-run") o.outcome = "timeout";
    return out;
}
