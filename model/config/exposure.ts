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

export function checkExposure(
    raw: Record<string, unknown>,
    networks: ClusterModel["networks"],
    firewall: Required<FirewallSettings> | undefined,
    pr: Problems,
): void {
    const acknowledged = readBool(raw[WORLD_OPEN_KEY], root(WORLD_OPEN_KEY), pr, false);
    const world = (path: string, what: string, sources: readonly string[]) => {
        const whole = coversWholeSpace(sources);
        if (whole.length === 0) return;
        const text = `${what} from all of ${whole.join(" and ")} (${sources.join(", ")})`;
        if (acknowledged) pr.warn(path, `${text}: allowed by pinhole:${WORLD_OPEN_KEY}`);
        else
            pr.error(
                path,
                `${text}: refused; narrow it, or set pinhole:${WORLD_OPEN_KEY}: true to accept it knowingly (it then warns on every preview)`,
            );
    };
    world(root("networks.admin"), "SSH management is open", networks.admin);
    world(root("networks.monitoring"), "SNMP polling is open", networks.monitoring);
    // Client networks reach client-exposed ports only: an admin or monitoring range that covers a whole client
    // network opens SSH or SNMP to every client in it (a range inside a client network, an admin subnet, is fine).
    for (const [key, what] of [
        ["admin", "SSH management"],
        ["monitoring", "SNMP polling"],
    ] as const) {
        if (coversWholeSpace(networks[key]).length > 0) continue; // said above
        networks[key].forEach((cidr, i) => {
            const covered = networks.client.filter((c) => cidrCovers(cidr, c));
            if (covered.length === 0) return;
            const path = `${root(`networks.${key}`)}[${i}]`;
            const text = `${cidr} covers the client network${covered.length > 1 ? "s" : ""} ${covered.join(", ")}: ${what} would be open to every client there`;
            if (acknowledged) pr.warn(path, `${text}: allowed by pinhole:${WORLD_OPEN_KEY}`);
            else
                pr.error(
                    path,
                    `${text} (client networks reach client-exposed ports only); list the admin hosts or subnets, or set pinhole:${WORLD_OPEN_KEY}: true to accept it knowingly (it then warns on every preview)`,
                );
        });
    }
    const resolve = (f: string) => (f === "admin" || f === "client" || f === "monitoring" ? networks[f] : [f]);
    const rawExtra = (raw.firewall as { extraInbound?: unknown } | undefined)?.extraInbound;
    (firewall?.extraInbound ?? []).forEach((e, i) => {
        const path = at(root("firewall.extraInbound"), i);
        // `exposed` defaults by address too: a CIDR source that covers a client network is client traffic, and is
        // rate-limited like the label `client` would be (an explicit `exposed: false` stays the operator's choice).
        const written = Array.isArray(rawExtra)
            ? (rawExtra[i] as { exposed?: unknown } | undefined)?.exposed
            : undefined;
        if (
            written === undefined &&
            !e.exposed &&
            reachesClients(
                e.from.filter((f) => resolve(f)[0] === f),
                networks.client,
            )
        )
            e.exposed = true;
        // Labels are checked where they are defined (networks.*); literal ranges here.
        world(
            dot(path, "from"),
            `port ${e.port}/${e.protocol} is open`,
            e.from.filter((f) => resolve(f)[0] === f),
        );
        if (
            DATABASE_PORTS.includes(e.port) &&
            !e.from.includes("client") &&
            reachesClients(
                e.from.filter((f) => resolve(f)[0] === f),
                networks.client,
            )
        ) {
            pr.error(
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
        if (
            service &&
            !DATABASE_PORTS.includes(e.port) &&
            (e.from.includes("client") ||
                reachesClients(
                    e.from.filter((f) => resolve(f)[0] === f),
                    networks.client,
                ))
        ) {
            const text = `${e.port}/${e.protocol} is ${service} and ${e.from.join(", ")} reaches the client networks (${networks.client.join(", ")})`;
            if (acknowledged) pr.warn(dot(path, "from"), `${text}: allowed by pinhole:${WORLD_OPEN_KEY}`);
            else
                pr.error(
                    dot(path, "from"),
                    `${text}: the reference opens it from ${service === "SSH management" ? "admin" : "monitoring"} networks only; narrow it, or set pinhole:${WORLD_OPEN_KEY}: true to accept it knowingly (it then warns on every preview)`,
                );
        }
    });
}
