// The openings of one node as reason lines for its ruleset's header: one line per port, protocol, reason and
// reference section, however many nodes share it. A line per peer made each node's ruleset grow with the cluster
// (260 header lines, 28 KB of a 36 KB ruleset at 24 nodes), and every ruleset is held in the state; grouped,
// the header's size depends on the roles and the catalog, not on the number of peers. Pure.
import { Opening } from "./types";
import { reasonPrefix } from "./policy";

/** Names listed in a grouped line before the rest are only counted. */
const NAMES_SHOWN = 3;

interface Group {
    first: Opening;
    why: string;
    peers: string[];
}

/** The reason after its "port/proto from peer: " prefix, when the peer is a node (only node peers group). */
function whyOf(o: Opening): string | undefined {
    if (o.peer.kind !== "node") return undefined;
    const prefix = reasonPrefix(o.direction, o.port, o.protocol, o.peer.name);
    return o.reason.startsWith(prefix) ? o.reason.slice(prefix.length) : undefined;
}

function peerList(names: string[]): string {
    if (names.length <= NAMES_SHOWN) return names.join(", ");
    return `${names.length} nodes (${names.slice(0, NAMES_SHOWN - 1).join(", ")}, ..., ${names[names.length - 1]})`;
}

/** One line per group, in the openings' order (the first opening of each group); "reason [section]". */
export function openingSummaryLines(openings: readonly Opening[]): string[] {
    const groups: (Group | Opening)[] = [];
    const byKey = new Map<string, Group>();
    for (const o of openings) {
        const why = whyOf(o);
        if (why === undefined) {
            groups.push(o);
            continue;
        }
        const key = JSON.stringify([o.direction, o.port, o.protocol, o.section, why]);
        const g = byKey.get(key);
        if (g) g.peers.push(o.peer.name);
        else {
            const fresh = { first: o, why, peers: [o.peer.name] };
            byKey.set(key, fresh);
            groups.push(fresh);
        }
    }
    return groups.map((g) => {
        if (!("why" in g)) return `${g.reason} [${g.section}]`;
        const o = g.first;
        const head = reasonPrefix(o.direction, o.port, o.protocol, peerList(g.peers));
        return `${head}${g.why} [${o.section}]`;
    });
}
