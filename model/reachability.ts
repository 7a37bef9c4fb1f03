// The expected-reachability oracle: what the policy says a probe should see. The firewall integration tests
// compare it with the lab's measured probe matrix, so it answers in the probe's terms:
//   "a packet from source address S (as the destination sees it) to node N on proto/port: accepted? why?"

import { ClusterModel, NodePolicy, NodeSpec, Opening, Protocol } from "./types";
import { Cidr, parseCidr, parseIp } from "./net";
import { addressesSeenBy, buildPolicy } from "./policy";

export interface ReachabilityVerdict {
    allowed: boolean;
    /** The matching openings' reasons, or why nothing matches (naming who IS allowed on that port). */
    reason: string;
    /** Openings that allow it (empty when denied). */
    openings: Opening[];
}

export interface InboundQuery {
    /** Source address as the destination sees it (after any NAT). */
    source: string;
    /** Destination node name. */
    to: string;
    protocol: Protocol;
    port: number;
}

export interface BetweenQuery {
    /** Initiating node name. */
    from: string;
    /** Accepting node name (must differ from `from`). */
    to: string;
    protocol: Protocol;
    port: number;
    /** Address family of the connection (default: that of the nodes' primary addresses). */
    family?: 4 | 6;
}

export interface Reachability {
    /** Does node `to` accept this packet from `source`? (inbound filter only) */
    inbound(q: InboundQuery): ReachabilityVerdict;
    /**
     * Node to node, NAT-aware: the source is `from` as `to` sees it; with `firewall.egress: deny`
     * the initiator's outbound list must allow it too.
     */
    between(q: BetweenQuery): ReachabilityVerdict;
    /**
     * The address node `from` has as seen by node `to` (its advertised address across sites, else its own);
     * with `family`, its address of that family (throws when it has none).
     */
    sourceAddress(from: string, to: string, family?: 4 | 6): string;
    /** Every (protocol, port) node `to` accepts from `source`, sorted by port then protocol. */
    openPorts(source: string, to: string): { protocol: Protocol; port: number }[];
    /** Every (protocol, port) node `to` accepts from anyone: the ports a probe should find open from somewhere. */
    listening(to: string): { protocol: Protocol; port: number }[];
}

interface IndexedOpening {
    opening: Opening;
    cidrs: Cidr[];
}

interface NodeIndex {
    node: NodeSpec;
    /** `${protocol}/${port}` → inbound openings */
    inbound: Map<string, IndexedOpening[]>;
    /** `${peerName}|${protocol}/${port}` → outbound openings to nodes */
    outboundToNode: Map<string, Opening[]>;
}

const key = (protocol: Protocol, port: number) => `${port}/${protocol}`;

function contains(cidr: Cidr, family: number, value: bigint): boolean {
    if (cidr.family !== family) return false;
    const shift = BigInt((family === 4 ? 32 : 128) - cidr.prefix);
    return value >> shift === cidr.base >> shift;
}

type Index = Map<string, NodeIndex>;

/** Build the oracle once per model; queries are cheap. Pass `policies` if you already have them. */
export function expectedReachability(model: ClusterModel, policies: NodePolicy[] = buildPolicy(model)): Reachability {
    const nodes = indexPolicies(policies);
    return {
        inbound: (q) => inboundVerdict(nodes, q),
        between: (q) => betweenVerdict(model, nodes, q),
        sourceAddress: (from, to, family) => sourceAddressOf(nodes, from, to, family),
        openPorts: (source, to) => listPorts(nodes, to, source),
        listening: (to) => listPorts(nodes, to),
    };
}

/** Each node's inbound openings by port (with their peers parsed), and its outbound openings to nodes. */
function indexPolicies(policies: NodePolicy[]): Index {
    const nodes: Index = new Map();
    for (const p of policies) {
        const idx: NodeIndex = { node: p.node, inbound: new Map(), outboundToNode: new Map() };
        for (const o of p.inbound) {
            const cidrs = o.peer.addresses.map(parseCidr).flatMap((r) => (r.ok ? [r.cidr] : []));
            const list = idx.inbound.get(key(o.protocol, o.port)) ?? [];
            list.push({ opening: o, cidrs });
            idx.inbound.set(key(o.protocol, o.port), list);
        }
        for (const o of p.outbound) {
            if (o.peer.kind !== "node") continue;
            const k = `${o.peer.name}|${key(o.protocol, o.port)}`;
            idx.outboundToNode.set(k, [...(idx.outboundToNode.get(k) ?? []), o]);
        }
        nodes.set(p.node.name, idx);
    }
    return nodes;
}

function nodeIndex(nodes: Index, name: string): NodeIndex {
    const idx = nodes.get(name);
    if (!idx) throw new Error(`unknown node "${name}" (nodes: ${[...nodes.keys()].join(", ")})`);
    return idx;
}

function inboundVerdict(nodes: Index, q: InboundQuery): ReachabilityVerdict {
    const idx = nodeIndex(nodes, q.to);
    const ip = parseIp(q.source);
    if (!ip) throw new Error(`"${q.source}" is not an IP address`);
    const candidates = idx.inbound.get(key(q.protocol, q.port)) ?? [];
    const matches = candidates
        .filter((c) => c.cidrs.some((cidr) => contains(cidr, ip.family, ip.value)))
        .map((c) => c.opening);
    if (matches.length > 0)
        return { allowed: true, reason: matches.map((m) => m.reason).join("; "), openings: matches };
    const who = candidates.map((c) => c.opening.peer.name);
    const reason =
        who.length === 0
            ? `${q.to} accepts ${key(q.protocol, q.port)} from no one`
            : `${q.to} accepts ${key(q.protocol, q.port)} only from ${[...new Set(who)].join(", ")}, and ${q.source} is none of them`;
    return { allowed: false, reason, openings: [] };
}

function sourceAddressOf(nodes: Index, from: string, to: string, family?: 4 | 6): string {
    const all = addressesSeenBy(nodeIndex(nodes, to).node, nodeIndex(nodes, from).node);
    if (family === undefined) return all[0];
    const a = all.find((x) => parseIp(x)?.family === family);
    if (!a) throw new Error(`node "${from}" has no IPv${family} address`);
    return a;
}

function betweenVerdict(model: ClusterModel, nodes: Index, q: BetweenQuery): ReachabilityVerdict {
    if (q.from === q.to)
        throw new Error(
            `between() needs two different nodes (got "${q.from}" twice): traffic inside a node is not filtered by the policy`,
        );
    const source = sourceAddressOf(nodes, q.from, q.to, q.family);
    const accepted = inboundVerdict(nodes, { source, to: q.to, protocol: q.protocol, port: q.port });
    if (!accepted.allowed || model.firewall.egress !== "deny") return accepted;
    const out = nodeIndex(nodes, q.from).outboundToNode.get(`${q.to}|${key(q.protocol, q.port)}`) ?? [];
    if (out.length === 0) {
        return {
            allowed: false,
            reason: `${q.to} would accept it, but ${q.from} (egress: deny) has no outbound opening to ${q.to} on ${key(q.protocol, q.port)}`,
            openings: [],
        };
    }
    return { allowed: true, reason: `${out[0].reason}; ${accepted.reason}`, openings: [...out, ...accepted.openings] };
}

/** The ports node `to` accepts from `source` (from anyone when no source), sorted by port then protocol. */
function listPorts(nodes: Index, to: string, source?: string): { protocol: Protocol; port: number }[] {
    const idx = nodeIndex(nodes, to);
    const ip = source === undefined ? undefined : parseIp(source);
    if (source !== undefined && !ip) throw new Error(`"${source}" is not an IP address`);
    const ports: { protocol: Protocol; port: number }[] = [];
    for (const list of idx.inbound.values()) {
        const hit =
            ip === undefined
                ? list.length > 0
                : list.some((c) => c.cidrs.some((cidr) => contains(cidr, ip.family, ip.value)));
        if (hit) ports.push({ protocol: list[0].opening.protocol, port: list[0].opening.port });
    }
    return ports.sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}
