// Renders one node's policy as an nftables ruleset: pinhole's own `inet` table only (other tables such
// as Docker's are never touched), default drop on input, named sets of peer addresses so the ruleset
// grows with ports and roles rather than ports × peers, per-source rate limits on client-exposed
// services, rate-limited logging of drops, and optional default-deny egress.
// Pure: no I/O. The text is what `pulumi preview --diff` shows, so it is stable and commented.
import { FirewallSettings, NodePolicy, Opening, Protocol } from "../model/types";
import { nftAddress, nftCommentLine, nftIdentifier, nftString } from "./escape";

export const TABLE_FAMILY = "inet";
export const TABLE_NAME = "pinhole";

type Family = "v4" | "v6";

export function familyOf(address: string): Family {
    return address.includes(":") ? "v6" : "v4";
}

interface AddressSet {
    name: string;
    family: Family;
    elements: string[];
    /** Who the elements are (peer names), for the set's comment. */
    members: string[];
}

interface RuleGroup {
    direction: "inbound" | "outbound";
    protocol: Protocol;
    ports: number[];
    set: AddressSet;
    exposed: boolean;
    services: string[];
    /** The management SSH path: kept apart so it can be matched before any conntrack-based rule. */
    management: boolean;
}

const MANAGEMENT_SERVICE = "ssh";

const byNumber = (a: number, b: number) => a - b;
const uniqSorted = (xs: string[]) => [...new Set(xs)].sort(compareAddresses);

/** Addresses sort numerically-ish (IPv4 by octets, then IPv6 text) so sets render stably. */
export function compareAddresses(a: string, b: string): number {
    const key = (s: string) => {
        const [ip, len] = s.split("/");
        if (!ip.includes(":"))
            return (
                ip
                    .split(".")
                    .map((o) => o.padStart(3, "0"))
                    .join(".") +
                "/" +
                (len ?? "32").padStart(3, "0")
            );
        return "~" + s;
    };
    return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

function portsExpr(ports: number[]): string {
    return ports.length === 1 ? String(ports[0]) : `{ ${ports.join(", ")} }`;
}

/**
 * Groups openings of one direction: for each (protocol, port) the set of peer addresses; then ports
 * whose address sets are identical share one named set and one rule.
 */
function groupOpenings(
    openings: Opening[],
    direction: "inbound" | "outbound",
    sets: Map<string, AddressSet>,
): RuleGroup[] {
    const perPort = new Map<
        string,
        {
            protocol: Protocol;
            port: number;
            addresses: Set<string>;
            members: Set<string>;
            exposed: boolean;
            services: Set<string>;
            management: boolean;
        }
    >();
    for (const o of openings) {
        const management = direction === "inbound" && o.service === MANAGEMENT_SERVICE;
        const k = `${o.protocol}/${o.port}/${o.exposed ? "x" : "-"}/${management ? "m" : "-"}`;
        let e = perPort.get(k);
        if (!e) {
            e = {
                protocol: o.protocol,
                port: o.port,
                addresses: new Set(),
                members: new Set(),
                exposed: o.exposed,
                services: new Set(),
                management,
            };
            perPort.set(k, e);
        }
        o.peer.addresses.forEach((a) => e!.addresses.add(a));
        e.members.add(o.peer.name);
        e.services.add(o.service);
    }
    const groups = new Map<string, RuleGroup[]>();
    for (const e of perPort.values()) {
        for (const family of ["v4", "v6"] as Family[]) {
            const elements = uniqSorted([...e.addresses].filter((a) => familyOf(a) === family));
            if (elements.length === 0) continue;
            const members = [...e.members].sort();
            const setKey = `${family}|${elements.join(",")}`;
            let set = sets.get(setKey);
            if (!set) {
                set = { name: "", family, elements, members };
                sets.set(setKey, set);
            } else {
                set.members = [...new Set([...set.members, ...members])].sort();
            }
            const gk = `${direction}|${e.protocol}|${e.exposed}|${e.management}|${setKey}`;
            const list = groups.get(gk) ?? [];
            const existing = list[0];
            if (existing) {
                existing.ports.push(e.port);
                e.services.forEach((s) => existing.services.includes(s) || existing.services.push(s));
            } else {
                list.push({
                    direction,
                    protocol: e.protocol,
                    ports: [e.port],
                    set,
                    exposed: e.exposed,
                    services: [...e.services],
                    management: e.management,
                });
            }
            groups.set(gk, list);
        }
    }
    const out = [...groups.values()].flat();
    out.forEach((g) => {
        g.ports.sort(byNumber);
        g.services.sort();
    });
    return out;
}

/** Names sets after who is in them: a network label when it is one network, else peers_<n>. */
function nameSets(sets: AddressSet[]): void {
    const used = new Set<string>();
    let n = 0;
    const ordered = [...sets].sort(
        (a, b) =>
            a.members.join(",").localeCompare(b.members.join(",")) ||
            a.family.localeCompare(b.family) ||
            a.elements.join(",").localeCompare(b.elements.join(",")),
    );
    for (const s of ordered) {
        let base =
            s.members.length === 1 && /^[a-z][a-z0-9_-]*$/.test(s.members[0]) ? s.members[0].replace(/-/g, "_") : "";
        if (!base || used.has(`${base}_${s.family}`)) base = `peers_${++n}`;
        while (used.has(`${base}_${s.family}`)) base = `peers_${++n}`;
        s.name = `${base}_${s.family}`;
        used.add(s.name);
    }
}

export interface RenderOptions {
    /** Header line: who the ruleset is for. */
    title?: string;
}

/** The full ruleset for one node: `table inet pinhole { ... }`, preceded by comment lines of reasons. */
export function renderRuleset(policy: NodePolicy, settings: FirewallSettings, opts: RenderOptions = {}): string {
    const node = policy.node;
    const sets = new Map<string, AddressSet>();
    const inbound = groupOpenings(policy.inbound, "inbound", sets);
    const outbound = settings.egress === "deny" ? groupOpenings(policy.outbound, "outbound", sets) : [];
    const allSets = [...sets.values()];
    nameSets(allSets);
    const ruleOrder = (a: RuleGroup, b: RuleGroup) =>
        a.ports[0] - b.ports[0] || a.protocol.localeCompare(b.protocol) || a.set.name.localeCompare(b.set.name);
    inbound.sort(ruleOrder);
    outbound.sort(ruleOrder);

    const L: string[] = [];
    L.push(nftCommentLine(`pinhole firewall for ${opts.title ?? `${node.name} (${node.role}, site ${node.site})`}`));
    L.push("# Generated from the deployment model; edits on the node are drift and are reverted by `pulumi up`.");
    L.push("# Inbound openings:");
    for (const o of policy.inbound) L.push(nftCommentLine(`  ${o.reason} [${o.section}]`));
    if (settings.egress === "deny") {
        L.push("# Outbound openings (default-deny egress):");
        for (const o of policy.outbound) L.push(nftCommentLine(`  ${o.reason} [${o.section}]`));
    } else {
        L.push("# Egress: not filtered (pinhole:firewall.egress = allow).");
    }
    L.push(`table ${TABLE_FAMILY} ${TABLE_NAME} {`);

    const setsInOrder = [...allSets].sort((a, b) => a.name.localeCompare(b.name));
    for (const s of setsInOrder) {
        L.push(`\tset ${nftIdentifier(s.name)} {`);
        L.push(`\t\ttype ${s.family === "v4" ? "ipv4_addr" : "ipv6_addr"}`);
        L.push("\t\tflags interval");
        L.push("\t\tauto-merge");
        L.push(`\t\tcomment ${nftString(s.members.join(", "))}`);
        L.push(`\t\telements = { ${s.elements.map(nftAddress).join(", ")} }`);
        L.push("\t}");
    }
    // One rate-limit meter per address family that has client-exposed rules.
    for (const family of ["v4", "v6"] as Family[]) {
        if (!inbound.some((g) => g.exposed && g.set.family === family)) continue;
        L.push(`\tset ratelimit_${family} {`);
        L.push(`\t\ttype ${family === "v4" ? "ipv4_addr" : "ipv6_addr"} . inet_service`);
        L.push("\t\tsize 65535");
        L.push("\t\tflags dynamic,timeout");
        L.push("\t\ttimeout 1m");
        L.push(`\t\tcomment "per-source connection rate on client-exposed services"`);
        L.push("\t}");
    }

    const rl = settings.rateLimit;
    const ruleFor = (g: RuleGroup): string[] => {
        const addrKw = g.set.family === "v4" ? "ip" : "ip6";
        const peerKw = g.direction === "inbound" ? "saddr" : "daddr";
        const match = `${g.protocol} dport ${portsExpr(g.ports)} ${addrKw} ${peerKw} @${nftIdentifier(g.set.name)}`;
        const what = `${g.ports.join(",")}/${g.protocol} ${g.direction === "inbound" ? "from" : "to"} ${g.set.members.join(", ")}: ${g.services.join(", ")}`;
        const lines: string[] = [];
        if (g.exposed && g.direction === "inbound") {
            lines.push(
                `\t\t${match} ct state new add @ratelimit_${g.set.family} { ${addrKw} saddr . ${g.protocol} dport limit rate over ${rl.perMinute}/minute burst ${rl.burst} packets } counter drop comment ${nftString(`rate limit per source: ${g.ports.join(",")}/${g.protocol}`)}`,
            );
        }
        lines.push(`\t\t${match} accept comment ${nftString(what)}`);
        return lines;
    };

    // The management SSH path is matched first, on addresses and ports alone: it never depends on
    // conntrack state (a connection that predates the table, a full or flushed conntrack table).
    const management = inbound.filter((g) => g.management);
    L.push("\tchain input {");
    L.push("\t\ttype filter hook input priority filter; policy drop;");
    for (const g of management) L.push(...ruleFor(g));
    L.push(`\t\tct state established,related accept comment "replies to allowed flows"`);
    L.push("\t\tct state invalid drop");
    L.push(`\t\tiif "lo" accept`);
    L.push(...icmpRules("inbound"));
    for (const g of inbound.filter((x) => !x.management)) L.push(...ruleFor(g));
    if (settings.logDrops)
        L.push(`\t\tlimit rate 10/minute burst 20 packets log prefix "pinhole drop in: " level info`);
    L.push("\t}");

    if (settings.egress === "deny") {
        L.push("\tchain output {");
        L.push("\t\ttype filter hook output priority filter; policy drop;");
        for (const g of management) {
            const addrKw = g.set.family === "v4" ? "ip" : "ip6";
            L.push(
                `\t\t${g.protocol} sport ${portsExpr(g.ports)} ${addrKw} daddr @${nftIdentifier(g.set.name)} accept comment ${nftString(`replies on the management path to ${g.set.members.join(", ")}`)}`,
            );
        }
        L.push(`\t\tct state established,related accept comment "replies and allowed flows"`);
        L.push(`\t\toif "lo" accept`);
        L.push(...icmpRules("outbound"));
        for (const g of outbound) L.push(...ruleFor(g));
        if (settings.logDrops)
            L.push(`\t\tlimit rate 10/minute burst 20 packets log prefix "pinhole drop out: " level info`);
        L.push("\t}");
    }
    L.push("}");
    return L.join("\n") + "\n";
}

/** ICMP the network needs (path MTU, errors, IPv6 neighbour discovery) plus rate-limited ping. */
function icmpRules(direction: "inbound" | "outbound"): string[] {
    const v6nd = "nd-router-advert, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert";
    const lines = [
        `\t\ticmp type { destination-unreachable, time-exceeded, parameter-problem } accept`,
        `\t\ticmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, ${v6nd} } accept`,
    ];
    if (direction === "inbound") {
        lines.push(`\t\ticmp type echo-request limit rate 10/second burst 20 packets accept`);
        lines.push(`\t\ticmpv6 type echo-request limit rate 10/second burst 20 packets accept`);
    } else {
        lines.push(`\t\ticmp type echo-request accept`);
        lines.push(`\t\ticmpv6 type echo-request accept`);
    }
    return lines;
}

/** The nft transaction that replaces pinhole's table atomically (creating it first if absent). */
export function replaceTableTransaction(ruleset: string): string {
    return `table ${TABLE_FAMILY} ${TABLE_NAME}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n${ruleset}`;
}

/** The nft transaction that removes pinhole's table (idempotent). */
export function removeTableTransaction(): string {
    return `table ${TABLE_FAMILY} ${TABLE_NAME}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n`;
}

/**
 * Normalises `nft -s list table inet pinhole` output for drift comparison: drops the contents of
 * dynamic sets (rate-limit state) and counters, and trims blank lines.
 */
export function normaliseListing(listing: string): string {
    const out: string[] = [];
    let dynamicSet = false;
    let skippingElements = false;
    for (const raw of listing.split("\n")) {
        const line = raw.replace(/\s+$/, "");
        if (skippingElements) {
            if (line.endsWith("}")) skippingElements = false;
            continue;
        }
        if (!line.trim()) continue;
        if (/^\s*set \S+ \{$/.test(line)) dynamicSet = false;
        if (/^\s*flags .*dynamic/.test(line)) dynamicSet = true;
        if (dynamicSet && /^\s*elements = /.test(line)) {
            skippingElements = !line.endsWith("}");
            continue;
        }
        out.push(line.replace(/ counter packets \d+ bytes \d+/g, " counter"));
    }
    return out.join("\n") + "\n";
}
