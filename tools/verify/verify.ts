// `npm run verify`: the pure part. Everything here is plain functions over text and objects (no SSH, no
// Pulumi), unit-tested in test/unit/verify.test.ts; tools/verify/run.ts does the I/O.
//
//   expectationsFor(model, deployment)  what each node should have: the stack's state (listing applied by
//                                       the last `up`, certificate installed) AND what the current config
//                                       implies (the ruleset rendered from it must equal the applied one)
//   parseTable / diffTables             nftables listings → named sets + chains; differences in words
//   probePlan / probeScript / parseProbeOutput
//                                       probes FROM each node, on each address family: TCP to its peers
//                                       (required + a sample of forbidden ports), UDP to the external
//                                       services its outbound list opens (NTP, SNMP traps, LDAP), with
//                                       bash's /dev/tcp and /dev/udp on the node
//   checkFirewall / checkCertificate / checkProbes → findings;   formatReport / reportJson
import { FIREWALL, FirewallState, WEB_SERVER, WebServerState } from "../../provider/schema";
import type { CheckedInputsOf } from "../../provider/schema-types";
import { X509Certificate } from "crypto";
import { expiryStatus, splitPemBundle } from "../../model/certificates";
import { addressesSeenBy, buildPolicy } from "../../model/policy";
import { parseCidr, parseIp } from "../../model/net";
import { expectedReachability } from "../../model/reachability";
import { ClusterModel, NodePolicy, NodeSpec, Protocol } from "../../model/types";
import { servesWeb } from "../../model/roles";
import { renderRuleset } from "../../render/nftables";
import { CERT_PATH, KEY_PATH, SITE_PATH } from "../../render/nginx";
const DEFAULT_CERT_PATH = CERT_PATH,
    DEFAULT_KEY_PATH = KEY_PATH,
    DEFAULT_SITE_PATH = SITE_PATH;

// ------------------------------------------------------------------------------------------ state

export const FIREWALL_TYPE = FIREWALL.token;
export const WEBSERVER_TYPE = WEB_SERVER.token;

type FirewallInputs = CheckedInputsOf<typeof FIREWALL>;

/** What verify reads of a resource in the state, besides declared outputs. */
interface StateIdentity {
    urn: string;
    id: string;
}

/** A pinhole:node:Firewall as the stack's state holds it (types from the provider's schema). */
export type StateFirewall = StateIdentity & Pick<FirewallState, "node" | "listing"> & Pick<FirewallInputs, "ruleset">;

/** A pinhole:node:WebServer as the stack's state holds it (types from the provider's schema). */
export interface StateWebServer
    extends
        StateIdentity,
        Pick<
            WebServerState,
            "node" | "fqdn" | "fingerprint" | "notAfter" | "certificateSha256" | "keySha256" | "siteSha256"
        > {
    /** Where the certificate, key and site file (certificate-only: pinhole's TLS drop-in) are on the node. */
    paths: { certificate: string; key: string; site: string };
    frontEnd?: "certificate-only" | "whole-site";
    /** certificate-only: every file pinhole wrote into the platform's nginx (certificate, key, drop-in, patched platform files) and its SHA-256. */
    files?: { path: string; sha256: string }[];
}

/** The paths and hashes of a WebServer's state in either front-end mode (certificate-only: from its plan). */
function webFiles(
    o: Record<string, unknown>,
): Pick<StateWebServer, "paths" | "certificateSha256" | "keySha256" | "siteSha256" | "frontEnd" | "files"> {
    const plan = o.plan as { certificatePath?: string; keyPath?: string } | undefined;
    if (o.frontEnd === "certificate-only" && plan?.certificatePath && plan.keyPath) {
        // `installed`: [{ path, sha256 }] as the install read them back from the node (provider/webserver-platform.ts).
        const files = (Array.isArray(o.installed) ? o.installed : [])
            .filter(
                (f): f is { path: string; sha256: string } =>
                    typeof f?.path === "string" && typeof f?.sha256 === "string",
            )
            .map((f) => ({ path: f.path, sha256: f.sha256 }));
        const shaOf = (p: string, fallback: unknown) => files.find((f) => f.path === p)?.sha256 ?? str(fallback);
        const site = str(o.tlsPath) || "/etc/nginx/conf.d/pinhole-tls.conf";
        return {
            paths: { certificate: plan.certificatePath, key: plan.keyPath, site },
            frontEnd: "certificate-only",
            files,
            certificateSha256: shaOf(plan.certificatePath, o.certificateSha256),
            keySha256: shaOf(plan.keyPath, o.keySha256),
            siteSha256: shaOf(site, o.siteSha256),
        };
    }
    const p = o.paths as StateWebServer["paths"] | undefined;
    return {
        paths: p?.certificate ? p : { certificate: CERT_PATH, key: KEY_PATH, site: SITE_PATH },
        certificateSha256: str(o.certificateSha256),
        keySha256: str(o.keySha256),
        siteSha256: str(o.siteSha256),
    };
}

interface DeploymentResource {
    urn?: string;
    id?: string;
    type?: string;
    outputs?: Record<string, unknown>;
    inputs?: Record<string, unknown>;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The firewall and web-server resources of an exported deployment (`pulumi stack export` / `stack.exportStack()`). */
export function resourcesFromDeployment(exported: unknown): {
    firewalls: Map<string, StateFirewall[]>;
    webServers: Map<string, StateWebServer[]>;
} {
    const e = exported as
        { deployment?: { resources?: DeploymentResource[] }; resources?: DeploymentResource[] } | undefined;
    const resources = e?.deployment?.resources ?? e?.resources ?? [];
    const firewalls = new Map<string, StateFirewall[]>();
    const webServers = new Map<string, StateWebServer[]>();
    const push = <T>(m: Map<string, T[]>, k: string, v: T) => m.set(k, [...(m.get(k) ?? []), v]);
    for (const r of resources) {
        const o = r.outputs ?? {};
        if (r.type === FIREWALL_TYPE) {
            // The ruleset is in the state's inputs (before the provider kept it there only, in both).
            push(firewalls, str(o.node), {
                node: str(o.node),
                urn: str(r.urn),
                id: str(r.id),
                ruleset: str(r.inputs?.ruleset ?? o.ruleset),
                listing: str(o.listing),
            });
        } else if (r.type === WEBSERVER_TYPE) {
            push(webServers, str(o.node), {
                node: str(o.node),
                urn: str(r.urn),
                id: str(r.id),
                fqdn: str(o.fqdn),
                fingerprint: str(o.fingerprint),
                notAfter: str(o.notAfter),
                ...webFiles(o),
            });
        }
    }
    return { firewalls, webServers };
}

// ------------------------------------------------------------------------------------------ findings

export type CheckKind = "state" | "ssh" | "firewall" | "certificate" | "probe";

export interface Finding {
    node: string;
    check: CheckKind;
    ok: boolean;
    /** Only for ok findings: worth reading (an expiry notice, a required port nobody listens on). */
    warning?: boolean;
    message: string;
}

const ok = (node: string, check: CheckKind, message: string, warning = false): Finding => ({
    node,
    check,
    ok: true,
    ...(warning ? { warning } : {}),
    message,
});
const fail = (node: string, check: CheckKind, message: string): Finding => ({ node, check, ok: false, message });

// ------------------------------------------------------------------------------------------ expectations

/** What verify expects on one node. */
export interface NodeExpectation {
    node: NodeSpec;
    policy: NodePolicy;
    /** The ruleset the current config implies (render/nftables.ts). */
    rendered: string;
    firewall?: StateFirewall;
    web?: StateWebServer;
    /** The node serves web (config): it must have a WebServer in the state. */
    servesWeb: boolean;
}

export interface Expectations {
    nodes: NodeExpectation[];
    /** Problems between config and state found before connecting anywhere. */
    findings: Finding[];
}

/**
 * Lines in which two texts differ (a small LCS line diff): what the config implies vs what was applied, for
 * the message that says "run pulumi up".
 */
export function changedLines(before: string, after: string): { removed: string[]; added: string[] } {
    const a = before.split("\n"),
        b = after.split("\n");
    const { onlyA, onlyB } = lcsSplit(a, b);
    return { removed: onlyA.map((i) => a[i]), added: onlyB.map((i) => b[i]) };
}

/** Indexes of a and b that are not part of a longest common subsequence. */
function lcsSplit(a: string[], b: string[]): { onlyA: number[]; onlyB: number[] } {
    const n = a.length,
        m = b.length;
    const dp: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--)
        for (let j = m - 1; j >= 0; j--)
            dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    const onlyA: number[] = [],
        onlyB: number[] = [];
    let i = 0,
        j = 0;
    while (i < n && j < m) {
        if (a[i] === b[j]) {
            i++;
            j++;
        } else if (dp[i + 1][j] >= dp[i][j + 1]) onlyA.push(i++);
        else onlyB.push(j++);
    }
    while (i < n) onlyA.push(i++);
    while (j < m) onlyB.push(j++);
    return { onlyA, onlyB };
}

const clip = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Joins config (model) and state (exported deployment): per node the rendered ruleset and the state's
 * resources. Reports, without connecting anywhere: nodes in the config with no firewall in the state, nodes
 * in the state that left the config, and rulesets the config implies that differ from the one applied
 * (a config change not yet `pulumi up`'d).
 */
export function expectationsFor(
    model: ClusterModel,
    exported: unknown,
    policies: NodePolicy[] = buildPolicy(model),
): Expectations {
    const { firewalls, webServers } = resourcesFromDeployment(exported);
    const findings: Finding[] = [];
    const nodes: NodeExpectation[] = [];
    const names = new Set(model.nodes.map((n) => n.name));
    for (const policy of policies) {
        const node = policy.node;
        const rendered = renderRuleset(policy, model.firewall);
        const fws = firewalls.get(node.name) ?? [];
        const webs = webServers.get(node.name) ?? [];
        const e: NodeExpectation = {
            node,
            policy,
            rendered,
            servesWeb: servesWeb(node.role),
            firewall: fws[0],
            web: webs[0],
        };
        nodes.push(e);
        if (fws.length > 1)
            findings.push(
                fail(
                    node.name,
                    "state",
                    `the state has ${fws.length} firewalls for this node (${fws.map((f) => f.urn).join(", ")})`,
                ),
            );
        if (!e.firewall) {
            findings.push(
                fail(
                    node.name,
                    "state",
                    "no firewall in the stack's state: this node has not been deployed yet (run pulumi up)",
                ),
            );
        } else if (e.firewall.ruleset !== rendered) {
            const d = changedLines(e.firewall.ruleset, rendered);
            const first = [...d.removed.map((l) => `- ${l.trim()}`), ...d.added.map((l) => `+ ${l.trim()}`)]
                .slice(0, 4)
                .map((l) => clip(l, 120));
            findings.push(
                fail(
                    node.name,
                    "state",
                    `the config implies a different ruleset than the one the last up applied ` +
                        `(${d.removed.length} line(s) removed, ${d.added.length} added; run pulumi preview --diff, then pulumi up): ${first.join(" | ")}`,
                ),
            );
        } else {
            findings.push(ok(node.name, "state", "the ruleset the config implies is the one the last up applied"));
        }
        if (e.servesWeb && !e.web)
            findings.push(
                fail(
                    node.name,
                    "state",
                    "serves web but has no web server (certificate) in the stack's state (run pulumi up)",
                ),
            );
        if (!e.servesWeb && e.web)
            findings.push(
                fail(
                    node.name,
                    "state",
                    `the state has a web server for this ${node.role} node (pending removal: run pulumi up)`,
                ),
            );
    }
    for (const [name, list] of firewalls) {
        if (!names.has(name))
            findings.push(
                fail(
                    name,
                    "state",
                    `the state has a firewall for ${name}, which is not in the config (pulumi up will remove it): ${list.map((f) => f.urn).join(", ")}`,
                ),
            );
    }
    for (const [name] of webServers) {
        if (!names.has(name))
            findings.push(
                fail(
                    name,
                    "state",
                    `the state has a web server for ${name}, which is not in the config (pulumi up will remove it)`,
                ),
            );
    }
    return { nodes, findings };
}

// ------------------------------------------------------------------------------------------ nftables listings

export interface ParsedSet {
    name: string;
    props: string[];
    elements: string[];
}
export interface ParsedChain {
    name: string;
    header: string[];
    rules: string[];
}
export interface ParsedTable {
    present: boolean;
    header: string;
    sets: Map<string, ParsedSet>;
    chains: Map<string, ParsedChain>;
    other: string[];
}

/** A normalised `nft -s list table inet pinhole` → sets (properties, elements) and chains (header, rules in order). */
export function parseTable(listing: string): ParsedTable {
    const t: ParsedTable = { present: false, header: "", sets: new Map(), chains: new Map(), other: [] };
    let set: ParsedSet | undefined;
    let chain: ParsedChain | undefined;
    let elements: string | undefined;
    for (const raw of listing.split("\n")) {
        const line = raw.trim();
        if (!line || line.startsWith("#")) continue;
        if (elements !== undefined) {
            elements += " " + line;
            if (line.endsWith("}")) {
                set!.elements.push(...splitElements(elements));
                elements = undefined;
            }
            continue;
        }
        let m: RegExpExecArray | null;
        if (!set && !chain && (m = /^table (\S+ \S+) \{$/.exec(line))) {
            t.present = true;
            t.header = m[1];
            continue;
        }
        if (!set && !chain && (m = /^set (\S+) \{$/.exec(line))) {
            set = { name: m[1], props: [], elements: [] };
            t.sets.set(m[1], set);
            continue;
        }
        if (!set && !chain && (m = /^chain (\S+) \{$/.exec(line))) {
            chain = { name: m[1], header: [], rules: [] };
            t.chains.set(m[1], chain);
            continue;
        }
        if (line === "}") {
            set = undefined;
            chain = undefined;
            continue;
        }
        if (set) {
            if (line.startsWith("elements = {")) {
                if (line.endsWith("}")) set.elements.push(...splitElements(line));
                else elements = line;
            } else set.props.push(line);
        } else if (chain) {
            if (/^type \S+ hook /.test(line)) chain.header.push(line);
            else chain.rules.push(line);
        } else t.other.push(line);
    }
    return t;
}

function splitElements(text: string): string[] {
    const inner = text.replace(/^elements = \{/, "").replace(/\}$/, "");
    return inner
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

export type DifferenceKind =
    | "table-missing"
    | "table-unexpected"
    | "set-missing"
    | "set-extra"
    | "set-property"
    | "element-missing"
    | "element-extra"
    | "chain-missing"
    | "chain-extra"
    | "chain-header"
    | "rule-missing"
    | "rule-extra"
    | "rule-moved"
    | "other";

export interface Difference {
    kind: DifferenceKind;
    /** "chain input", "set peers_1_v4", "table" */
    where: string;
    /** The rule, element, property or header concerned. */
    text: string;
    /** Live value when a header/property differs. */
    live?: string;
}

/**
 * What differs between the expected listing (the state's, or what the config implies) and the live one, in
 * nftables terms: extra/missing rules per chain (rule order matters: a rule found at another position is
 * "moved"), extra/missing set elements, changed chain policies or set properties, a missing table.
 */
export function diffTables(expected: string, live: string): Difference[] {
    const e = parseTable(expected),
        l = parseTable(live);
    const out: Difference[] = [];
    if (e.present && !l.present)
        return [{ kind: "table-missing", where: "table", text: `table ${e.header || "inet pinhole"}` }];
    if (!e.present && l.present) return [{ kind: "table-unexpected", where: "table", text: `table ${l.header}` }];
    for (const [name, es] of e.sets) {
        const ls = l.sets.get(name);
        if (!ls) {
            out.push({
                kind: "set-missing",
                where: `set ${name}`,
                text: `set ${name} (${es.elements.length} element(s))`,
            });
            continue;
        }
        const lp = new Set(ls.props),
            ep = new Set(es.props);
        for (const p of es.props)
            if (!lp.has(p))
                out.push({
                    kind: "set-property",
                    where: `set ${name}`,
                    text: p,
                    live: ls.props.filter((x) => !ep.has(x)).join("; ") || "(none)",
                });
        for (const p of ls.props)
            if (!ep.has(p) && !es.props.some((x) => x.split(" ")[0] === p.split(" ")[0]))
                out.push({ kind: "set-property", where: `set ${name}`, text: "(none)", live: p });
        const le = new Set(ls.elements),
            ee = new Set(es.elements);
        for (const x of es.elements)
            if (!le.has(x)) out.push({ kind: "element-missing", where: `set ${name}`, text: x });
        for (const x of ls.elements) if (!ee.has(x)) out.push({ kind: "element-extra", where: `set ${name}`, text: x });
    }
    for (const [name, ls] of l.sets)
        if (!e.sets.has(name))
            out.push({
                kind: "set-extra",
                where: `set ${name}`,
                text: `set ${name} (${ls.elements.length} element(s))`,
            });
    for (const [name, ec] of e.chains) {
        const lc = l.chains.get(name);
        if (!lc) {
            out.push({
                kind: "chain-missing",
                where: `chain ${name}`,
                text: `chain ${name} (${ec.rules.length} rule(s))`,
            });
            continue;
        }
        if (ec.header.join("; ") !== lc.header.join("; "))
            out.push({
                kind: "chain-header",
                where: `chain ${name}`,
                text: ec.header.join("; "),
                live: lc.header.join("; "),
            });
        const { onlyA, onlyB } = lcsSplit(ec.rules, lc.rules);
        const missing = onlyA.map((i) => ec.rules[i]);
        const extra = onlyB.map((i) => lc.rules[i]);
        const moved = new Set(missing.filter((r) => extra.includes(r)));
        for (const r of missing) if (!moved.has(r)) out.push({ kind: "rule-missing", where: `chain ${name}`, text: r });
        for (const [k, r] of extra.entries()) {
            if (moved.has(r))
                out.push({
                    kind: "rule-moved",
                    where: `chain ${name}`,
                    text: r,
                    live: `position ${lc.rules.indexOf(r) + 1}`,
                });
            else out.push({ kind: "rule-extra", where: `chain ${name}`, text: r, live: `position ${onlyB[k] + 1}` });
        }
    }
    for (const [name, lc] of l.chains)
        if (!e.chains.has(name))
            out.push({
                kind: "chain-extra",
                where: `chain ${name}`,
                text: `chain ${name} (${lc.header.join("; ") || "no hook"}, ${lc.rules.length} rule(s))`,
            });
    const lo = new Set(l.other),
        eo = new Set(e.other);
    for (const x of e.other) if (!lo.has(x)) out.push({ kind: "other", where: "table", text: `missing: ${x}` });
    for (const x of l.other) if (!eo.has(x)) out.push({ kind: "other", where: "table", text: `extra: ${x}` });
    return out;
}

/** One difference as an operator reads it: "live table has an extra rule: tcp dport 3306 accept (chain input, position 1)". */
export function describeDifference(d: Difference): string {
    switch (d.kind) {
        case "table-missing":
            return "pinhole's table is missing from the live ruleset (the node has no pinhole firewall)";
        case "table-unexpected":
            return "the live ruleset has a pinhole table that the state does not expect";
        case "set-missing":
            return `live table is missing ${d.text}`;
        case "set-extra":
            return `live table has an extra ${d.text}`;
        case "set-property":
            return `${d.where} differs: expected "${d.text}", live "${d.live}"`;
        case "element-missing":
            return `live ${d.where} is missing element ${d.text}`;
        case "element-extra":
            return `live ${d.where} has an extra element: ${d.text}`;
        case "chain-missing":
            return `live table is missing ${d.text}`;
        case "chain-extra":
            return `live table has an extra ${d.text}`;
        case "chain-header":
            return `${d.where} differs: expected "${d.text}", live "${d.live}"`;
        case "rule-missing":
            return `live table is missing a rule: ${d.text} (${d.where})`;
        case "rule-extra":
            return `live table has an extra rule: ${d.text} (${d.where}, ${d.live})`;
        case "rule-moved":
            return `a rule is in another position than applied: ${d.text} (${d.where}, now ${d.live})`;
        default:
            return `live table differs: ${d.text}`;
    }
}

// ------------------------------------------------------------------------------------------ firewall check

export interface LiveFirewall {
    /** Normalised `nft -s list table inet pinhole` ("" when the table is absent). */
    listing: string;
    /** Owner marker on the node (the Firewall resource id that applied it). */
    owner: string;
    /** A ruleset is persisted for boot. */
    persisted: boolean;
    /** What the last boot loaded (remote/firewall-scripts.ts loaderScript); absent or "" when unknown. */
    boot?: string;
}

/** Live table vs the state's listing (and, via expectationsFor, vs what the config implies). */
export function checkFirewall(e: NodeExpectation, live: LiveFirewall): Finding[] {
    const name = e.node.name;
    if (!e.firewall) {
        if (live.listing.trim())
            return [
                fail(name, "firewall", "the node has a pinhole table, but the stack's state has no firewall for it"),
            ];
        return [];
    }
    const out: Finding[] = [];
    const diffs = diffTables(e.firewall.listing, live.listing);
    for (const d of diffs) out.push(fail(name, "firewall", describeDifference(d)));
    if (diffs.length === 0)
        out.push(
            ok(
                name,
                "firewall",
                `live table matches the state (${parseTable(live.listing).chains.size} chain(s), ${[...parseTable(live.listing).chains.values()].reduce((a, c) => a + c.rules.length, 0)} rules)`,
            ),
        );
    if (live.listing.trim() && live.owner && e.firewall.id && live.owner !== e.firewall.id) {
        out.push(
            fail(
                name,
                "firewall",
                `the table on the node belongs to another resource (${live.owner}), not this stack's ${e.firewall.id}`,
            ),
        );
    }
    if (live.boot === "failsafe")
        out.push(
            fail(
                name,
                "firewall",
                "at the last boot /etc/pinhole/firewall.nft did not load: the node runs the management-only fail-safe ruleset (only management SSH is open); run `pulumi up` to restore the ruleset",
            ),
        );
    if (live.boot === "failed")
        out.push(
            fail(
                name,
                "firewall",
                "at the last boot neither /etc/pinhole/firewall.nft nor the fail-safe ruleset loaded: the node may be open; run `pulumi up`",
            ),
        );
    if (live.listing.trim() && !live.persisted)
        out.push(
            fail(
                name,
                "firewall",
                "the ruleset is not persisted for boot (/etc/pinhole/firewall.nft missing): a reboot would come up without it",
            ),
        );
    return out;
}

// ------------------------------------------------------------------------------------------ certificate check

export interface LiveWeb {
    owner: string;
    /** sha256 hex of the files, or "absent". */
    certSha: string;
    keySha: string;
    siteSha: string;
    /** Octal mode of the key file, or "absent". */
    keyMode: string;
    /** SHA-256 fingerprint nginx served on 127.0.0.1:443 ("AB:CD..."), "no-openssl", or "" (nothing served). */
    served: string;
    /** The certificate file nginx serves (public). */
    certPem: string;
    /** certificate-only: SHA-256 (or "absent") of each file the state lists (inspectScript's `file=` lines). */
    files?: Record<string, string>;
}

export interface CertificateFacts {
    fingerprint: string;
    notBefore: string;
    notAfter: string;
    dnsNames: string[];
    subject: string;
}

export function certificateFacts(pem: string): CertificateFacts | undefined {
    const leaf = splitPemBundle(pem)[0];
    if (!leaf) return undefined;
    try {
        const c = new X509Certificate(leaf);
        const dnsNames = (c.subjectAltName ?? "")
            .split(/,\s*/)
            .filter((s) => s.startsWith("DNS:"))
            .map((s) => s.slice(4));
        return {
            fingerprint: c.fingerprint256,
            notBefore: new Date(Date.parse(c.validFrom)).toISOString(),
            notAfter: new Date(Date.parse(c.validTo)).toISOString(),
            dnsNames,
            subject: c.subject.replace(/\n/g, ", "),
        };
    } catch {
        return undefined;
    }
}

/** Output of remote/webserver-scripts.ts inspectScript followed by "--- cert" and the certificate file. */
export function parseWebInspect(stdout: string): LiveWeb {
    const [head, cert = ""] = stdout.split("--- cert\n");
    const field = (k: string) => new RegExp(`^${k.replace(/\./g, "\\.")}=(.*)$`, "m").exec(head)?.[1]?.trim() ?? "";
    return {
        owner: field("owner"),
        certSha: field("sha.cert") || "absent",
        keySha: field("sha.key") || "absent",
        siteSha: field("sha.site") || "absent",
        keyMode: field("keymode") || "absent",
        served: field("served"),
        certPem: cert,
        ...(/^file=/m.test(head)
            ? { files: Object.fromEntries([...head.matchAll(/^file=(\S+) (.+)$/gm)].map((m) => [m[2], m[1]])) }
            : {}),
    };
}

const DAY = 86_400_000;

/** Whether `name` is covered by a SAN DNS entry (one-label wildcards allowed). */
function nameMatches(name: string, san: string): boolean {
    if (san.toLowerCase() === name.toLowerCase()) return true;
    if (!san.startsWith("*.")) return false;
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot + 1).toLowerCase() === san.slice(2).toLowerCase();
}

/**
 * The installed certificate (the file nginx serves, its key and site config, and what nginx actually serves)
 * vs the state's WebServer; plus the node's name in the certificate and its expiry (failure once expired,
 * a warning inside renewBeforeDays).
 */
export function checkCertificate(
    e: Pick<NodeExpectation, "node" | "web">,
    live: LiveWeb,
    opts: { renewBeforeDays: number; renewBeforeExplicit?: boolean; now?: Date },
): Finding[] {
    const name = e.node.name;
    const w = e.web;
    if (!w) return [];
    const {
        certificate: CERT_PATH,
        key: KEY_PATH,
        site: SITE_PATH,
    } = w.paths ?? { certificate: DEFAULT_CERT_PATH, key: DEFAULT_KEY_PATH, site: DEFAULT_SITE_PATH };
    const out: Finding[] = [];
    if (live.certSha === "absent" || !live.certPem.trim())
        return [fail(name, "certificate", `no certificate installed at ${CERT_PATH}`)];
    const facts = certificateFacts(live.certPem);
    if (!facts) return [fail(name, "certificate", `${CERT_PATH} holds no readable certificate`)];
    const short = (f: string) => f.replace(/:/g, "").slice(0, 16).toLowerCase();
    if (live.certSha !== w.certificateSha256 || facts.fingerprint !== w.fingerprint) {
        out.push(
            fail(
                name,
                "certificate",
                `the installed certificate differs from the state: live ${short(facts.fingerprint)}… (${facts.subject}, expires ${facts.notAfter.slice(0, 10)}), state ${short(w.fingerprint)}… (expires ${w.notAfter.slice(0, 10)})`,
            ),
        );
    }
    if (live.keySha === "absent") out.push(fail(name, "certificate", `no private key at ${KEY_PATH}`));
    else if (live.keySha !== w.keySha256)
        out.push(fail(name, "certificate", `the installed private key ${KEY_PATH} differs from the state`));
    if (live.keyMode !== "absent" && live.keyMode !== "600")
        out.push(fail(name, "certificate", `the private key ${KEY_PATH} has mode ${live.keyMode} (expected 600)`));
    if (live.siteSha === "absent") out.push(fail(name, "certificate", `no nginx site config at ${SITE_PATH}`));
    else if (live.siteSha !== w.siteSha256)
        out.push(fail(name, "certificate", `the nginx site config ${SITE_PATH} differs from the state`));
    if (live.served && live.served !== "no-openssl" && live.served !== w.fingerprint) {
        out.push(
            fail(
                name,
                "certificate",
                `nginx serves another certificate (${short(live.served)}…) than the state's (${short(w.fingerprint)}…): reload pending or another front end`,
            ),
        );
    } else if (!live.served) {
        out.push(fail(name, "certificate", "nginx serves nothing on 127.0.0.1:443"));
    }
    // certificate-only: the platform files pinhole patched (TLS take-over, upstream weights) as it left them.
    const own = new Set([CERT_PATH, KEY_PATH, SITE_PATH]);
    for (const f of (w.files ?? []).filter((x) => !own.has(x.path))) {
        const got = live.files?.[f.path] ?? "absent";
        if (got === "absent")
            out.push(fail(name, "certificate", `the platform file ${f.path} pinhole patched is missing`));
        else if (got !== f.sha256)
            out.push(
                fail(
                    name,
                    "certificate",
                    `the platform file ${f.path} pinhole patched differs from the state (edited since the last up?)`,
                ),
            );
    }
    if (live.owner && w.id && live.owner !== w.id)
        out.push(
            fail(
                name,
                "certificate",
                `the web front end belongs to another resource (${live.owner}), not this stack's ${w.id}`,
            ),
        );
    if (!facts.dnsNames.some((d) => nameMatches(e.node.fqdn, d))) {
        out.push(
            fail(
                name,
                "certificate",
                `the certificate does not carry the node's network name ${e.node.fqdn} (SAN: ${facts.dnsNames.join(", ") || "none"})`,
            ),
        );
    }
    const now = (opts.now ?? new Date()).getTime();
    const to = Date.parse(facts.notAfter);
    const days = Math.floor((to - now) / DAY);
    // The same window as preview and the outputs (30 days, a third of the lifetime for short-lived certificates):
    // inside it verify fails, so its exit status tells a scheduler that `pulumi up` (or a new bundle) is due.
    const expiry = expiryStatus(
        facts.notBefore,
        facts.notAfter,
        opts.renewBeforeDays,
        opts.renewBeforeExplicit,
        new Date(now),
    );
    if (expiry.state === "expired")
        out.push(
            fail(
                name,
                "certificate",
                `WEB CERT EXPIRED AT: ${facts.notAfter.replace("T", " ").replace(/\.\d+Z$/, "")} UTC`,
            ),
        );
    else if (expiry.state === "notice")
        out.push(
            fail(
                name,
                "certificate",
                `WEB CERT EXPIRES AT: ${facts.notAfter.replace("T", " ").replace(/\.\d+Z$/, "")} UTC (in ${days} days; notice window ${expiry.windowDays} days): run pulumi up (pinhole-issued) or install the renewed bundle`,
            ),
        );
    if (!out.some((f) => !f.ok))
        out.push(
            ok(
                name,
                "certificate",
                `installed certificate matches the state (${short(facts.fingerprint)}…, expires ${facts.notAfter.slice(0, 10)}, in ${days} days)`,
            ),
        );
    return out;
}

// ------------------------------------------------------------------------------------------ probes

export interface ProbeTarget {
    from: string;
    to: string;
    /** The address `from` uses for `to` (advertised across NAT'd sites). */
    address: string;
    port: number;
    /** Default tcp. UDP probes go to external services (an answer, or at least no local refusal). */
    protocol?: Protocol;
    expect: "open" | "blocked";
    /** The policy's reason (allowed) or why nothing allows it. */
    why: string;
}

/** Ports tried, in this order, as the "forbidden" sample of each pair (the first N the policy denies). */
export const FORBIDDEN_CANDIDATES: readonly number[] = [
    22, 27017, 8443, 443, 27030, 3306, 27019, 27020, 5432, 9000, 10050, 80,
];

/**
 * What to probe FROM each node (TCP): every port the policy opens to it on each peer, and the first
 * `forbiddenPerPeer` ports of FORBIDDEN_CANDIDATES that the policy denies between them.
 */
export function probePlan(
    model: ClusterModel,
    policies: NodePolicy[],
    opts: { forbiddenPerPeer?: number; from?: string[] } = {},
): ProbeTarget[] {
    const reach = expectedReachability(model, policies);
    const k = opts.forbiddenPerPeer ?? 3;
    const byName = new Map(model.nodes.map((n) => [n.name, n]));
    const targets: ProbeTarget[] = [];
    for (const from of model.nodes) {
        if (opts.from && !opts.from.includes(from.name)) continue;
        const fromFamilies = new Set(addressesSeenBy(from, from).map(familyOfAddress));
        for (const to of policies) {
            if (to.node.name === from.name) continue;
            // each address family both ends have (dual-stack: the same ports on IPv4 and IPv6)
            const addresses = addressesSeenBy(from, byName.get(to.node.name)!).filter((a) =>
                fromFamilies.has(familyOfAddress(a)),
            );
            const required = [
                ...new Set(
                    to.inbound
                        .filter((o) => o.protocol === "tcp" && o.peer.kind === "node" && o.peer.name === from.name)
                        .map((o) => o.port),
                ),
            ].sort((a, b) => a - b);
            for (const address of addresses) {
                const family = familyOfAddress(address);
                for (const port of required) {
                    const v = reach.between({ from: from.name, to: to.node.name, protocol: "tcp", port, family });
                    targets.push({
                        from: from.name,
                        to: to.node.name,
                        address,
                        port,
                        expect: v.allowed ? "open" : "blocked",
                        why: v.reason,
                    });
                }
                let n = 0;
                for (const port of FORBIDDEN_CANDIDATES) {
                    if (n >= k) break;
                    if (required.includes(port)) continue;
                    const v = reach.between({ from: from.name, to: to.node.name, protocol: "tcp", port, family });
                    if (v.allowed) continue;
                    targets.push({
                        from: from.name,
                        to: to.node.name,
                        address,
                        port,
                        expect: "blocked",
                        why: v.reason,
                    });
                    n++;
                }
            }
        }
        targets.push(
            ...udpExternalTargets(
                policies.find((p) => p.node.name === from.name)!,
                fromFamilies,
            ),
        );
    }
    return targets;
}

const familyOfAddress = (a: string): 4 | 6 => (a.includes(":") ? 6 : 4);

/**
 * UDP probes from a node to the external services its outbound list opens on UDP (NTP, SNMP traps, LDAP):
 * one per host address (a network entry has no single host to ask) of each family the node has.
 */
export function udpExternalTargets(policy: NodePolicy, families: Set<4 | 6>): ProbeTarget[] {
    const out: ProbeTarget[] = [];
    for (const o of policy.outbound) {
        if (o.protocol !== "udp" || o.peer.kind !== "external") continue;
        for (const a of o.peer.addresses) {
            const c = parseCidr(a);
            const host = parseIp(a)
                ? a
                : c.ok && c.cidr.prefix === (c.cidr.family === 4 ? 32 : 128)
                  ? a.split("/")[0]
                  : undefined;
            if (!host || !families.has(familyOfAddress(host))) continue;
            if (out.some((t) => t.address === host && t.port === o.port)) continue;
            out.push({
                from: policy.node.name,
                to: o.peer.name,
                address: host,
                port: o.port,
                protocol: "udp",
                expect: "open",
                why: o.reason,
            });
        }
    }
    return out;
}

/**
 * The script run on a node: POSIX sh that hands a bash program to bash (nothing beyond bash is assumed on the
 * node). Every probe is a forked subshell (no exec: cheap even for hundreds of probes on a busy node) opening
 * bash's /dev/tcp/<host>/<port> itself; after `timeoutSeconds` the ones still connecting are killed (nothing is
 * left behind on the node) and count as timed out. Prints "<index> <open|refused|eperm|unreach|error> [detail]" per finished probe, then
 * "probes-done"; a probe without a line timed out.
 */
export function probeScript(
    targets: { address: string; port: number; protocol?: Protocol }[],
    opts: { timeoutSeconds?: number } = {},
): string {
    const t = opts.timeoutSeconds ?? 2;
    const probes = targets
        .map((x, i) => `${x.protocol === "udp" ? "u" : "p"} ${i} ${x.address} ${x.port} &`)
        .join("\n");
    const readSeconds = Math.max(0.2, t - 0.3).toFixed(1);
    return `PATH=/usr/sbin:/usr/bin:/sbin:/bin
command -v bash >/dev/null 2>&1 || { echo "bash not found on this node (verify probes with bash's /dev/tcp)" >&2; exit 40; }
exec bash -c '
D=$(mktemp -d) || exit 42
trap "rm -rf \\$D" EXIT
p() {
  if { exec 3<>"/dev/tcp/$2/$3"; } 2>"$D/$1"; then echo "$1 open"; return; fi
  why "$1"
}
# UDP: an NTP client request (48 bytes, mode 3; any echo service answers it too); a reply is "open", an ICMP
# port-unreachable "refused", a local EPERM the egress filter; no answer before the read timeout: no line.
u() {
  { exec 3<>"/dev/udp/$2/$3"; } 2>"$D/$1" || { why "$1"; return; }
  { printf "\\033\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000" >&3; } 2>"$D/$1" || { why "$1"; return; }
  if IFS= read -r -t ${readSeconds} -N 1 _ <&3 2>"$D/$1"; then echo "$1 open"; return; fi
  [ -s "$D/$1" ] && why "$1"
}
why() {
  err=$(cat "$D/$1")
  case "$err" in
    *refused*) echo "$1 refused" ;;
    *"not permitted"*) echo "$1 eperm" ;;
    *"No route"*|*unreachable*) echo "$1 unreach" ;;
    *) echo "$1 error $(printf %s "$err" | tr "\\n" " " | cut -c1-120)" ;;
  esac
}
${probes.replace(/'/g, "")}
end=$(( $(date +%s%N) / 1000000 + ${Math.round(t * 1000)} ))
while [ -n "$(jobs -rp)" ] && [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do sleep 0.05; done
kill $(jobs -rp) 2>/dev/null
echo probes-done
'
`;
}

export type ProbeOutcome = "open" | "refused" | "timeout" | "eperm" | "unreach" | "error" | "not-run";

/** "<index> <outcome> [detail]" lines → outcome per target index (no line: timeout, or not-run without "probes-done"). */
export function parseProbeOutput(stdout: string, count: number): { outcome: ProbeOutcome; detail?: string }[] {
    const out: { outcome: ProbeOutcome; detail?: string }[] = Array.from({ length: count }, () => ({
        outcome: "not-run" as ProbeOutcome,
    }));
    for (const line of stdout.split("\n")) {
        const m = /^(\d+) (open|refused|timeout|eperm|unreach|error)(?: (.*))?$/.exec(line.trim());
        if (!m) continue;
        const i = Number(m[1]);
        if (i < count) out[i] = { outcome: m[2] as ProbeOutcome, ...(m[3] ? { detail: m[3] } : {}) };
    }
    // The script ran to its end: a probe that printed nothing was still connecting at the deadline.
    if (/^probes-done$/m.test(stdout)) for (const o of out) if (o.outcome === "not-run") o.outcome = "timeout";
    return out;
}

export interface ProbeResultRow extends ProbeTarget {
    outcome: ProbeOutcome;
    ok: boolean;
    detail?: string;
}

/**
 * Required port: pass when the connection is accepted (a "refused" also passes: the firewall let it through,
 * nothing listens: a warning). Forbidden port: pass when the packet is dropped (timeout) or the source's own
 * egress filter refuses it (EPERM); "open" or "refused" means it got through the destination's firewall.
 */
export function judgeProbe(t: ProbeTarget, outcome: ProbeOutcome, detail?: string): ProbeResultRow {
    // UDP to an external service: one that never answers (a trap receiver) times out; only a local refusal
    // (EPERM: this node's egress filter) or an unreachable proves the opening missing.
    const udpSilence = t.protocol === "udp" && t.expect === "open" && outcome === "timeout";
    const passed =
        t.expect === "open"
            ? outcome === "open" || outcome === "refused" || udpSilence
            : outcome === "timeout" || outcome === "eperm";
    return { ...t, outcome, ok: passed, ...(detail ? { detail } : {}) };
}

export function probeFindings(rows: ProbeResultRow[]): Finding[] {
    const out: Finding[] = [];
    for (const r of rows) {
        const what = `${r.from} → ${r.to} (${r.address}) ${r.port}/${r.protocol ?? "tcp"}`;
        if (!r.ok) {
            const seen =
                r.outcome === "timeout"
                    ? "filtered (timed out)"
                    : r.outcome === "eperm"
                      ? "blocked by the source's egress filter"
                      : r.outcome === "not-run"
                        ? "not probed (the session failed)"
                        : r.outcome + (r.detail ? ` ${r.detail}` : "");
            out.push(
                fail(
                    r.from,
                    "probe",
                    r.expect === "open"
                        ? `${what}: required but ${seen} — ${r.why}`
                        : `${what}: forbidden but reachable (${seen}) — ${r.why}`,
                ),
            );
        } else if (r.expect === "open" && r.outcome === "refused") {
            out.push(
                ok(
                    r.from,
                    "probe",
                    `${what}: the firewall lets it through but nothing listens (refused) — ${r.why}`,
                    true,
                ),
            );
        } else if (r.expect === "open" && r.outcome === "timeout") {
            out.push(
                ok(
                    r.from,
                    "probe",
                    `${what}: sent (this node's egress filter let it out) but no answer — ${r.why}`,
                    true,
                ),
            );
        }
    }
    return out;
}

// ------------------------------------------------------------------------------------------ report

export interface VerifyReport {
    stack: string;
    checkedAt: string;
    nodes: string[];
    findings: Finding[];
    probes: ProbeResultRow[];
    /** Wall time of the whole verification. */
    ms: number;
}

export interface VerifyCounts {
    pass: number;
    fail: number;
    warnings: number;
    byCheck: Record<CheckKind, { pass: number; fail: number }>;
}

export function countFindings(r: Pick<VerifyReport, "findings" | "probes">): VerifyCounts {
    const byCheck = {
        state: { pass: 0, fail: 0 },
        ssh: { pass: 0, fail: 0 },
        firewall: { pass: 0, fail: 0 },
        certificate: { pass: 0, fail: 0 },
        probe: { pass: 0, fail: 0 },
    };
    for (const f of r.findings) {
        if (f.check === "probe") continue; // counted per probe below
        if (f.warning) continue;
        byCheck[f.check][f.ok ? "pass" : "fail"]++;
    }
    for (const p of r.probes) byCheck.probe[p.ok ? "pass" : "fail"]++;
    const pass = Object.values(byCheck).reduce((a, c) => a + c.pass, 0);
    const failCount = Object.values(byCheck).reduce((a, c) => a + c.fail, 0);
    return { pass, fail: failCount, warnings: r.findings.filter((f) => f.warning).length, byCheck };
}

export function reportOk(r: VerifyReport): boolean {
    return !r.findings.some((f) => !f.ok) && r.probes.every((p) => p.ok);
}

/** From × to matrix of probe results: "ok 5" when every probe of the pair passed, "FAIL 2/5" otherwise. */
export function formatProbeMatrix(nodes: string[], rows: ProbeResultRow[]): string {
    const cell = new Map<string, { n: number; bad: number }>();
    for (const r of rows) {
        const k = `${r.from}|${r.to}`;
        const c = cell.get(k) ?? { n: 0, bad: 0 };
        c.n++;
        if (!r.ok) c.bad++;
        cell.set(k, c);
    }
    const from = nodes.filter((n) => rows.some((r) => r.from === n));
    const header = ["FROM \\ TO", ...nodes];
    const table = [
        header,
        ...from.map((f) => [
            f,
            ...nodes.map((t) => {
                if (t === f) return "-";
                const c = cell.get(`${f}|${t}`);
                return !c ? "" : c.bad ? `FAIL ${c.bad}/${c.n}` : `ok ${c.n}`;
            }),
        ]),
    ];
    const w = header.map((_, i) => Math.max(...table.map((r) => r[i].length)));
    return table
        .map((r) =>
            r
                .map((c, i) => c.padEnd(w[i]))
                .join("  ")
                .trimEnd(),
        )
        .join("\n");
}

/** The human report: per node firewall / certificate lines, the probe matrix, every failure, the counts. */
export function formatReport(r: VerifyReport, opts: { verbose?: boolean } = {}): string {
    const L: string[] = [];
    const c = countFindings(r);
    L.push(`pinhole verify: stack ${r.stack}, ${r.nodes.length} node(s), ${r.checkedAt}`);
    L.push("");
    const perNode = (node: string, check: CheckKind) =>
        r.findings.filter((f) => f.node === node && f.check === check && !f.warning);
    const status = (fs: Finding[]) =>
        fs.length === 0 ? "-" : fs.every((f) => f.ok) ? "ok" : `FAIL (${fs.filter((f) => !f.ok).length})`;
    const rows = [["NODE", "STATE", "SSH", "FIREWALL", "CERTIFICATE", "PROBES"]];
    for (const n of r.nodes) {
        const probes = r.probes.filter((p) => p.from === n);
        const bad = probes.filter((p) => !p.ok).length;
        rows.push([
            n,
            status(perNode(n, "state")),
            status(perNode(n, "ssh")),
            status(perNode(n, "firewall")),
            status(perNode(n, "certificate")),
            probes.length ? (bad ? `FAIL ${bad}/${probes.length}` : `ok ${probes.length}`) : "-",
        ]);
    }
    const extraNodes = [...new Set(r.findings.map((f) => f.node))].filter((n) => !r.nodes.includes(n));
    for (const n of extraNodes) rows.push([n, status(perNode(n, "state")), "-", "-", "-", "-"]);
    const w = rows[0].map((_, i) => Math.max(...rows.map((x) => x[i].length)));
    L.push(
        ...rows.map((x) =>
            x
                .map((s, i) => s.padEnd(w[i]))
                .join("  ")
                .trimEnd(),
        ),
    );
    if (r.probes.length) {
        L.push(
            "",
            `probes from each node (TCP, bash /dev/tcp): required ports must connect, sampled forbidden ports must be dropped`,
        );
        L.push(formatProbeMatrix(r.nodes, r.probes));
    }
    const failures = r.findings.filter((f) => !f.ok);
    const warnings = r.findings.filter((f) => f.warning);
    if (warnings.length) {
        L.push("", "warnings:");
        for (const f of warnings) L.push(`  ${f.node}: ${f.message}`);
    }
    if (failures.length) {
        L.push("", "FAILURES:");
        for (const f of failures) L.push(`  ${f.node}: ${f.message}`);
    }
    if (opts.verbose) {
        L.push("", "passed:");
        for (const f of r.findings.filter((x) => x.ok && !x.warning)) L.push(`  ${f.node}: [${f.check}] ${f.message}`);
    }
    const parts = (Object.entries(c.byCheck) as [CheckKind, { pass: number; fail: number }][])
        .filter(([, v]) => v.pass + v.fail > 0)
        .map(([k, v]) => `${k} ${v.pass}/${v.pass + v.fail}`);
    L.push(
        "",
        `${reportOk(r) ? "PASS" : "FAIL"}: ${c.pass} passed, ${c.fail} failed${c.warnings ? `, ${c.warnings} warning(s)` : ""} (${parts.join(", ")}) in ${(r.ms / 1000).toFixed(1)} s`,
    );
    return L.join("\n") + "\n";
}

export function reportJson(r: VerifyReport): string {
    return JSON.stringify({ ok: reportOk(r), ...r, counts: countFindings(r) }, null, 2) + "\n";
}
