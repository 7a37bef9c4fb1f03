// The probe's pure parts: which (source, destination, port) rows to measure, how to classify what the
// prober saw, and how to print the matrix. No I/O here (lab/probe.ts runs it).
import type { Protocol } from "../model/types";
import { NODE_PORTS, PortSpec, portKey } from "./ports";
import { addressSeenFrom, LabPlan } from "./shapes";

export type ProbeResultKind = "open" | "filtered" | "refused";

/** Where probes start: a node, a vantage, or the provisioning host (root namespace, netns null). */
export interface ProbeSource {
    name: string;
    kind: "node" | "vantage" | "provisioner";
    /** null: the root namespace. */
    netns: string | null;
    /** Nodes only: a source in the destination's site uses its internal address. */
    site?: string;
}

export interface ProbeTarget {
    /** Unique within one probe run. */
    id: string;
    from: string;
    to: string;
    address: string;
    protocol: Protocol;
    port: number;
}

export interface ProbeResult {
    from: string;
    to: string;
    address: string;
    protocol: Protocol;
    port: number;
    result: ProbeResultKind;
    /** Milliseconds until the answer (or the timeout). */
    ms: number;
    /** What the prober saw: connected, reply, refused, timeout, unreach, error (+ errno name). */
    detail?: string;
}

export interface ProbeSelection {
    /** Source names (nodes, vantages, "provisioner"); default all. */
    from?: string[];
    /** Destination names (nodes, externals); default all. */
    to?: string[];
    /** Probe a node's own address from itself too (default false). */
    includeSelf?: boolean;
    /** Ports to probe on nodes (default NODE_PORTS). */
    ports?: readonly PortSpec[];
    /** Address families to probe (default both: every row at the destination's IPv4 and at its IPv6 address). */
    families?: readonly IpFamily[];
}

export type IpFamily = 4 | 6;

/** The family of a probe row's address. */
export function familyOf(address: string): IpFamily {
    return address.includes(":") ? 6 : 4;
}

export const PROVISIONER = "provisioner";

export function probeSources(plan: LabPlan): ProbeSource[] {
    return [
        { name: PROVISIONER, kind: "provisioner", netns: null },
        ...plan.nodes.map((n): ProbeSource => ({ name: n.name, kind: "node", netns: n.netns, site: n.site })),
        ...plan.vantages.map((v): ProbeSource => ({ name: v.name, kind: "vantage", netns: v.netns })),
    ];
}

/**
 * Every row to measure: from every source to every node's ports (the destination's advertised address
 * when the source is not in its site), and from every node to every external service's ports; each at the
 * destination's IPv4 address and again at its IPv6 address (the same from everywhere: no NAT for IPv6).
 * An IPv6-only node is probed at its one (IPv6) address, and probes externals over IPv6 only.
 * Throws on unknown names in the selection.
 */
export function probeTargets(plan: LabPlan, sel: ProbeSelection = {}): ProbeTarget[] {
    const sources = probeSources(plan);
    const externals = plan.vantages.filter((v) => v.ports.length > 0);
    const destNames = [...plan.nodes.map((n) => n.name), ...externals.map((v) => v.name)];
    const unknownFrom = (sel.from ?? []).filter((f) => !sources.some((s) => s.name === f));
    const unknownTo = (sel.to ?? []).filter((t) => !destNames.includes(t));
    const problems = [
        ...unknownFrom.map((f) => `--from: unknown source "${f}"`),
        ...unknownTo.map((t) => `--to: unknown destination "${t}"`),
    ];
    const families = sel.families ?? [4, 6];
    const badFamily = families.filter((f) => f !== 4 && f !== 6);
    if (badFamily.length) problems.push(`families: ${badFamily.join(", ")} is not 4 or 6`);
    if (problems.length) throw new Error(`${problems.join("; ")} (sources: ${sources.map((s) => s.name).join(", ")})`);
    const wantFrom = (name: string) => !sel.from?.length || sel.from.includes(name);
    const wantTo = (name: string) => !sel.to?.length || sel.to.includes(name);
    const ports = sel.ports ?? NODE_PORTS;

    const sourceFamilies = new Map(
        plan.nodes.map((n) => [n.name, [n.address, ...(n.address6 ? [n.address6] : [])].map(familyOf)]),
    );
    const out: ProbeTarget[] = [];
    let seq = 0;
    const add = (from: string, to: string, address: string, protocol: Protocol, port: number) =>
        out.push({ id: `p${seq++}`, from, to, address, protocol, port });
    for (const src of sources) {
        if (!wantFrom(src.name)) continue;
        for (const dst of plan.nodes) {
            if (!wantTo(dst.name)) continue;
            if (dst.name === src.name && !sel.includeSelf) continue;
            // an IPv6-only node's address is IPv6: its rows are IPv6 rows (and it has no address6 to repeat them at)
            const address = addressSeenFrom(dst, src.kind === "node" ? { site: src.site } : undefined);
            if (families.includes(familyOf(address)))
                for (const p of ports) add(src.name, dst.name, address, p.protocol, p.port);
            if (families.includes(6) && dst.address6)
                for (const p of ports) add(src.name, dst.name, dst.address6, p.protocol, p.port);
        }
        if (src.kind !== "node") continue;
        // from a node, only the families it has (an IPv6-only node has no IPv4 to leave with)
        const own = sourceFamilies.get(src.name)!;
        for (const ext of externals) {
            if (!wantTo(ext.name)) continue;
            for (const address of [ext.address, ...(ext.address6 ? [ext.address6] : [])]) {
                const f = familyOf(address);
                if (families.includes(f) && own.includes(f))
                    for (const p of ext.ports) add(src.name, ext.name, address, p.protocol, p.port);
            }
        }
    }
    return out;
}

/** Groups targets by source, in source order (one prober process per source namespace). */
export function groupBySource(targets: ProbeTarget[]): Map<string, ProbeTarget[]> {
    const m = new Map<string, ProbeTarget[]>();
    for (const t of targets) {
        const list = m.get(t.from);
        if (list) list.push(t);
        else m.set(t.from, [t]);
    }
    return m;
}

/** The prober's input: one "<id> <proto> <address> <port>" line per target. */
export function proberInput(targets: ProbeTarget[]): string {
    return targets.map((t) => `${t.id} ${t.protocol} ${t.address} ${t.port}\n`).join("");
}

/** What the prober reports for one target. */
export interface ProberLine {
    id: string;
    outcome: string;
    ms: number;
    errno?: string;
}

export function parseProberOutput(text: string): ProberLine[] {
    const out: ProberLine[] = [];
    for (const line of text.split("\n")) {
        const m = /^(\S+) (\S+) ([0-9.]+)(?: (\S+))?$/.exec(line.trim());
        if (!m) continue;
        out.push({ id: m[1], outcome: m[2], ms: Number(m[3]), ...(m[4] && m[4] !== "-" ? { errno: m[4] } : {}) });
    }
    return out;
}

/**
 * open: TCP handshake completed or UDP answered; refused: TCP reset or ICMP port unreachable (nothing
 * listens, or the firewall rejects with a reset/port-unreachable); filtered: no answer before the timeout,
 * an ICMP host/admin-prohibited, or a local EPERM (the source's own egress filter).
 */
export function classify(outcome: string, errno?: string): ProbeResultKind {
    switch (outcome) {
        case "connected":
        case "reply":
            return "open";
        case "refused":
            return "refused";
        case "timeout":
        case "unreach":
            return "filtered";
        default:
            return errno === "ECONNREFUSED" ? "refused" : "filtered";
    }
}

/** Joins prober lines with their targets; a target without a line (prober died) is "filtered" with detail "missing". */
export function joinResults(targets: ProbeTarget[], lines: ProberLine[], missingMs = 0): ProbeResult[] {
    const byId = new Map(lines.map((l) => [l.id, l]));
    return targets.map((t) => {
        const l = byId.get(t.id);
        const { id: _id, ...row } = t;
        void _id;
        if (!l) return { ...row, result: "filtered", ms: missingMs, detail: "missing" };
        return {
            ...row,
            result: classify(l.outcome, l.errno),
            ms: Math.round(l.ms * 10) / 10,
            detail: l.errno ? `${l.outcome} ${l.errno}` : l.outcome,
        };
    });
}

/** The JSON rows of `probe --json`: exactly {from, to, address, protocol, port, result, ms}. */
export function toJsonRows(results: ProbeResult[]): Omit<ProbeResult, "detail">[] {
    return results.map(({ from, to, address, protocol, port, result, ms }) => ({
        from,
        to,
        address,
        protocol,
        port,
        result,
        ms,
    }));
}

function compactPorts(rows: ProbeResult[], of: number): string {
    if (!rows.length) return "-";
    if (rows.length === of && of > 1) return `all ${of}`;
    const by: Record<string, number[]> = {};
    for (const r of rows) (by[r.protocol] ??= []).push(r.port);
    return Object.keys(by)
        .sort()
        .map((p) => `${p} ${[...new Set(by[p])].sort((a, b) => a - b).join(",")}`)
        .join("  ");
}

/**
 * One line per (from, to, address) — so per address family — with the ports by result ("all N" when every probed port of the
 * pair has that result), then a summary line.
 *   FROM    TO         ADDRESS     OPEN                     FILTERED                   REFUSED
 *   admin   unified-1  10.77.1.11  tcp 22,443  udp 161      tcp 80,3306,...  udp 22    -
 */
export function formatTable(results: ProbeResult[]): string {
    const pairs = new Map<string, ProbeResult[]>();
    for (const r of results) {
        const k = `${r.from}\u0000${r.to}\u0000${r.address}`;
        const list = pairs.get(k);
        if (list) list.push(r);
        else pairs.set(k, [r]);
    }
    const rows: string[][] = [["FROM", "TO", "ADDRESS", "OPEN", "FILTERED", "REFUSED"]];
    for (const list of pairs.values()) {
        const addrs = [...new Set(list.map((r) => r.address))].join(",");
        rows.push([
            list[0].from,
            list[0].to,
            addrs,
            compactPorts(
                list.filter((r) => r.result === "open"),
                list.length,
            ),
            compactPorts(
                list.filter((r) => r.result === "filtered"),
                list.length,
            ),
            compactPorts(
                list.filter((r) => r.result === "refused"),
                list.length,
            ),
        ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const lines = rows.map((r) =>
        r
            .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
            .join("  ")
            .trimEnd(),
    );
    const summary = (rs: ProbeResult[]) => {
        const count = (k: ProbeResultKind) => rs.filter((r) => r.result === k).length;
        return `${rs.length} probes: ${count("open")} open, ${count("filtered")} filtered, ${count("refused")} refused`;
    };
    lines.push("", summary(results));
    const v6 = results.filter((r) => familyOf(r.address) === 6);
    if (v6.length && v6.length < results.length) {
        lines.push(`  IPv4: ${summary(results.filter((r) => familyOf(r.address) === 4))}`, `  IPv6: ${summary(v6)}`);
    }
    return lines.join("\n");
}

/** Rows keyed "from>to:port/proto" (handy for comparing with an expected matrix). */
export function resultKey(r: { from: string; to: string; protocol: Protocol; port: number }): string {
    return `${r.from}>${r.to}:${portKey(r)}`;
}
