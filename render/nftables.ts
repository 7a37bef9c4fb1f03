// Renders one node's policy as an nftables ruleset: pinhole's own `inet` table only (other tables such
// as Docker's are never touched), default drop on input, named sets of peer addresses so the ruleset
// grows with ports and roles rather than ports × peers, per-source rate limits on client-exposed
// services, rate-limited logging of drops, and optional default-deny egress.
// Pure: no I/O. The text is what `pulumi preview --diff` shows, so it is stable and commented.
import { FirewallSettings, NodePolicy, Opening, Protocol } from "../model/types";
import { nftAddress, nftCommentLine, nftIdentifier, nftString } from "./escape";
import { openingSummaryLines } from "../model/opening-summary";

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

/** One (protocol, port) of one direction and everything that opens it: the unit groupOpenings merges. */
interface PortEntry {
    protocol: Protocol;
    port: number;
    addresses: Set<string>;
    members: Set<string>;
    exposed: boolean;
    services: Set<string>;
    management: boolean;
}

/** Collects, per (protocol, port, exposed, management), the peers' addresses, names and services. */
function entriesPerPort(openings: Opening[], direction: "inbound" | "outbound"): PortEntry[] {
    const perPort = new Map<string, PortEntry>();
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
        for (const a of o.peer.addresses) e.addresses.add(a);
        e.members.add(o.peer.name);
        e.services.add(o.service);
    }
    return [...perPort.values()];
}

/** The named set holding exactly these elements, shared across both directions (its members are merged in). */
function sharedSet(sets: Map<string, AddressSet>, family: Family, elements: string[], members: string[]): AddressSet {
    const setKey = `${family}|${elements.join(",")}`;
    let set = sets.get(setKey);
    if (!set) {
        set = { name: "", family, elements, members };
        sets.set(setKey, set);
    } else {
        set.members = [...new Set([...set.members, ...members])].sort();
    }
    return set;
}

/** Adds one port entry's family share to the rule with the same protocol, flags and set, or starts that rule. */
function addToGroup(
    groups: Map<string, RuleGroup>,
    direction: "inbound" | "outbound",
    e: PortEntry,
    set: AddressSet,
): void {
    const gk = `${direction}|${e.protocol}|${e.exposed}|${e.management}|${set.family}|${set.elements.join(",")}`;
    const existing = groups.get(gk);
    if (existing) {
        existing.ports.push(e.port);
        e.services.forEach((s) => existing.services.includes(s) || existing.services.push(s));
        return;
    }
    groups.set(gk, {
        direction,
        protocol: e.protocol,
        ports: [e.port],
        set,
        exposed: e.exposed,
        services: [...e.services],
        management: e.management,
    });
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
    const groups = new Map<string, RuleGroup>();
    for (const e of entriesPerPort(openings, direction)) {
        for (const family of ["v4", "v6"] as Family[]) {
            const elements = uniqSorted([...e.addresses].filter((a) => familyOf(a) === family));
            if (elements.length === 0) continue;
            const set = sharedSet(sets, family, elements, [...e.members].sort());
            addToGroup(groups, direction, e, set);
        }
    }
    const out = [...groups.values()];
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

/** The rules of both chains, grouped and sorted, and the named sets they refer to, already named. */
interface RulePlan {
    inbound: RuleGroup[];
    outbound: RuleGroup[];
    sets: AddressSet[];
}

function planRules(policy: NodePolicy, settings: FirewallSettings): RulePlan {
    const sets = new Map<string, AddressSet>();
    const inbound = groupOpenings(policy.inbound, "inbound", sets);
    const outbound = settings.egress === "deny" ? groupOpenings(policy.outbound, "outbound", sets) : [];
    const allSets = [...sets.values()];
    // Sets are named before rules are sorted: the order breaks ties by set name.
    nameSets(allSets);
    const ruleOrder = (a: RuleGroup, b: RuleGroup) =>
        a.ports[0] - b.ports[0] || a.protocol.localeCompare(b.protocol) || a.set.name.localeCompare(b.set.name);
    inbound.sort(ruleOrder);
    outbound.sort(ruleOrder);
    return { inbound, outbound, sets: allSets };
}

/**
 * Comment lines before the table: whom it is for and every opening's reason, as reviewers read them in a diff
 * (openings that differ only in the peer node share a line: model/opening-summary.ts).
 */
function headerLines(policy: NodePolicy, settings: FirewallSettings, opts: RenderOptions): string[] {
    const node = policy.node;
    const L: string[] = [];
    L.push(nftCommentLine(`pinhole firewall for ${opts.title ?? `${node.name} (${node.role}, site ${node.site})`}`));
    L.push("# Generated from the deployment model; edits on the node are drift and are reverted by `pulumi up`.");
    L.push("# Inbound openings:");
    for (const line of openingSummaryLines(policy.inbound)) L.push(nftCommentLine(`  ${line}`));
    if (settings.egress === "deny") {
        L.push("# Outbound openings (default-deny egress):");
        for (const line of openingSummaryLines(policy.outbound)) L.push(nftCommentLine(`  ${line}`));
    } else {
        L.push("# Egress: not filtered (pinhole:firewall.egress = allow).");
    }
    return L;
}

/** The named peer-address sets, in name order. */
function setLines(sets: AddressSet[]): string[] {
    const L: string[] = [];
    for (const s of [...sets].sort((a, b) => a.name.localeCompare(b.name))) {
        L.push(`\tset ${nftIdentifier(s.name)} {`);
        L.push(`\t\ttype ${s.family === "v4" ? "ipv4_addr" : "ipv6_addr"}`);
        L.push("\t\tflags interval");
        L.push("\t\tauto-merge");
        L.push(`\t\tcomment ${nftString(s.members.join(", "))}`);
        L.push(`\t\telements = { ${s.elements.map(nftAddress).join(", ")} }`);
        L.push("\t}");
    }
    return L;
}

/** One rate-limit meter per address family that has client-exposed rules. */
function meterLines(inbound: RuleGroup[]): string[] {
    const L: string[] = [];
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
    return L;
}

/** One group's accept rule, preceded on client-exposed inbound services by its per-source rate-limit drop. */
function ruleLines(g: RuleGroup, rl: FirewallSettings["rateLimit"]): string[] {
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
}

function inputChainLines(inbound: RuleGroup[], settings: FirewallSettings): string[] {
    const L: string[] = [];
    L.push("\tchain input {");
    L.push("\t\ttype filter hook input priority filter; policy drop;");
    // The management SSH path is matched first, on addresses and ports alone: it never depends on
    // conntrack state (a connection that predates the table, a full or flushed conntrack table).
    for (const g of inbound.filter((x) => x.management)) L.push(...ruleLines(g, settings.rateLimit));
    L.push(`\t\tct state established,related accept comment "replies to allowed flows"`);
    L.push("\t\tct state invalid drop");
    L.push(`\t\tiif "lo" accept`);
    L.push(...icmpRules("inbound"));
    for (const g of inbound.filter((x) => !x.management)) L.push(...ruleLines(g, settings.rateLimit));
    if (settings.logDrops)
        L.push(`\t\tlimit rate 10/minute burst 20 packets log prefix "pinhole drop in: " level info`);
    L.push("\t}");
    return L;
}

/** The default-deny egress chain; its first rules let the management path's replies out without conntrack. */
function outputChainLines(plan: RulePlan, settings: FirewallSettings): string[] {
    const L: string[] = [];
    L.push("\tchain output {");
    L.push("\t\ttype filter hook output priority filter; policy drop;");
    for (const g of plan.inbound.filter((x) => x.management)) {
        const addrKw = g.set.family === "v4" ? "ip" : "ip6";
        L.push(
            `\t\t${g.protocol} sport ${portsExpr(g.ports)} ${addrKw} daddr @${nftIdentifier(g.set.name)} accept comment ${nftString(`replies on the management path to ${g.set.members.join(", ")}`)}`,
        );
    }
    L.push(`\t\tct state established,related accept comment "replies and allowed flows"`);
    L.push(`\t\toif "lo" accept`);
    L.push(...icmpRules("outbound"));
    for (const g of plan.outbound) L.push(...ruleLines(g, settings.rateLimit));
    if (settings.logDrops)
        L.push(`\t\tlimit rate 10/minute burst 20 packets log prefix "pinhole drop out: " level info`);
    L.push("\t}");
    return L;
}

/** The full ruleset for one node: `table inet pinhole { ... }`, preceded by comment lines of reasons. */
export function renderRuleset(policy: NodePolicy, settings: FirewallSettings, opts: RenderOptions = {}): string {
    const plan = planRules(policy, settings);
    const L = [
        ...headerLines(policy, settings, opts),
        `table ${TABLE_FAMILY} ${TABLE_NAME} {`,
        ...setLines(plan.sets),
        ...meterLines(plan.inbound),
        ...inputChainLines(plan.inbound, settings),
        ...(settings.egress === "deny" ? outputChainLines(plan, settings) : []),
        "}",
    ];
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

/**
 * Two rulesets that differ only in their comment lines (the header of reasons) load the same table: the Firewall's
 * diff does not re-apply a node for them (a new header format must not re-apply every node of every stack).
 */
export function sameRulesExceptComments(a: string, b: string): boolean {
    const rules = (t: string) =>
        t
            .split("\n")
            .filter((l) => !/^\s*#/.test(l))
            .join("\n");
    return rules(a) === rules(b);
}
