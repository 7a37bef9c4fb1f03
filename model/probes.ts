// What to probe after an apply, and how to judge what a probe saw. Pure: no I/O. Used by the proof that
// `pulumi up` runs (provider/proof.ts) and by `npm run verify`; remote/probe-script.ts runs the probes on a node.
//
//   probePlan(model, flows)  from each node, on each address family both ends have:
//                            - every required flow to another node (TCP and UDP), and UDP to external services
//                            - a sample of must-deny (protocol, port) pairs between nodes: per peer (verify's
//                              `--forbidden N`), or bounded and deterministic (the proof: every port class at
//                              least once per family, plus a few per source node)
//   judgeProbe(target, outcome)  pass / fail / warning

import { ClusterModel, NodePolicy, Protocol } from "./types";
import { Flow, addressesSeenBy, policyFromFlows } from "./policy";
import { parseCidr, parseIp } from "./net";
import { expectedReachability, Reachability } from "./reachability";

export interface ProbeTarget {
    from: string;
    to: string;
    /** The address `from` uses for `to` (advertised across NAT'd sites). */
    address: string;
    port: number;
    /** Default tcp. */
    protocol?: Protocol;
    expect: "open" | "blocked";
    /** The policy's reason (allowed) or why nothing allows it. */
    why: string;
}

/** Ports tried, in this order, as the "forbidden" sample of each pair (the first N the policy denies). */
export const FORBIDDEN_CANDIDATES: readonly number[] = [
    22, 27017, 8443, 443, 27030, 3306, 27019, 27020, 5432, 9000, 10050, 80,
];

export interface ProbePlanOptions {
    /** Only these source nodes. */
    from?: string[];
    /** Per (source, peer, family): the first N ports of FORBIDDEN_CANDIDATES the policy denies (default 3). */
    forbiddenPerPeer?: number;
    /**
     * Instead of forbiddenPerPeer: a bounded deterministic sample of must-deny probes: each port class (every
     * protocol/port some flow opens on a node, and FORBIDDEN_CANDIDATES on TCP) once per address family where the
     * policy denies it between two nodes, plus up to `perNode` more from each source node.
     */
    denySample?: { perNode: number };
}

export const familyOfAddress = (a: string): 4 | 6 => (a.includes(":") ? 6 : 4);

/** 32-bit FNV-1a: a stable, platform-independent order for sampling. */
export function fnv1a(text: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
        h ^= text.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
}

/** Every required flow from node `from` to other nodes, as probe targets on each family both ends have. */
function requiredTargets(flows: readonly Flow[], from: string, families: Set<4 | 6>): ProbeTarget[] {
    const out: ProbeTarget[] = [];
    const own = flows.filter(
        (f) => f.from.kind === "node" && f.from.name === from && f.to.kind === "node" && f.to.name !== from,
    );
    own.sort((a, b) => cmp(a.to.name, b.to.name) || a.port - b.port || cmp(a.protocol, b.protocol));
    for (const f of own) {
        for (const address of f.to.addresses.filter((a) => families.has(familyOfAddress(a)))) {
            const t: ProbeTarget = {
                from,
                to: f.to.name,
                address,
                port: f.port,
                expect: "open",
                why: `${f.port}/${f.protocol} ${from} to ${f.to.name}: ${f.why}`,
            };
            if (f.protocol === "udp") t.protocol = "udp";
            out.push(t);
        }
    }
    return out;
}

function cmp(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * UDP probes from a node to the external services its flows open on UDP (NTP, SNMP traps, LDAP): one per host
 * address (a network entry has no single host to ask) of each family the node has.
 */
export function udpExternalTargets(flows: readonly Flow[], from: string, families: Set<4 | 6>): ProbeTarget[] {
    const out: ProbeTarget[] = [];
    for (const f of flows) {
        if (f.protocol !== "udp" || f.from.kind !== "node" || f.from.name !== from || f.to.kind !== "external")
            continue;
        for (const a of f.to.addresses) {
            const c = parseCidr(a);
            const host = parseIp(a)
                ? a
                : c.ok && c.cidr.prefix === (c.cidr.family === 4 ? 32 : 128)
                  ? a.split("/")[0]
                  : undefined;
            if (!host || !families.has(familyOfAddress(host))) continue;
            if (out.some((t) => t.address === host && t.port === f.port)) continue;
            out.push({
                from,
                to: f.to.name,
                address: host,
                port: f.port,
                protocol: "udp",
                expect: "open",
                why: `${f.port}/udp to ${f.to.name}: ${f.why}`,
            });
        }
    }
    return out;
}

interface DenyCandidate extends ProbeTarget {
    key: number;
    klass: string;
}

/** Every (protocol, port) class the proof samples: what some flow opens on a node, and the TCP candidates. */
export function portClasses(flows: readonly Flow[]): { protocol: Protocol; port: number }[] {
    const seen = new Map<string, { protocol: Protocol; port: number }>();
    const add = (protocol: Protocol, port: number) => seen.set(`${port}/${protocol}`, { protocol, port });
    for (const f of flows) if (f.to.kind === "node") add(f.protocol, f.port);
    for (const p of FORBIDDEN_CANDIDATES) add("tcp", p);
    return [...seen.values()].sort((a, b) => a.port - b.port || cmp(a.protocol, b.protocol));
}

/** Must-deny candidates from `from` to every other node: each class the policy denies, at each address. */
function denyCandidates(
    model: ClusterModel,
    reach: Reachability,
    from: string,
    classes: { protocol: Protocol; port: number }[],
): DenyCandidate[] {
    const src = model.nodes.find((n) => n.name === from)!;
    const families = new Set(addressesSeenBy(src, src).map(familyOfAddress));
    const out: DenyCandidate[] = [];
    for (const to of model.nodes) {
        if (to === src) continue;
        for (const address of addressesSeenBy(src, to).filter((a) => families.has(familyOfAddress(a)))) {
            const family = familyOfAddress(address);
            for (const c of classes) {
                const v = reach.between({ from, to: to.name, protocol: c.protocol, port: c.port, family });
                if (v.allowed) continue;
                const klass = `${c.port}/${c.protocol}/v${family}`;
                const t: DenyCandidate = {
                    from,
                    to: to.name,
                    address,
                    port: c.port,
                    expect: "blocked",
                    why: v.reason,
                    key: fnv1a(`${from}|${to.name}|${klass}`),
                    klass,
                };
                if (c.protocol === "udp") t.protocol = "udp";
                out.push(t);
            }
        }
    }
    return out;
}

/** The bounded sample: each class once (its lowest-keyed candidate cluster-wide), then `perNode` more per source. */
function sampleDenied(bySource: Map<string, DenyCandidate[]>, perNode: number): Map<string, ProbeTarget[]> {
    const chosen = new Set<DenyCandidate>();
    const bestOfClass = new Map<string, DenyCandidate>();
    for (const list of bySource.values()) {
        for (const c of list) {
            const best = bestOfClass.get(c.klass);
            if (!best || c.key < best.key) bestOfClass.set(c.klass, c);
        }
    }
    for (const c of bestOfClass.values()) chosen.add(c);
    const out = new Map<string, ProbeTarget[]>();
    for (const [from, list] of bySource) {
        const extra = list
            .filter((c) => !chosen.has(c))
            .sort((a, b) => a.key - b.key)
            .slice(0, perNode);
        for (const c of extra) chosen.add(c);
        const mine = list.filter((c) => chosen.has(c)).map(({ key: _k, klass: _c, ...t }) => t);
        out.set(from, mine);
    }
    return out;
}

/** Verify's per-peer sample: the first `k` FORBIDDEN_CANDIDATES the policy denies, per peer and address. */
function perPeerDenied(
    model: ClusterModel,
    reach: Reachability,
    from: string,
    k: number,
    required: ProbeTarget[],
): ProbeTarget[] {
    const src = model.nodes.find((n) => n.name === from)!;
    const families = new Set(addressesSeenBy(src, src).map(familyOfAddress));
    const out: ProbeTarget[] = [];
    for (const to of model.nodes) {
        if (to === src) continue;
        const open = new Set(
            required.filter((t) => t.to === to.name && (t.protocol ?? "tcp") === "tcp").map((t) => t.port),
        );
        for (const address of addressesSeenBy(src, to).filter((a) => families.has(familyOfAddress(a)))) {
            const family = familyOfAddress(address);
            let n = 0;
            for (const port of FORBIDDEN_CANDIDATES) {
                if (n >= k) break;
                if (open.has(port)) continue;
                const v = reach.between({ from, to: to.name, protocol: "tcp", port, family });
                if (v.allowed) continue;
                out.push({ from, to: to.name, address, port, expect: "blocked", why: v.reason });
                n++;
            }
        }
    }
    return out;
}

/**
 * What to probe FROM each node: every required flow to its peers (TCP and UDP, each family both ends have), UDP
 * to the external services it sends to, and a sample of must-deny ports between nodes (see ProbePlanOptions).
 * Targets are grouped by source node in model order; within a source: required by peer and port, then denied.
 */
export function probePlan(
    model: ClusterModel,
    flows: readonly Flow[],
    opts: ProbePlanOptions = {},
    policies?: NodePolicy[],
): ProbeTarget[] {
    const reach = expectedReachability(model, policies ?? policyFromFlows(model, flows));
    const sources = model.nodes.filter((n) => !opts.from || opts.from.includes(n.name));
    const classes = portClasses(flows);
    const required = new Map<string, ProbeTarget[]>();
    const udp = new Map<string, ProbeTarget[]>();
    for (const n of sources) {
        const families = new Set(addressesSeenBy(n, n).map(familyOfAddress));
        required.set(n.name, requiredTargets(flows, n.name, families));
        udp.set(n.name, udpExternalTargets(flows, n.name, families));
    }
    let denied: Map<string, ProbeTarget[]>;
    if (opts.denySample) {
        // Classes are covered over every source node (not only the selected ones), so the sample does not depend on `from`.
        const all = new Map(model.nodes.map((n) => [n.name, denyCandidates(model, reach, n.name, classes)]));
        const sample = sampleDenied(all, opts.denySample.perNode);
        denied = new Map(sources.map((n) => [n.name, sample.get(n.name) ?? []]));
    } else {
        const k = opts.forbiddenPerPeer ?? 3;
        denied = new Map(sources.map((n) => [n.name, perPeerDenied(model, reach, n.name, k, required.get(n.name)!)]));
    }
    return sources.flatMap((n) => [...interleave(required.get(n.name)!, denied.get(n.name)!), ...udp.get(n.name)!]);
}

/** Required and denied targets of one source, ordered by peer (required first within a peer). */
function interleave(required: ProbeTarget[], denied: ProbeTarget[]): ProbeTarget[] {
    const peers = [...new Set([...required, ...denied].map((t) => t.to))];
    return peers.flatMap((p) => [...required.filter((t) => t.to === p), ...denied.filter((t) => t.to === p)]);
}

// ------------------------------------------------------------------------------------------ judging

export type ProbeOutcome = "open" | "refused" | "timeout" | "eperm" | "unreach" | "error" | "not-run";

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
    // UDP that should pass: a service that never answers (a trap receiver) times out; only a local refusal
    // (EPERM: this node's egress filter) or an unreachable proves the opening missing.
    const udpSilence = t.protocol === "udp" && t.expect === "open" && outcome === "timeout";
    const passed =
        t.expect === "open"
            ? outcome === "open" || outcome === "refused" || udpSilence
            : outcome === "timeout" || outcome === "eperm";
    return { ...t, outcome, ok: passed, ...(detail ? { detail } : {}) };
}

/** What a probe saw, in words. */
export function seenText(r: Pick<ProbeResultRow, "outcome" | "detail">): string {
    switch (r.outcome) {
        case "timeout":
            return "filtered (timed out)";
        case "eperm":
            return "blocked by the source's egress filter";
        case "not-run":
            return "not probed (the session failed)";
        default:
            return r.outcome + (r.detail ? ` ${r.detail}` : "");
    }
}

/** "app-1 → db-1 (10.77.1.101) 27017/tcp" */
export function probeLabel(r: ProbeTarget): string {
    return `${r.from} → ${r.to} (${r.address}) ${r.port}/${r.protocol ?? "tcp"}`;
}

/** One line per result worth reading: failures, and passes that are warnings (nothing listens, no answer). */
export function describeProbe(r: ProbeResultRow): { ok: boolean; warning: boolean; message: string } | undefined {
    const what = probeLabel(r);
    if (!r.ok) {
        return {
            ok: false,
            warning: false,
            message:
                r.expect === "open"
                    ? `${what}: required but ${seenText(r)} — ${r.why}`
                    : `${what}: forbidden but reachable (${seenText(r)}) — ${r.why}`,
        };
    }
    if (r.expect === "open" && r.outcome === "refused")
        return {
            ok: true,
            warning: true,
            message: `${what}: the firewall lets it through but nothing listens (refused) — ${r.why}`,
        };
    if (r.expect === "open" && r.outcome === "timeout")
        return {
            ok: true,
            warning: true,
            message: `${what}: sent (this node's egress filter let it out) but no answer — ${r.why}`,
        };
    return undefined;
}
