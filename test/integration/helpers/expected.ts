// Compares what the lab's probe measured with what the model's policy says, row by row.
import { cidrContains } from "../../../model/net";
import { expectedReachability } from "../../../model/reachability";
import { ClusterModel, NodePolicy, Protocol } from "../../../model/types";
import type { LabStatus, ProbeResult } from "../../../lab";
import { familyOf, IpFamily } from "../../../lab/probe-plan";

export interface Mismatch {
    row: ProbeResult;
    expected: "open" | "filtered";
    why: string;
}

/** Does node `from`'s outbound policy let it reach `address` on protocol/port (egress deny), and why. */
function outboundAllowed(
    policy: NodePolicy,
    model: ClusterModel,
    address: string,
    protocol: Protocol,
    port: number,
): { allowed: boolean; why: string } {
    if (model.firewall.egress !== "deny") return { allowed: true, why: "egress is not filtered" };
    const o = policy.outbound.find(
        (x) => x.protocol === protocol && x.port === port && x.peer.addresses.some((a) => cidrContains(a, address)),
    );
    return o
        ? { allowed: true, why: o.reason }
        : { allowed: false, why: `no outbound opening from ${policy.node.name} to ${address} ${port}/${protocol}` };
}

/**
 * The expected result of every probe row: "open" when the policy allows the flow, "filtered" when it
 * doesn't (every probed port has a listener, so nothing should ever be "refused"). Per address family: a
 * row to an IPv6 address is judged with the source's IPv6 address (a node's address6, a vantage's or the
 * provisioning host's IPv6 address) against the policy's IPv6 peers, an IPv4 row with IPv4.
 */
export function compareProbe(
    model: ClusterModel,
    policies: NodePolicy[],
    lab: LabStatus,
    rows: ProbeResult[],
): Mismatch[] {
    const reach = expectedReachability(model, policies);
    const nodeNames = new Set(model.nodes.map((n) => n.name));
    const policyOf = new Map(policies.map((p) => [p.node.name, p]));
    const sourceAddress = new Map<string, Partial<Record<IpFamily, string>>>([
        ["provisioner", { 4: lab.provisioner.address, 6: lab.provisioner.address6 }],
        ...lab.vantages.map(
            (v) => [v.name, { 4: v.address, 6: v.address6 }] as [string, Partial<Record<IpFamily, string>>],
        ),
    ]);
    const mismatches: Mismatch[] = [];
    for (const row of rows) {
        let allowed: boolean;
        let why: string;
        const family = familyOf(row.address);
        if (nodeNames.has(row.from) && nodeNames.has(row.to)) {
            const v = reach.between({ from: row.from, to: row.to, protocol: row.protocol, port: row.port, family });
            allowed = v.allowed;
            why = v.reason;
        } else if (nodeNames.has(row.to)) {
            const source = sourceAddress.get(row.from)?.[family];
            if (!source) throw new Error(`probe row from ${row.from}, which has no IPv${family} address in the lab`);
            const v = reach.inbound({ source, to: row.to, protocol: row.protocol, port: row.port });
            allowed = v.allowed;
            why = v.reason;
        } else if (nodeNames.has(row.from)) {
            const v = outboundAllowed(policyOf.get(row.from)!, model, row.address, row.protocol, row.port);
            allowed = v.allowed;
            why = v.why;
        } else {
            throw new Error(`probe row between two non-nodes: ${row.from} → ${row.to}`);
        }
        const expected = allowed ? "open" : "filtered";
        if (row.result !== expected) mismatches.push({ row, expected, why });
    }
    return mismatches;
}

/** Rows and mismatches per address family ("IPv4: 812 rows, 240 open, 0 mismatches; IPv6: ..."). */
export function familySummary(rows: ProbeResult[], mismatches: Mismatch[]): string {
    return ([4, 6] as const)
        .map((f) => {
            const rs = rows.filter((r) => familyOf(r.address) === f);
            const ms = mismatches.filter((m) => familyOf(m.row.address) === f);
            return `IPv${f}: ${rs.length} rows, ${rs.filter((r) => r.result === "open").length} open, ${ms.length} mismatches`;
        })
        .join("; ");
}

export function formatMismatches(ms: Mismatch[], max = 25): string {
    const lines = ms
        .slice(0, max)
        .map(
            (m) =>
                `${m.row.from} → ${m.row.to} (${m.row.address}) ${m.row.port}/${m.row.protocol}: measured ${m.row.result}${m.row.detail ? ` [${m.row.detail}]` : ""}, expected ${m.expected} — ${m.why}`,
        );
    if (ms.length > max) lines.push(`... and ${ms.length - max} more`);
    return lines.join("\n");
}
