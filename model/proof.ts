// The proof after apply (provider/proof.ts, components/proof.ts): how its probe targets travel as resource inputs,
// what it probes from the provisioning host, and the message of a failed proof. Pure; model/probes.ts plans.
import { ClusterModel, NodePolicy, ProofSettings } from "./types";
import { parseIp } from "./net";
import { Flow } from "./policy";
import { expectedReachability, Reachability } from "./reachability";
import { boundPlan, boundWarning } from "./probe-budget";
import { describeProbe, familyOfAddress, FORBIDDEN_CANDIDATES, probePlan, ProbeResultRow, ProbeTarget } from "./probes";

/** The host probes' source name (hostPlan's targets, the proof's `hostTargets`). */
export const PROVISIONING_HOST = "provisioning host";

/** At most this many host probes per node (hostPlan: its SSH port and one denied port), kept out of the node budget. */
const HOST_PROBES_PER_NODE = 2;

/** nodeTargetLines' result: target lines by node name; `warning` when the required flows were sampled. */
export interface NodeTargets {
    lines: Record<string, string[]>;
    warning?: string;
}

/**
 * The proof's per-node inputs: each node's targets (every required flow, the bounded must-deny sample with
 * `settings.denyPerNode` extra per node), the whole plan bounded to `settings.maxProbes` less the host's share
 * (model/probe-budget.ts), as target lines by node name in model order (a node with none: []). `warning` says
 * when the required flows were sampled.
 */
export function nodeTargetLines(
    model: ClusterModel,
    flows: readonly Flow[],
    policies: NodePolicy[],
    settings: Pick<ProofSettings, "denyPerNode" | "maxProbes">,
): NodeTargets {
    const plan = probePlan(model, flows, { denySample: { perNode: settings.denyPerNode } }, policies);
    const bounded = boundPlan(model, plan, settings.maxProbes - HOST_PROBES_PER_NODE * model.nodes.length);
    const lines: Record<string, string[]> = Object.fromEntries(model.nodes.map((n) => [n.name, [] as string[]]));
    for (const t of bounded.plan) lines[t.from].push(targetLine(t));
    const warning = boundWarning(bounded, settings.maxProbes);
    return warning ? { lines, warning } : { lines };
}

/** hostPlan as the proof's `hostTargets` lines. */
export function hostTargetLines(
    model: ClusterModel,
    policies: NodePolicy[],
    appliedFrom: Readonly<Record<string, string>>,
): string[] {
    return hostPlan(model, expectedReachability(model, policies), appliedFrom).map(targetLine);
}

/**
 * A rollout step's proof (pinhole:rollout): only what the nodes changed so far serve. Of `lines`, the targets of
 * sources in `scope`, and of those only targets that are not a node outside it (a node a later step changes
 * still has its old ruleset, so neither its openings nor its denials are the policy's yet).
 */
export function scopedTargetLines(
    lines: readonly string[],
    scope: ReadonlySet<string>,
    nodeNames: ReadonlySet<string>,
): string[] {
    return lines.filter((l) => {
        const to = l.split(" ")[2];
        return scope.has(to) || !nodeNames.has(to);
    });
}

/** One target as the proof's inputs carry it: "<open|blocked> <tcp|udp> <to> <address> <port> <why>". */
export function targetLine(t: ProbeTarget): string {
    return `${t.expect} ${t.protocol ?? "tcp"} ${t.to} ${t.address} ${t.port} ${t.why.replace(/\s+/g, " ").slice(0, 200)}`;
}

/** targetLine back to a target of `from`, or a message saying what is wrong with it. */
export function parseTargetLine(from: string, line: string): ProbeTarget | string {
    const m = /^(open|blocked) (tcp|udp) (\S+) (\S+) (\d{1,5})(?: (.*))?$/.exec(line);
    if (!m) return `"${line.slice(0, 80)}" is not "<open|blocked> <tcp|udp> <to> <address> <port> <why>"`;
    const port = Number(m[5]);
    if (port < 1 || port > 65535) return `port ${port} is out of range (1-65535)`;
    if (!parseIp(m[4])) return `"${m[4]}" is not an IP address`;
    const t: ProbeTarget = {
        from,
        to: m[3],
        address: m[4],
        port,
        expect: m[1] as ProbeTarget["expect"],
        why: m[6] ?? "",
    };
    if (m[2] === "udp") t.protocol = "udp";
    return t;
}

/** The message of a failed proof: how many probes failed, then one line each (at most `max`). */
export function proofFailureText(rows: readonly ProbeResultRow[], max = 20): string {
    const bad = rows.filter((r) => !r.ok);
    const lines = bad.slice(0, max).map((r) => `  ${describeProbe(r)!.message}`);
    if (bad.length > max) lines.push(`  ... and ${bad.length - max} more`);
    return `${bad.length} of ${rows.length} probe(s) did not see what the policy says:\n${lines.join("\n")}`;
}

/**
 * What the proof probes from the provisioning host, for each node pinhole reaches directly (ssh.host is one of
 * its addresses): its SSH port must connect, and the first FORBIDDEN_CANDIDATES port the node denies to the
 * address it saw this host come from (`appliedFrom`, the Firewall's output; none when unknown) must be dropped.
 */
export function hostPlan(
    model: ClusterModel,
    reach: Reachability,
    appliedFrom: Readonly<Record<string, string>>,
): ProbeTarget[] {
    const out: ProbeTarget[] = [];
    const from = PROVISIONING_HOST;
    for (const n of model.nodes) {
        if (n.ssh.bastion || ![n.address, n.address6].includes(n.ssh.host)) continue;
        out.push({
            from,
            to: n.name,
            address: n.ssh.host,
            port: n.ssh.port,
            expect: "open",
            why: `${n.ssh.port}/tcp: pinhole's own SSH path to ${n.name}`,
        });
        const source = appliedFrom[n.name];
        if (!source || !parseIp(source) || familyOfAddress(source) !== familyOfAddress(n.ssh.host)) continue;
        for (const port of FORBIDDEN_CANDIDATES) {
            if (port === n.ssh.port) continue;
            const v = reach.inbound({ source, to: n.name, protocol: "tcp", port });
            if (v.allowed) continue;
            out.push({ from, to: n.name, address: n.ssh.host, port, expect: "blocked", why: v.reason });
            break;
        }
    }
    return out;
}
