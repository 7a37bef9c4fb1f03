// What actually listens on a node (its sockets, as `ss -Hlntu` shows them: remote/ss.ts parses) against the
// node's inbound openings in the policy. Pure: verify reads the sockets and prints the table.
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
const admitsAnyone = (o: Opening) => o.peer.addresses.some((a) => /\/0$/.test(a));

const key = (protocol: Protocol, port: number) => `${port}/${protocol}`;
const uniq = (xs: string[]) => [...new Set(xs)];

/**
 * One row per port/protocol that an inbound opening names or something listens on (loopback-only sockets are
 * counted, not listed), ordered by port then protocol. Outbound openings have nothing to do with listening.
 */
export function auditListening(policy: Pick<NodePolicy, "node" | "inbound">, listeners: readonly Listener[]) {
    const reachable = listeners.filter((l) => !isLoopback(l.address));
    const openings = new Map<string, Opening[]>();
    for (const o of policy.inbound)
        openings.set(key(o.protocol, o.port), [...(openings.get(key(o.protocol, o.port)) ?? []), o]);
    const bound = new Map<string, Listener[]>();
    for (const l of reachable) bound.set(key(l.protocol, l.port), [...(bound.get(key(l.protocol, l.port)) ?? []), l]);
    const ports = uniq([...openings.keys(), ...bound.keys()]).map((k) => {
        const [port, protocol] = k.split("/");
        return { port: Number(port), protocol: protocol as Protocol, k };
    });
    ports.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
    const rows: ListenRow[] = ports.map(({ port, protocol, k }) => {
        const os = openings.get(k) ?? [];
        const ls = bound.get(k) ?? [];
        const addresses = uniq(ls.map((l) => l.address));
        return {
            protocol,
            port,
            status: os.length === 0 ? "blocked" : ls.length === 0 ? "dead" : "served",
            bound: addresses,
            peers: uniq(os.map((o) => o.peer.name)),
            services: uniq(os.map((o) => o.service)),
            allAddresses: os.length > 0 && addresses.some(boundToAll) && !os.some(admitsAnyone),
        };
    });
    return { node: policy.node.name, rows, loopback: listeners.length - reachable.length } satisfies NodeListening;
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
