// The port matrix for a network team: who may talk to whom, on what, and why. Pure formatting of the flows.

import { ClusterModel, Protocol } from "./types";
import { SECTIONS } from "./catalog";
import { Flow, FlowEnd, buildFlows } from "./policy";
import { STACK_OVERRIDE_SECTION } from "./network-flows";
import { describeProfile } from "./narrowings";

export interface MatrixRow {
    /** Node name; or the CIDRs of a network ("10.20.0.0/24, 10.9.9.5/32"). */
    from: string;
    /** Node name; or the external destination as configured (host, or redacted URI). */
    to: string;
    fromKind: FlowEnd["kind"];
    toKind: FlowEnd["kind"];
    /** "admin networks", "client networks", a node name, ... */
    fromLabel: string;
    toLabel: string;
    /** Addresses as the other end sees them (NAT-aware between sites). */
    fromAddresses: string[];
    toAddresses: string[];
    protocol: Protocol;
    port: number;
    service: string;
    /** Why the flow exists: "application to database, database access". */
    reason: string;
    /** Reference section the flow comes from. */
    section: string;
    /** Reachable from client networks: rate-limited per source. */
    exposed: boolean;
    rowId?: string;
}

const SECTION_ORDER: string[] = [...Object.values(SECTIONS), STACK_OVERRIDE_SECTION];

function label(end: FlowEnd): string {
    return end.kind === "network" && ["admin", "client", "monitoring"].includes(end.name)
        ? `${end.name} networks`
        : end.name;
}

function matrixRow(f: Flow): MatrixRow {
    const r: MatrixRow = {
        from: f.from.kind === "network" ? f.from.addresses.join(", ") : f.from.name,
        to: f.to.kind === "network" ? f.to.addresses.join(", ") : f.to.name,
        fromKind: f.from.kind,
        toKind: f.to.kind,
        fromLabel: label(f.from),
        toLabel: label(f.to),
        fromAddresses: [...f.from.addresses],
        toAddresses: [...f.to.addresses],
        protocol: f.protocol,
        port: f.port,
        service: f.service,
        reason: f.why,
        section: f.section,
        exposed: f.exposed,
    };
    if (f.rowId !== undefined) r.rowId = f.rowId;
    return r;
}

// One collator for every comparison: "app-2" sorts before "app-10".
const byName = new Intl.Collator("en", { numeric: true }).compare;

function compare(a: MatrixRow, b: MatrixRow): number {
    const sa = SECTION_ORDER.indexOf(a.section),
        sb = SECTION_ORDER.indexOf(b.section);
    return (
        sa - sb ||
        byName(a.fromLabel, b.fromLabel) ||
        byName(a.toLabel, b.toLabel) ||
        a.port - b.port ||
        a.protocol.localeCompare(b.protocol)
    );
}

/**
 * One row per allowed flow, ordered by reference section, then from, to, port. Pass the flows you already have
 * (the policy's: buildClusterPolicy(model).flows, or Cluster.flows) to avoid recomputing them.
 */
export function matrixRows(model: ClusterModel, flows: readonly Flow[] = buildFlows(model)): MatrixRow[] {
    return flows.map(matrixRow).sort(compare);
}

/** JSON for tools: an array of rows (from, to, protocol, port, reason, section, ...). */
export function formatMatrixJson(rows: readonly MatrixRow[]): string {
    return JSON.stringify(rows, null, 2) + "\n";
}

function endText(kind: FlowEnd["kind"], lbl: string, addresses: string[]): string {
    if (kind === "network") return `${lbl} (${addresses.join(", ")})`;
    const shown = addresses.filter((a) => a !== lbl);
    return shown.length > 0 ? `${lbl} (${shown.join(", ")})` : lbl;
}

/**
 * A plain-text table grouped by reference section: FROM, TO, PORT, WHY. Addresses are shown as the other
 * end sees them; "*" marks services exposed to client networks (rate-limited per source).
 */
export function formatMatrixTable(model: ClusterModel, rows: readonly MatrixRow[], title?: string): string;
export function formatMatrixTable(rows: readonly MatrixRow[], opts: { model: ClusterModel; title?: string }): string;
export function formatMatrixTable(
    a: ClusterModel | readonly MatrixRow[],
    b: readonly MatrixRow[] | { model: ClusterModel; title?: string },
    c?: string,
): string {
    const [model, rows, title] = Array.isArray(a)
        ? [(b as { model: ClusterModel }).model, a as readonly MatrixRow[], (b as { title?: string }).title]
        : [a as ClusterModel, b as readonly MatrixRow[], c];
    const lines: string[] = [];
    const nodes = model.nodes.map((n) => `${n.name} ${n.role}@${n.site}`).join(", ");
    const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
    lines.push(
        `${title ? `${title}: ` : ""}${model.model} model, ${plural(model.nodes.length, "node")}, ${plural(model.sites.length, "site")}, ${plural(rows.length, "flow")}`,
    );
    lines.push(`nodes: ${nodes}`);
    lines.push(`firewall: egress ${model.firewall.egress}, profile ${describeProfile(model.firewall)}`);
    lines.push("* = exposed to client networks (rate-limited per source); addresses as the other end sees them");
    const bySection = new Map<string, MatrixRow[]>();
    for (const r of rows) bySection.set(r.section, [...(bySection.get(r.section) ?? []), r]);
    for (const [section, list] of bySection) {
        lines.push("", `== ${section} ==`);
        const cells = list.map((r) => [
            endText(r.fromKind, r.fromLabel, r.fromAddresses),
            endText(r.toKind, r.toLabel, r.toAddresses),
            `${r.port}/${r.protocol}${r.exposed ? " *" : ""}`,
            r.reason,
        ]);
        const header = ["FROM", "TO", "PORT", "WHY"];
        const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...cells.map((c) => c[i].length))));
        const fmt = (c: string[]) =>
            c
                .map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i])))
                .join("  ")
                .trimEnd();
        lines.push(fmt(header));
        for (const c of cells) lines.push(fmt(c));
    }
    return lines.join("\n") + "\n";
}
