// The proof's listen audit (issue 14): each node's inbound openings travel to the provider as one line per
// port/protocol, and what `ss` shows in the proof's probe session comes back as warnings (model/listening.ts audits).
// Pure. Names travel URI-encoded (a comma or space in a label cannot split a line) and come back only as printable
// ASCII, so nothing that could rewrite a terminal or a log line reaches the warnings through them.
import { auditGroups, ListenRow, Listener, OpeningGroup, openingGroups } from "./listening";
import { NodePolicy } from "./types";

/** A peer or service name once decoded: printable ASCII (a node, a network label or CIDR, an external, a label). */
const NAME = /^[\x20-\x7e]{1,128}$/;
const encodeNames = (names: readonly string[]) => names.map(encodeURIComponent).join(",");

/** "<port>/<tcp|udp> <any|some> <service,service> <peer,peer>" per port/protocol of the node's inbound openings. */
export function openingLines(policy: Pick<NodePolicy, "inbound">): string[] {
    return openingGroups(policy.inbound).map(
        (g) =>
            `${g.port}/${g.protocol} ${g.anyone ? "any" : "some"} ${encodeNames(g.services)} ${encodeNames(g.peers)}`,
    );
}

/** One opening line back as a group, or why it is not one. */
export function parseOpeningLine(line: string): OpeningGroup | string {
    const m = /^(\d{1,5})\/(tcp|udp) (any|some) (\S+) (\S+)$/.exec(line);
    if (!m) return `${JSON.stringify(line.slice(0, 80))} is not "<port>/<tcp|udp> <any|some> <services> <peers>"`;
    const port = Number(m[1]);
    if (port < 1 || port > 65535) return `port ${port} is out of range (1-65535)`;
    const decoded = (field: string) => field.split(",").map((x) => safeDecode(x));
    const services = decoded(m[4]);
    const peers = decoded(m[5]);
    const bad = [...services, ...peers].findIndex((n) => n === undefined || !NAME.test(n));
    if (bad >= 0) return `name ${bad + 1} of ${JSON.stringify(line.slice(0, 80))} is not URI-encoded printable ASCII`;
    return {
        port,
        protocol: m[2] as OpeningGroup["protocol"],
        anyone: m[3] === "any",
        services: services as string[],
        peers: peers as string[],
    };
}

function safeDecode(x: string): string | undefined {
    try {
        return decodeURIComponent(x);
    } catch {
        return undefined;
    }
}

/** At most this many ports named per line; the rest are counted. */
const MAX_LISTED = 12;

const listed = (items: string[]) =>
    items.slice(0, MAX_LISTED).join(", ") +
    (items.length > MAX_LISTED ? `, ... and ${items.length - MAX_LISTED} more` : "");
const port = (r: ListenRow) => `${r.port}/${r.protocol}`;

/**
 * What the audit of one node is worth saying after a passing proof, at most one line each: dead pinholes, listeners
 * no opening covers, services bound to all addresses where only some peers are admitted (a node where all is well
 * says nothing).
 */
export function listenWarnings(
    node: string,
    groups: readonly OpeningGroup[],
    listeners: readonly Listener[],
): string[] {
    const rows = auditGroups(node, groups, listeners).rows;
    const dead = rows.filter((r) => r.status === "dead").map((r) => `${port(r)} (${r.services.join(", ")})`);
    const blocked = rows.filter((r) => r.status === "blocked").map(port);
    const wide = rows.filter((r) => r.allAddresses).map(port);
    const out: string[] = [];
    if (dead.length)
        out.push(`listening: ${node}: ${dead.length} dead pinhole(s), opened but nothing listens: ${listed(dead)}`);
    if (blocked.length)
        out.push(
            `listening: ${node}: ${blocked.length} listener(s) no opening covers (the firewall drops them): ${listed(blocked)}`,
        );
    if (wide.length)
        out.push(
            `listening: ${node}: ${wide.length} port(s) bound to all addresses while the firewall admits only some peers: ${listed(wide)}`,
        );
    return out;
}
