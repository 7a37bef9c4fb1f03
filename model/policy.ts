// Policy: who may talk to whom, on what, and why — derived from a validated ClusterModel.
//
//   buildFlows(model)  → every allowed flow once (from, to, protocol, port, why, section)
//   buildPolicy(model) → per node: inbound allow list + outbound allow list (one Opening per flow end)
//   buildClusterPolicy(model) → both at once (flows, narrowed flows, per-node policies): what Cluster keeps
//
// A node-to-node flow gives an outbound Opening at the initiator AND an inbound Opening at the acceptor,
// so a firewall with default-deny egress lets it through. Decisions referred to here are written down in
// docs/decisions.md; the rows come from model/catalog.ts. The flows of each kind of table are built in
// inter-node-flows.ts, service-list.ts, network-flows.ts, external-flows.ts and acme.ts.

import { ClusterModel, NodePolicy, Opening, Peer } from "./types";
import { Flow, FlowCollector, FlowEnd, NarrowedFlow } from "./flows";
import { activeNarrowings } from "./narrowings";
import { interNodeFlows } from "./inter-node-flows";
import { serviceListFlows } from "./service-list";
import { networkFlows } from "./network-flows";
import { externalFlows } from "./external-flows";
import { acmeFlows } from "./acme";

export type { Flow, FlowEnd, NarrowedFlow } from "./flows";
export { addressSeenBy, addressesSeenBy, nodeAddresses } from "./flows";

/**
 * Every allowed flow of the cluster, once each (inter-node tables, the Service list between nodes, networks,
 * external systems), and the reference flows the stack's firewall profile narrowed away.
 */
export function buildFlowReport(model: ClusterModel): { flows: Flow[]; narrowed: NarrowedFlow[] } {
    const out = new FlowCollector(activeNarrowings(model.firewall));
    interNodeFlows(model, out);
    serviceListFlows(model, out);
    networkFlows(model, out);
    externalFlows(model, out);
    acmeFlows(model, out);
    return { flows: out.flows, narrowed: out.narrowed() };
}

/** Every allowed flow of the cluster, once each. */
export function buildFlows(model: ClusterModel): Flow[] {
    return buildFlowReport(model).flows;
}

function peerLabel(end: FlowEnd): string {
    if (end.kind === "network")
        return end.name === "admin" || end.name === "client" || end.name === "monitoring"
            ? `${end.name} networks`
            : end.name;
    return end.name;
}

function toPeer(end: FlowEnd): Peer {
    return { kind: end.kind, name: end.name, addresses: [...end.addresses] };
}

/** The start of an opening's reason: "27017/tcp from app-1: " (the why follows). */
export function reasonPrefix(direction: "inbound" | "outbound", port: number, protocol: string, peer: string): string {
    return `${port}/${protocol} ${direction === "inbound" ? "from" : "to"} ${peer}: `;
}

function opening(f: Flow, direction: "inbound" | "outbound"): Opening {
    const peerEnd = direction === "inbound" ? f.from : f.to;
    const o: Opening = {
        direction,
        protocol: f.protocol,
        port: f.port,
        peer: toPeer(peerEnd),
        service: f.service,
        reason: `${reasonPrefix(direction, f.port, f.protocol, peerLabel(peerEnd))}${f.why}`,
        section: f.section,
        exposed: direction === "inbound" && f.exposed,
    };
    if (f.rowId !== undefined) o.rowId = f.rowId;
    return o;
}

/** Deterministic order: port, protocol, peer name, then service and reason. */
export function compareOpenings(a: Opening, b: Opening): number {
    return (
        a.port - b.port ||
        cmp(a.protocol, b.protocol) ||
        cmp(a.peer.name, b.peer.name) ||
        cmp(a.service, b.service) ||
        cmp(a.reason, b.reason)
    );
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Per-node policies from already computed flows (lets callers compute flows once). */
export function policyFromFlows(model: ClusterModel, flows: readonly Flow[]): NodePolicy[] {
    const byName = new Map<string, NodePolicy>(
        model.nodes.map((node) => [node.name, { node, inbound: [], outbound: [] }]),
    );
    for (const f of flows) {
        if (f.to.kind === "node") byName.get(f.to.name)?.inbound.push(opening(f, "inbound"));
        if (f.from.kind === "node") byName.get(f.from.name)?.outbound.push(opening(f, "outbound"));
    }
    const policies = [...byName.values()];
    for (const p of policies) {
        p.inbound.sort(compareOpenings);
        p.outbound.sort(compareOpenings);
    }
    return policies;
}

/** Sources the policy allows on the management SSH port: the provider refuses rulesets that cut its own path. */
export function managementSources(policy: NodePolicy): string[] {
    const sources = policy.inbound
        .filter((o) => o.protocol === "tcp" && o.port === 22)
        .flatMap((o) => o.peer.addresses);
    return [...new Set(sources)].sort();
}

/** For each node, in model order: what it accepts (inbound) and what it may initiate (outbound), and why. */
export function buildPolicy(model: ClusterModel): NodePolicy[] {
    return policyFromFlows(model, buildFlows(model));
}

/**
 * Everything the policy decides for a cluster, computed once: the flows (who may talk to whom, on what, and why:
 * the matrix, the outputs, verify and the proof after apply read these, never the openings' reason text), the
 * reference flows the profile narrowed away, and each node's openings (one per flow end, for its firewall).
 */
export interface ClusterPolicy {
    flows: Flow[];
    narrowed: NarrowedFlow[];
    /** In model order. */
    nodes: NodePolicy[];
}

export function buildClusterPolicy(model: ClusterModel): ClusterPolicy {
    const { flows, narrowed } = buildFlowReport(model);
    return { flows, narrowed, nodes: policyFromFlows(model, flows) };
}
