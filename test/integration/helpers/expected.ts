// Compares what the lab's probe measured with what the model's policy says, row by row.
import { cidrContains } from "../../../model/net";
import { expectedReachability } from "../../../model/reachability";
import { ClusterModel, NodePolicy, Protocol } from "../../../model/types";
import type { LabStatus, ProbeResult } from "../../../lab";

export interface Mismatch {
    row: ProbeResult;
    expected: "open" | "filtered";
    why: string;
}

/** Does node `from`'s outbound policy let it reach `address` on protocol/port (egress deny), and why. */
function outboundAllowed(policy: NodePolicy, model: ClusterModel, address: string, protocol: Protocol, port: number): { allowed: boolean; why: string } {
    if (model.firewall.egress !== "deny") return { allowed: true, why: "egress is not filtered" };
    const o = policy.outbound.find((x) => x.protocol === protocol && x.port === port && x.peer.addresses.some((a) => cidrContains(a, address)));
    return o ? { allowed: true, why: o.reason } : { allowed: false, why: `no outbound opening from ${policy.node.name} to ${address} ${port}/${protocol}` };
}

/**
 * The expected result of every probe row: "open" when the policy allows the flow, "filtered" when it
 * doesn't (every probed port has a listener, so nothing should ever be "refused").
 */
export function compareProbe(model: ClusterModel, policies: NodePolicy[], lab: LabStatus, rows: ProbeResult[]): Mismatch[] {
    const reach = expectedReachability(model, policies);
    const nodeNames = new Set(model.nodes.map((n) => n.name));
    const policyOf = new Map(policies.map((p) => [p.node.name, p]));
    const sourceAddress = new Map<string, string>([["provisioner", lab.provisioner.address], ...lab.vantages.map((v) => [v.name, v.address] as [string, string])]);
    const mismatches: Mismatch[] = [];
    for (const row of rows) {
        let allowed: boolean;
        let why: string;
        if (nodeNames.has(row.from) && nodeNames.has(row.to)) {
            const v = reach.between({ from: row.from, to: row.to, protocol: row.protocol, port: row.port });
            allowed = v.allowed; why = v.reason;
        } else if (nodeNames.has(row.to)) {
            const source = sourceAddress.get(row.from);
            if (!source) throw new Error(`probe row from unknown source ${row.from}`);
            const v = reach.inbound({ source, to: row.to, protocol: row.protocol, port: row.port });
            allowed = v.allowed; why = v.reason;
        } else if (nodeNames.has(row.from)) {
            const v = outboundAllowed(policyOf.get(row.from)!, model, row.address, row.protocol, row.port);
            allowed = v.allowed; why = v.why;
        } else {
            throw new Error(`probe row between two non-nodes: ${row.from} → ${row.to}`);
        }
        const expected = allowed ? "open" : "filtered";
        if (row.result !== expected) mismatches.push({ row, expected, why });
    }
    return mismatches;
}

export function formatMismatches(ms: Mismatch[], max = 25): string {
    const lines = ms.slice(0, max).map((m) =>
        `${m.row.from} → ${m.row.to} (${m.row.address}) ${m.row.port}/${m.row.protocol}: measured ${m.row.result}${m.row.detail ? ` [${m.row.detail}]` : ""}, expected ${m.expected} — ${m.why}`);
    if (ms.length > max) lines.push(`... and ${ms.length - max} more`);
    return lines.join("\n");
}
