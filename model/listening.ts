// What actually listens on a node (its sockets, as `ss -Hlntu` shows them: remote/ss.ts parses) against the
// node's inbound openings in the policy. Pure: verify reads the sockets and prints the table; the proof after apply
// reads them in its probe session and says what it found as warnings (model/proof.ts listenWarnings).
import { cidrContains } from "./net";
import { NodePolicy, Opening, Protocol } from "./types";

/** One listening socket: TCP in LISTEN, UDP unconnected. `address` is "0.0.0.0" or "::" when bound to all. */
export interface Listener {
    protocol: Protocol;
    port: number;
    address: string;
}

/**
 * served: an opening and something listening; dead: an opening and nothing listening (a dead pinhole);
 * blocked: something listening that no opening covers (the firewall drops it: fine, but worth knowing).
 */
export type ListenStatus = "served" | "dead" | "blocked";

export interface ListenRow {
    protocol: Protocol;
    port: number;
    status: ListenStatus;
    /** Addresses the sockets are bound to (empty when dead). */
    bound: string[];
    /** Who the openings admit: peer names ("app-1", "admin", "client"); empty when blocked. */
    peers: string[];
    /** Service labels of the openings ("database", "ssh"). */
    services: string[];
    /** Bound to all addresses while the openings admit only some peers (the firewall alone keeps others out). */
    allAddresses: boolean;
}

export interface NodeListening {
    node: string;
    rows: ListenRow[];
    /** Sockets bound to loopback only: no peer can reach them, left out of the rows. */
    loopback: number;
    /** Set when the sockets could not be read: nothing about the node is judged. */
    error?: string;
}

const WILDCARDS = new Set(["0.0.0.0", "::", "*"]);

/** Bound to every address of the node (either family). */
export const boundToAll = (address: string): boolean => WILDCARDS.has(address);

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: only the node itself reaches these. */
export function isLoopback(address: string): boolean {
    const a = address.toLowerCase().replace(/^::ffff:/, "");
    return a === "::1" || a === "localhost" || cidrContains("127.0.0.0/8", a);
}

/** An opening whose peer is everyone (a /0 network, e.g. the default client networks). */
const admitsAnyone = (o: Pick<Opening, "peer">) => o.peer.addresses.some((a) => /\/0$/.test(a));

const key = (protocol: Protocol, port: number) => `${port}/${protocol}`;
const uniq = (xs: string[]) => [...new Set(xs)];

/** A node's inbound openings on one port/protocol, as the listen audit needs them (the proof carries these). */
export interface OpeningGroup {
    protocol: Protocol;
    port: number;
    peers: string[];
    services: string[];
    /** Some opening on this port admits everyone (a /0 network). */
    anyone: boolean;
}

/** Inbound openings grouped by port/protocol, in the openings' order. */
export function openingGroups(inbound: readonly Opening[]): OpeningGroup[] {
    const groups = new Map<string, OpeningGroup>();
    for (const o of inbound) {
        const k = key(o.protocol, o.port);
        const g = groups.get(k) ?? { protocol: o.protocol, port: o.port, peers: [], services: [], anyone: false };
        g.peers = uniq([...g.peers, o.peer.name]);
        g.services = uniq([...g.services, o.service]);
        g.anyone ||= admitsAnyone(o);
        groups.set(k, g);
    }
    return [...groups.values()];
}

/**
 * One row per port/protocol that an inbound opening names or something listens on (loopback-only sockets are
 * counted, not listed), ordered by port then protocol. Outbound openings have nothing to do with listening.
 */
export function auditListening(policy: Pick<NodePolicy, "node" | "inbound">, listeners: readonly Listener[]) {
    return auditGroups(policy.node.name, openingGroups(policy.inbound), listeners);
}

/** auditListening on openings already grouped (the proof's inputs). */
export function auditGroups(
    node: string,
    groups: readonly OpeningGroup[],
    listeners: readonly Listener[],
): NodeListening {
    const reachable = listeners.filter((l) => !isLoopback(l.address));
    const openings = new Map(groups.map((g) => [key(g.protocol, g.port), g]));
    const bound = new Map<string, Listener[]>();
    for (const l of reachable) bound.set(key(l.protocol, l.port), [...(bound.get(key(l.protocol, l.port)) ?? []), l]);
    const ports = uniq([...openings.keys(), ...bound.keys()]).map((k) => {
        const [port, protocol] = k.split("/");
        return { port: Number(port), protocol: protocol as Protocol, k };
    });
    ports.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
    const rows: ListenRow[] = ports.map(({ port, protocol, k }) => {
        const g = openings.get(k);
        const ls = bound.get(k) ?? [];
        const addresses = uniq(ls.map((l) => l.address));
        return {
            protocol,
            port,
            status: !g ? "blocked" : ls.length === 0 ? "dead" : "served",
            bound: addresses,
            peers: g?.peers ?? [],
            services: g?.services ?? [],
            allAddresses: !!g && addresses.some(boundToAll) && !g.anyone,
        };
    });
    return { node, rows, loopback: listeners.length - reachable.length };
}

/** Counts for a summary line. */
export function listenCounts(n: Pick<NodeListening, "rows">): Record<ListenStatus | "allAddresses", number> {
    const c = { served: 0, dead: 0, blocked: 0, allAddresses: 0 };
    for (const r of n.rows) {
        c[r.status]++;
        if (r.allAddresses) c.allAddresses++;
    }
    return c;
}
