// Least privilege on addresses, not labels: every opening's sources are resolved to ranges and checked,
// whatever their spelling (a CIDR wider than the client networks is "client"; the whole space written as
// two halves is still the whole space).
import { ClusterModel, FirewallSettings } from "../types";
import { parseCidr } from "../net";
import { DATABASE_PORTS } from "../catalog";
import { Problems, at, dot, readBool, root } from "./read";

/** The one key that allows management, monitoring or an extra opening from the whole address space. */
export const WORLD_OPEN_KEY = "acknowledgeWorldOpen";

const BITS = { 4: 32, 6: 128 } as const;

/** Does the union of these CIDRs cover all of IPv4 ("IPv4") or all of IPv6 ("IPv6")? */
export function coversWholeSpace(cidrs: readonly string[]): ("IPv4" | "IPv6")[] {
    const out: ("IPv4" | "IPv6")[] = [];
    for (const family of [4, 6] as const) {
        const ranges = cidrs
            .flatMap((c) => {
                const p = parseCidr(c);
                if (!p.ok || p.cidr.family !== family) return [];
                const size = 1n << BigInt(BITS[family] - p.cidr.prefix);
                return [[p.cidr.base, p.cidr.base + size] as const];
            })
            .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        let reach = 0n;
        for (const [lo, hi] of ranges) {
            if (lo > reach) break;
            if (hi > reach) reach = hi;
        }
        if (reach === 1n << BigInt(BITS[family])) out.push(family === 4 ? "IPv4" : "IPv6");
    }
    return out;
}

/** Does `outer` contain all of `inner` (both CIDRs or addresses)? */
export function cidrCovers(outer: string, inner: string): boolean {
    const o = parseCidr(outer),
        i = parseCidr(inner);
    if (!o.ok || !i.ok || o.cidr.family !== i.cidr.family || o.cidr.prefix > i.cidr.prefix) return false;
    const shift = BigInt(BITS[o.cidr.family] - o.cidr.prefix);
    return o.cidr.base >> shift === i.cidr.base >> shift;
}

/** Is any client network (or a range containing one) among `sources`? Labels resolved first. */
function reachesClients(sources: readonly string[], client: readonly string[]): boolean {
    return (
        sources.includes("client") ||
        sources.some((s) => client.some((c) => cidrCovers(s, c))) ||
        coversWholeSpace(sources).length > 0
    );
}

/** Whether pinhole:acknowledgeWorldOpen is set, and where to report: what each exposure check needs. */
interface Ack {
    acknowledged: boolean;
    pr: Problems;
}

/** An exposure the acknowledgement allows: a warning when set, else an error with `refused`. */
function acknowledgeable(ack: Ack, path: string, text: string, refused: string): void {
    if (ack.acknowledged) ack.pr.warn(path, `${text}: allowed by pinhole:${WORLD_OPEN_KEY}`);
    else ack.pr.error(path, `${text}${refused}`);
}

const ACK_HINT = `set pinhole:${WORLD_OPEN_KEY}: true to accept it knowingly (it then warns on every preview)`;

/** Sources that together cover a whole address family. */
function worldOpen(ack: Ack, path: string, what: string, sources: readonly string[]): void {
    const whole = coversWholeSpace(sources);
    if (whole.length === 0) return;
    const text = `${what} from all of ${whole.join(" and ")} (${sources.join(", ")})`;
    acknowledgeable(ack, path, text, `: refused; narrow it, or ${ACK_HINT}`);
}

export function checkExposure(
    raw: Record<string, unknown>,
    networks: ClusterModel["networks"],
    firewall: Required<FirewallSettings> | undefined,
    pr: Problems,
): void {
    const ack: Ack = { acknowledged: readBool(raw[WORLD_OPEN_KEY], root(WORLD_OPEN_KEY), pr, false), pr };
    worldOpen(ack, root("networks.admin"), "SSH management is open", networks.admin);
    worldOpen(ack, root("networks.monitoring"), "SNMP polling is open", networks.monitoring);
    checkManagementCoversClients(ack, networks);
    const rawExtra = (raw.firewall as { extraInbound?: unknown } | undefined)?.extraInbound;
    (firewall?.extraInbound ?? []).forEach((e, i) => {
        const written = Array.isArray(rawExtra)
            ? (rawExtra[i] as { exposed?: unknown } | undefined)?.exposed
            : undefined;
        checkExtraInbound(ack, e, at(root("firewall.extraInbound"), i), written, networks);
    });
}

/**
 * Client networks reach client-exposed ports only: an admin or monitoring range that covers a whole client
 * network opens SSH or SNMP to every client in it (a range inside a client network, an admin subnet, is fine).
 */
function checkManagementCoversClients(ack: Ack, networks: ClusterModel["networks"]): void {
    for (const [key, what] of [
        ["admin", "SSH management"],
        ["monitoring", "SNMP polling"],
    ] as const) {
        if (coversWholeSpace(networks[key]).length > 0) continue; // said by worldOpen
        networks[key].forEach((cidr, i) => {
            const covered = networks.client.filter((c) => cidrCovers(cidr, c));
            if (covered.length === 0) return;
            const text = `${cidr} covers the client network${covered.length > 1 ? "s" : ""} ${covered.join(", ")}: ${what} would be open to every client there`;
            acknowledgeable(
                ack,
                `${root(`networks.${key}`)}[${i}]`,
                text,
                ` (client networks reach client-exposed ports only); list the admin hosts or subnets, or ${ACK_HINT}`,
            );
        });
    }
}

type ExtraInbound = Required<FirewallSettings>["extraInbound"][number];

/** One firewall.extraInbound entry: its `exposed` default, the whole space, database and management ports to clients. */
function checkExtraInbound(
    ack: Ack,
    e: ExtraInbound,
    path: string,
    written: unknown,
    networks: ClusterModel["networks"],
): void {
    // Literal ranges (labels are checked where they are defined: networks.*).
    const literal = e.from.filter((f) => !(f === "admin" || f === "client" || f === "monitoring"));
    const toClients = reachesClients(literal, networks.client);
    // `exposed` defaults by address too: a CIDR source that covers a client network is client traffic, and is
    // rate-limited like the label `client` would be (an explicit `exposed: false` stays the operator's choice).
    if (written === undefined && !e.exposed && toClients) e.exposed = true;
    worldOpen(ack, dot(path, "from"), `port ${e.port}/${e.protocol} is open`, literal);
    if (DATABASE_PORTS.includes(e.port) && !e.from.includes("client") && toClients) {
        ack.pr.error(
            dot(path, "port"),
            `${e.port} is a database port and ${e.from.join(", ")} covers the client networks (${networks.client.join(", ")}): pinhole never opens database ports to client networks, however the source is written`,
        );
    }
    // Management (SSH 22/tcp) and monitoring (SNMP 161/udp) are the admin and monitoring networks' only: an extra
    // opening of them to the client networks (by label or by a range that covers one) needs the same acknowledgement.
    const service =
        e.port === 22 && e.protocol === "tcp"
            ? "SSH management"
            : e.port === 161 && e.protocol === "udp"
              ? "SNMP polling"
              : undefined;
    if (service && !DATABASE_PORTS.includes(e.port) && (e.from.includes("client") || toClients)) {
        const text = `${e.port}/${e.protocol} is ${service} and ${e.from.join(", ")} reaches the client networks (${networks.client.join(", ")})`;
        acknowledgeable(
            ack,
            dot(path, "from"),
            text,
            `: the reference opens it from ${service === "SSH management" ? "admin" : "monitoring"} networks only; narrow it, or ${ACK_HINT}`,
        );
    }
}
