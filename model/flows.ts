// Flows (who may talk to whom, on what, and why) and the collector that merges duplicates and sets aside
// the flows a firewall profile narrows (model/narrowings.ts). Pure: no I/O.

import { NodeSpec, Peer, Protocol } from "./types";
import type { NarrowingId } from "./narrowings";

/** One end of a flow. For nodes, `addresses` is the address as the OTHER end sees/uses it (NAT-aware). */
export interface FlowEnd {
    kind: Peer["kind"];
    name: string;
    addresses: string[];
}

/** One allowed flow. A flow between two nodes appears at both of them; others at the one node involved. */
export interface Flow {
    from: FlowEnd;
    to: FlowEnd;
    protocol: Protocol;
    port: number;
    /** Short service label: "ssh", "https", "https-cluster", "database", "arbiter", "snmp", ... */
    service: string;
    /** Why, without port and peer: "application to database, database access". */
    why: string;
    section: string;
    rowId?: string;
    /** Reachable from client networks: rate-limited per source. */
    exposed: boolean;
    /** Narrowings (model/narrowings.ts) that remove this flow; it stays when none of them is in force. */
    narrowedBy?: NarrowingId[];
}

/** A reference flow that the stack's firewall profile leaves closed, and which narrowings close it. */
export interface NarrowedFlow extends Flow {
    narrowedBy: NarrowingId[];
}

/**
 * The address `peer` has from `viewer`'s point of view: across sites, through NAT, it is the peer's
 * advertised address; at the same site (or without NAT) it is its own address.
 */
export function addressSeenBy(viewer: NodeSpec, peer: NodeSpec): string {
    return viewer.site !== peer.site && peer.advertisedAddress ? peer.advertisedAddress : peer.address;
}

/** Every address `peer` has from `viewer`'s point of view: the one above, plus its IPv6 address when dual-stack. */
export function addressesSeenBy(viewer: NodeSpec, peer: NodeSpec): string[] {
    return [addressSeenBy(viewer, peer), ...(peer.address6 ? [peer.address6] : [])];
}

/** A node's own addresses (both families when dual-stack). */
export function nodeAddresses(node: NodeSpec): string[] {
    return [node.address, ...(node.address6 ? [node.address6] : [])];
}

/** `node` as an end of a flow with `seenBy`: at the addresses `seenBy` uses for it (each family it has). */
export function nodeEnd(node: NodeSpec, seenBy: NodeSpec): FlowEnd {
    return { kind: "node", name: node.name, addresses: addressesSeenBy(seenBy, node) };
}

/** `node` as the local end of a flow with a network or an external system. */
export function selfEnd(node: NodeSpec): FlowEnd {
    return { kind: "node", name: node.name, addresses: nodeAddresses(node) };
}

function flowKey(f: Flow): string {
    return `${f.from.kind}\u0000${f.from.name}\u0000${f.to.kind}\u0000${f.to.name}\u0000${f.protocol}\u0000${f.port}`;
}

function copyFlow<T extends Flow>(f: T): T {
    const copy: T = {
        ...f,
        from: { ...f.from, addresses: [...f.from.addresses] },
        to: { ...f.to, addresses: [...f.to.addresses] },
    };
    if (copy.rowId === undefined) delete copy.rowId;
    delete copy.narrowedBy;
    return copy;
}

/**
 * Collects flows, merging duplicates (same ends, protocol, port) so each flow appears once. A flow that an
 * active narrowing removes is set aside; `narrowed()` lists those that no other (kept) flow covers.
 */
export class FlowCollector {
    readonly flows: Flow[] = [];
    private readonly index = new Map<string, Flow>();
    private readonly setAside = new Map<string, NarrowedFlow>();

    constructor(private readonly active: ReadonlySet<NarrowingId> = new Set()) {}

    /** quiet: a duplicate of a flow already collected adds nothing (not even its reason). */
    add(f: Flow, opts: { quiet?: boolean } = {}): void {
        const key = flowKey(f);
        const by = (f.narrowedBy ?? []).filter((id) => this.active.has(id));
        if (by.length > 0) {
            const seen = this.setAside.get(key);
            if (seen)
                for (const id of by) {
                    if (!seen.narrowedBy.includes(id)) seen.narrowedBy.push(id);
                }
            else this.setAside.set(key, { ...copyFlow(f), narrowedBy: by });
            return;
        }
        const seen = this.index.get(key);
        if (!seen) {
            const copy = copyFlow(f);
            this.index.set(key, copy);
            this.flows.push(copy);
            return;
        }
        if (opts.quiet) return;
        // Same flow for two reasons (e.g. UCM and HCM-F on one host): keep one, say both.
        if (!seen.why.split("; ").includes(f.why)) seen.why = `${seen.why}; ${f.why}`;
        seen.exposed = seen.exposed || f.exposed;
        for (const a of f.from.addresses) if (!seen.from.addresses.includes(a)) seen.from.addresses.push(a);
        for (const a of f.to.addresses) if (!seen.to.addresses.includes(a)) seen.to.addresses.push(a);
    }

    /** Flows the profile closed that no kept flow opens anyway, in the order they were first seen. */
    narrowed(): NarrowedFlow[] {
        return [...this.setAside.entries()].filter(([key]) => !this.index.has(key)).map(([, f]) => f);
    }
}
