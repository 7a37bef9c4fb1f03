// Narrowing from evidence, the pure part: what listens on each node (ss) and which flows were used over a
// window (conntrack, established sockets), judged against every reference opening each narrowing would
// close; the strict settings that are safe for this cluster. tools/narrow/run.ts collects the evidence.

import { ClusterModel, Protocol } from "../../model/types";
import { buildFlowReport } from "../../model/policy";
import { NarrowedFlow } from "../../model/flows";
import { NARROWINGS, NarrowingId } from "../../model/narrowings";
import { cidrContains } from "../../model/net";
import type { Listener } from "../../model/listening";
import { splitHostPort } from "../../remote/ss";

export interface Seen {
    protocol: Protocol;
    src: string;
    sport: number;
    dst: string;
    dport: number;
}

export interface NodeEvidence {
    node: string;
    listening: Listener[];
    /** External TCP destinations this node tried: "open" (something accepted), "closed" (refused), "unknown" (no answer). */
    reach?: { address: string; port: number; result: "open" | "closed" | "unknown" }[];
    /** Connections seen over the window (original direction: src initiated). */
    seen: Seen[];
    /** Set when the node could not be read: nothing about it can be judged. */
    error?: string;
}

export interface Evidence {
    stack: string;
    takenAt: string;
    windowSeconds: number;
    nodes: NodeEvidence[];
}

// ------------------------------------------------------------------------------------------ parsers

/**
 * /proc/net/nf_conntrack (or `conntrack -L`) lines: the first src/dst/sport/dport are the original direction.
 * Only flows something answered count as use: UDP without [UNREPLIED], TCP that reached [ASSURED] (a SYN
 * answered by a reset, or by nothing, used no service; scanners and probes leave those).
 */
export function parseConntrack(text: string): Seen[] {
    const out: Seen[] = [];
    for (const line of text.split("\n")) {
        if (/\[UNREPLIED\]/.test(line) || (/\btcp\b/.test(line) && !/\[ASSURED\]/.test(line))) continue;
        const proto = /\b(tcp|udp)\b/.exec(line)?.[1] as Protocol | undefined;
        const src = /\bsrc=(\S+)/.exec(line)?.[1],
            dst = /\bdst=(\S+)/.exec(line)?.[1];
        const sport = /\bsport=(\d+)/.exec(line)?.[1],
            dport = /\bdport=(\d+)/.exec(line)?.[1];
        if (proto && src && dst && sport && dport)
            out.push({ protocol: proto, src, dst, sport: Number(sport), dport: Number(dport) });
    }
    return out;
}

/**
 * `ss -Htn state established` lines ("0 0 10.0.0.1:22 10.0.0.9:41000"): the side whose port is a listening
 * port of this node accepted the connection.
 */
export function parseEstablished(text: string, listening: Listener[]): Seen[] {
    const listens = new Set(listening.filter((l) => l.protocol === "tcp").map((l) => l.port));
    const out: Seen[] = [];
    for (const line of text.split("\n")) {
        const f = line.trim().split(/\s+/);
        if (f.length < 4) continue;
        const local = splitHostPort(f[2]),
            peer = splitHostPort(f[3]);
        if (!local || !peer) continue;
        out.push(
            listens.has(local.port)
                ? { protocol: "tcp", src: peer.address, sport: peer.port, dst: local.address, dport: local.port }
                : { protocol: "tcp", src: local.address, sport: local.port, dst: peer.address, dport: peer.port },
        );
    }
    return out;
}

// ------------------------------------------------------------------------------------------ judging

export interface OpeningVerdict {
    /** "27019/tcp app-1 → db-1" */
    flow: string;
    /** Something listens on the port at the accepting node (undefined: the acceptor is outside the cluster). */
    listening?: boolean;
    /** A connection on this flow was seen over the window. */
    traffic: boolean;
    /** The node the judgement needed could not be read. */
    unknown: boolean;
}

export interface NarrowingVerdict {
    narrowing: NarrowingId;
    closes: string;
    openings: OpeningVerdict[];
    /** It closes something in this cluster (an entry that names its protocols leaves ldap/snmp ones nothing). */
    applies: boolean;
    /** It applies, and nothing listens on, and nothing used, any opening it closes (and every node was read). */
    safe: boolean;
}

/** Reference flows a single narrowing closes in this cluster (the reference profile plus that narrowing). */
export function flowsClosedBy(model: ClusterModel, id: NarrowingId): NarrowedFlow[] {
    const m: ClusterModel = { ...model, firewall: { ...model.firewall, profile: "reference", narrow: { [id]: true } } };
    return buildFlowReport(m).narrowed;
}

const wild = (a: string) => a === "0.0.0.0" || a === "::" || a === "*";

function judge(f: NarrowedFlow, ev: Map<string, NodeEvidence>): OpeningVerdict {
    const text = `${f.port}/${f.protocol} ${f.from.name} → ${f.to.name}`;
    const acceptor = f.to.kind === "node" ? ev.get(f.to.name) : undefined;
    const initiator = f.from.kind === "node" ? ev.get(f.from.name) : undefined;
    const unknown =
        (f.to.kind === "node" && (!acceptor || !!acceptor.error)) ||
        (f.from.kind === "node" && (!initiator || !!initiator.error));
    let listening =
        f.to.kind === "node"
            ? !!acceptor?.listening.some((l) => l.protocol === f.protocol && l.port === f.port)
            : undefined;
    let outside = false;
    if (f.to.kind !== "node") {
        // Outside the cluster: a TCP port is judged by whether the node could connect; UDP cannot be told apart.
        const tried =
            f.protocol === "tcp"
                ? (initiator?.reach ?? []).filter(
                      (r) => r.port === f.port && f.to.addresses.some((a) => cidrContains(a, r.address)),
                  )
                : [];
        if (tried.some((r) => r.result === "open")) listening = true;
        else if (tried.length === 0 || tried.some((r) => r.result === "unknown")) outside = true;
        else listening = false;
    }
    const matches = (s: Seen) =>
        s.protocol === f.protocol &&
        s.dport === f.port &&
        f.from.addresses.some((a) => wild(a) || cidrContains(a, s.src)) &&
        f.to.addresses.some((a) => cidrContains(a, s.dst));
    const traffic = !!(acceptor?.seen.some(matches) || initiator?.seen.some(matches));
    return { flow: text, ...(listening === undefined ? {} : { listening }), traffic, unknown: unknown || outside };
}

/** External TCP destinations a node should try to connect to: those of flows some narrowing would close. */
export function externalTcpTargets(model: ClusterModel): Map<string, { address: string; port: number }[]> {
    const out = new Map<string, Map<string, { address: string; port: number }>>();
    for (const n of NARROWINGS) {
        for (const f of flowsClosedBy(model, n.id)) {
            if (f.to.kind !== "external" || f.protocol !== "tcp" || f.from.kind !== "node") continue;
            const m = out.get(f.from.name) ?? new Map();
            for (const a of f.to.addresses) if (!a.includes("/")) m.set(`${a} ${f.port}`, { address: a, port: f.port });
            out.set(f.from.name, m);
        }
    }
    return new Map([...out].map(([k, v]) => [k, [...v.values()]]));
}

/** Every narrowing, judged on the evidence: which of its closed openings something listens on or used. */
export function judgeNarrowings(model: ClusterModel, evidence: Evidence): NarrowingVerdict[] {
    const ev = new Map(evidence.nodes.map((n) => [n.node, n]));
    return NARROWINGS.map((n) => {
        const openings = flowsClosedBy(model, n.id).map((f) => judge(f, ev));
        const applies = openings.length > 0;
        const safe = applies && openings.every((o) => !o.listening && !o.traffic && !o.unknown);
        return { narrowing: n.id, closes: n.closes, openings, applies, safe };
    });
}

/** The stack settings that apply every safe narrowing and no other: the shorter of the two spellings. */
export function proposedSettings(verdicts: readonly NarrowingVerdict[]): {
    profile: "reference" | "strict";
    narrow: Partial<Record<NarrowingId, boolean>>;
} {
    // Narrowings that close nothing here are left out of both spellings (either way they change nothing).
    const relevant = verdicts.filter((v) => v.applies);
    const safe = relevant.filter((v) => v.safe).map((v) => v.narrowing);
    const unsafe = relevant.map((v) => v.narrowing).filter((id) => !safe.includes(id));
    if (unsafe.length < safe.length)
        return { profile: "strict", narrow: Object.fromEntries(unsafe.map((id) => [id, false])) };
    return { profile: "reference", narrow: Object.fromEntries(safe.map((id) => [id, true])) };
}

export function formatProposal(p: ReturnType<typeof proposedSettings>): string {
    const lines = ["pinhole:firewall:", `  profile: ${p.profile}`];
    const entries = Object.entries(p.narrow);
    if (entries.length) lines.push("  narrow:", ...entries.map(([k, v]) => `    ${k}: ${v}`));
    return lines.join("\n");
}

/** Human report: per narrowing, SAFE or KEEP, and per closed opening what was found. */
export function formatNarrowReport(evidence: Evidence, verdicts: readonly NarrowingVerdict[]): string {
    const L: string[] = [
        `evidence from ${evidence.nodes.length} node(s) of ${evidence.stack}, ${evidence.windowSeconds}s window, ${evidence.takenAt}`,
    ];
    for (const n of evidence.nodes.filter((x) => x.error)) L.push(`  ${n.node}: NOT READ (${n.error})`);
    for (const v of verdicts) {
        const busy = v.openings.filter((o) => o.listening || o.traffic || o.unknown);
        L.push("", `${v.safe ? "SAFE" : v.applies ? "KEEP" : "N/A "}  ${v.narrowing}: closes ${v.closes}`);
        if (v.openings.length === 0) {
            L.push("      (closes nothing in this cluster)");
            continue;
        }
        const idle = v.openings.filter((o) => !o.listening && !o.traffic && !o.unknown);
        if (idle.length)
            L.push(
                `      nothing listens, no traffic (${idle.length}): ${idle
                    .slice(0, 8)
                    .map((o) => o.flow)
                    .join(", ")}${idle.length > 8 ? ", ..." : ""}`,
            );
        for (const o of busy.slice(0, 12)) {
            const what = [
                o.listening ? "something listens" : "",
                o.traffic ? "traffic seen" : "",
                o.unknown
                    ? o.listening === undefined
                        ? "outside the cluster: cannot tell whether it is served"
                        : "node not read"
                    : "",
            ]
                .filter(Boolean)
                .join(", ");
            L.push(`      ${o.flow}: ${what}`);
        }
        if (busy.length > 12) L.push(`      ... and ${busy.length - 12} more in use`);
    }
    return L.join("\n");
}

/**
 * Preview check: flows the stack's profile closes on a port that, in the last evidence, something listened on
 * at the accepting node. One warning per (node, port).
 */
export function listenerConflicts(narrowed: readonly NarrowedFlow[], evidence: Evidence): string[] {
    const ev = new Map(evidence.nodes.map((n) => [n.node, n]));
    const out = new Map<string, string>();
    for (const f of narrowed) {
        if (f.to.kind !== "node") continue;
        const n = ev.get(f.to.name);
        if (!n?.listening.some((l) => l.protocol === f.protocol && l.port === f.port)) continue;
        const key = `${f.to.name} ${f.port}/${f.protocol}`;
        if (out.has(key)) continue;
        out.set(
            key,
            `narrowing ${f.narrowedBy.join(", ")} closes ${f.port}/${f.protocol} into ${f.to.name} (from ${f.from.name} and its peers), ` +
                `but something listened there when \`npm run narrow\` looked (${evidence.takenAt}): keep the reference opening ` +
                `(pinhole:firewall.narrow.${f.narrowedBy[0]}: false) unless that service is not needed`,
        );
    }
    return [...out.values()];
}
