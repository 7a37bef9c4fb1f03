// The rules of pinhole's CrossGuard policy pack (policy/index.ts), as plain functions over what pinhole's
// resources carry: the nftables ruleset a pinhole:node:Firewall applies, and the nginx site + certificate a
// pinhole:node:WebServer installs. They read the artifacts that reach the nodes, not the stack config, so
// a hand-written ruleset or a changed renderer is held to the same rules. Each returns violation messages.
import { X509Certificate } from "crypto";

/** Ports that must never be reachable from the world (0.0.0.0/0, ::/0 or no source match). */
export const MANAGEMENT_PORTS: { protocol: "tcp" | "udp"; port: number; what: string }[] = [
    { protocol: "tcp", port: 22, what: "SSH/SFTP" },
    { protocol: "udp", port: 22, what: "SSH (udp, reference profile)" },
    { protocol: "udp", port: 161, what: "SNMP" },
    { protocol: "udp", port: 162, what: "SNMP traps" },
];
/** Database service ports (model/catalog.ts: database access, replica set members, arbiter). */
export const DATABASE_PORTS = [27017, 27018, 27019, 27020, 27030];

export interface NftSet {
    name: string;
    members: string[];
    elements: string[];
}
export interface NftRule {
    chain: string;
    protocol?: string;
    ports: number[];
    source?: string[];
    sourceSet?: string;
    verdict: string;
    text: string;
}
export interface NftRuleset {
    sets: Map<string, NftSet>;
    chains: Map<string, { policy: string }>;
    rules: NftRule[];
}

const WORLD = new Set(["0.0.0.0/0", "::/0", "0.0.0.0/0.0.0.0"]);
const list = (s: string) =>
    s
        .replace(/^\{|\}$/g, "")
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean);

/** Parses the parts of pinhole's rendered `table inet pinhole { ... }` the rules need (sets, chain policies, port rules). */
export function parseRuleset(text: string): NftRuleset {
    const sets = new Map<string, NftSet>();
    const chains = new Map<string, { policy: string }>();
    const rules: NftRule[] = [];
    let set: NftSet | undefined;
    let chain: string | undefined;
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (!line || line.startsWith("#")) continue;
        let m: RegExpExecArray | null;
        if ((m = /^set (\S+) \{$/.exec(line))) {
            set = { name: m[1], members: [], elements: [] };
            sets.set(set.name, set);
            continue;
        }
        if ((m = /^chain (\S+) \{$/.exec(line))) {
            chain = m[1];
            chains.set(chain, { policy: "accept" });
            continue;
        }
        if (line === "}") {
            if (set) set = undefined;
            else chain = undefined;
            continue;
        }
        if (set) {
            if ((m = /^comment "(.*)"$/.exec(line))) set.members = list(m[1]);
            if ((m = /^elements = (\{.*\})$/.exec(line))) set.elements = list(m[1]);
            continue;
        }
        if (!chain) continue;
        if ((m = /^type filter hook \S+ priority \S+; policy (accept|drop);$/.exec(line))) {
            chains.get(chain)!.policy = m[1];
            continue;
        }
        m =
            /^(tcp|udp) dport (\d+|\{[^}]*\})(?: (?:ip|ip6) saddr (@\S+|\{[^}]*\}|\S+))?.*?\b(accept|drop|reject)\b/.exec(
                line,
            );
        if (m) {
            const source = m[3];
            rules.push({
                chain,
                protocol: m[1],
                ports: list(m[2]).map(Number),
                verdict: m[4],
                text: line,
                ...(source?.startsWith("@") ? { sourceSet: source.slice(1) } : source ? { source: list(source) } : {}),
            });
        }
    }
    return { sets, chains, rules };
}

/** Addresses a rule accepts from, and the set's member labels; undefined addresses = any source. */
function sourcesOf(r: NftRule, rs: NftRuleset): { addresses?: string[]; members: string[] } {
    if (r.sourceSet) {
        const s = rs.sets.get(r.sourceSet);
        return { addresses: s?.elements ?? [], members: s?.members ?? [] };
    }
    return { addresses: r.source, members: r.source ?? [] };
}

const fromWorld = (addresses?: string[]) => addresses === undefined || addresses.some((a) => WORLD.has(a));

/** Rule 1: SSH and SNMP are never reachable from the world. */
export function worldReachableManagement(ruleset: string): string[] {
    const rs = parseRuleset(ruleset);
    const out: string[] = [];
    if (rs.chains.get("input")?.policy === "accept")
        out.push("the input chain's policy is accept: SSH and SNMP are reachable from anywhere");
    for (const r of rs.rules.filter((x) => x.chain === "input" && x.verdict === "accept")) {
        for (const p of MANAGEMENT_PORTS) {
            if (r.protocol !== p.protocol || !r.ports.includes(p.port)) continue;
            if (fromWorld(sourcesOf(r, rs).addresses))
                out.push(`${p.port}/${p.protocol} (${p.what}) is open to the world: ${r.text}`);
        }
    }
    return out;
}

/** Rule 2: database ports never accept client networks (or the world). */
export function databaseReachableFromClients(ruleset: string): string[] {
    const rs = parseRuleset(ruleset);
    const clientAddresses = new Set(
        [...rs.sets.values()]
            .filter((s) => s.members.length === 1 && s.members[0] === "client")
            .flatMap((s) => s.elements),
    );
    const out: string[] = [];
    for (const r of rs.rules.filter((x) => x.chain === "input" && x.verdict === "accept")) {
        const db = r.protocol === "tcp" ? r.ports.filter((p) => DATABASE_PORTS.includes(p)) : [];
        if (!db.length) continue;
        const src = sourcesOf(r, rs);
        const why = fromWorld(src.addresses)
            ? "the world"
            : src.members.includes("client") || src.addresses!.some((a) => clientAddresses.has(a))
              ? "client networks"
              : "";
        if (why) out.push(`database port ${db.join(",")}/tcp is reachable from ${why}: ${r.text}`);
    }
    return out;
}

/** Rule 5: egress is default-deny (an output chain with policy drop). */
export function egressNotDenied(ruleset: string): string[] {
    const out = parseRuleset(ruleset).chains.get("output");
    return out?.policy === "drop"
        ? []
        : ["egress is not filtered (pinhole:firewall.egress must be deny on production stacks)"];
}

/** Rule 3: nginx serves TLS 1.2 or newer only. */
export function legacyTls(siteConfig: string): string[] {
    const out: string[] = [];
    for (const m of siteConfig.matchAll(/^\s*ssl_protocols\s+([^;]*);/gm)) {
        const legacy = m[1].split(/\s+/).filter((p) => p && !/^TLSv1\.[23]$/.test(p));
        if (legacy.length)
            out.push(
                `nginx allows ${legacy.join(", ")} (TLS 1.2 or newer only; pinhole:certificates.legacyProtocols must stay false)`,
            );
    }
    return out;
}

/** Rule 4: the served certificate is not inside its notice window (expires later than noticeDays from now). */
export function certificateInNoticeWindow(certificatePem: string, noticeDays: number, now = new Date()): string[] {
    const first = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(certificatePem);
    if (!first) return ["the web server's certificate is not a PEM certificate"];
    let notAfter: Date;
    try {
        notAfter = new Date(new X509Certificate(first[0]).validTo);
    } catch (e) {
        return [`the web server's certificate cannot be parsed: ${(e as Error).message}`];
    }
    const days = (notAfter.getTime() - now.getTime()) / 86_400_000;
    if (days < 0) return [`the certificate expired on ${notAfter.toISOString()}`];
    if (days < noticeDays)
        return [
            `the certificate expires on ${notAfter.toISOString()}, ${Math.floor(days)} days from now: inside the ${noticeDays}-day notice window (renew or replace it)`,
        ];
    return [];
}

/** The stack name inside a resource URN (urn:pulumi:<stack>::<project>::<type>::<name>). */
export function stackOfUrn(urn: string): string {
    return urn.split(":")[2] ?? "";
}

/** Production stacks: the name is, starts or ends with prod/production (policy config productionStacks overrides). */
export const DEFAULT_PRODUCTION_STACKS = "^(prod|production)([-_.].*)?$|[-_.](prod|production)$";
