// Flows from the reference's inter-node tables: node to node, on the ports each row names. Pure.

import { ClusterModel, NodeSpec } from "./types";
import { CatalogRow, INTER_NODE_ROWS, PORTS } from "./catalog";
import { Flow, FlowCollector, nodeEnd } from "./flows";

const SERVICE_BY_PORT: Record<number, string> = {
    443: "https",
    8443: "https-cluster",
    27017: "database",
    27030: "arbiter",
};

/** One port of an inter-node row, initiator a → acceptor b. */
function interNodeFlow(r: CatalogRow, a: NodeSpec, b: NodeSpec, port: number, reverse: boolean): Flow {
    const arbiter = port === PORTS.arbiter;
    const note = arbiter ? (b.arbiter ? " (arbiter)" : " (arbiter port; no arbiter on this node)") : "";
    return {
        from: nodeEnd(a, b),
        to: nodeEnd(b, a),
        protocol: "tcp",
        port,
        service: SERVICE_BY_PORT[port] ?? "https",
        why: `${a.role} to ${b.role}${reverse ? " (bi-directional)" : ""}, ${r.communication.toLowerCase()}${note}`,
        section: r.section,
        rowId: r.id,
        exposed: false,
        ...(arbiter && !b.arbiter ? { narrowedBy: ["arbiterOnArbiterNodes" as const] } : {}),
    };
}

/**
 * The inter-node tables as written: for each ordered pair of nodes a row pairs, initiator → acceptor, and the
 * reverse where the row says bi-directional. 27030 into a node without an arbiter is a reference opening the
 * strict profile narrows (arbiterOnArbiterNodes).
 */
export function interNodeFlows(model: ClusterModel, out: FlowCollector): void {
    const byRole = (roles: readonly string[]) => model.nodes.filter((n) => roles.includes(n.role));
    for (const r of INTER_NODE_ROWS) {
        if (r.ports === "dependant") continue;
        const ports = r.ports;
        // Same roles at both ends (proxy↔proxy, unified↔unified, ...): every ordered pair is already a forward flow.
        const sameRoles = r.from.length === r.to.length && r.from.every((x) => r.to.includes(x));
        const add = (a: NodeSpec, b: NodeSpec, reverse: boolean) => {
            for (const port of ports) out.add(interNodeFlow(r, a, b, port, reverse));
        };
        for (const a of byRole(r.from)) {
            for (const b of byRole(r.to)) {
                if (a === b) continue;
                add(a, b, false);
                if (r.bidirectional && !sameRoles) add(b, a, true);
            }
        }
    }
}
