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

const where = (node: string, r: ListenRow) => `${node} ${r.port}/${r.protocol}`;

/** What the audit of one node is worth saying after a passing proof: dead pinholes, uncovered listeners, wide binds. */
export function listenWarnings(
    node: string,
    groups: readonly OpeningGroup[],
    listeners: readonly Listener[],
): string[] {
    const out: string[] = [];
    for (const r of auditGroups(node, groups, listeners).rows) {
        if (r.status === "dead")
            out.push(
                `listening: ${where(node, r)} is open to ${r.peers.join(", ")} (${r.services.join(", ")}) but nothing listens (a dead pinhole)`,
            );
        else if (r.status === "blocked")
            out.push(
                `listening: ${where(node, r)} has a listener (${r.bound.join(", ")}) that no opening covers: the firewall drops it`,
            );
        if (r.allAddresses)
            out.push(
                `listening: ${where(node, r)} is bound to all addresses (${r.bound.join(", ")}) while the firewall admits only ${r.peers.join(", ")}`,
            );
    }
    return out;
}
