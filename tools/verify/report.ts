// verify's report: counts, the probe matrix, the human text and JSON.
import type { ProbeResultRow } from "../../model/probes";
import type { CheckKind, Finding } from "./findings";
import { listenCounts, NodeListening } from "../../model/listening";
import type { NodeDrops } from "../../remote/drop-log";

export interface VerifyReport {
    stack: string;
    checkedAt: string;
    nodes: string[];
    findings: Finding[];
    probes: ProbeResultRow[];
    /** Per node: what listens (`ss`) against its inbound openings (model/listening.ts). Listed; never a failure. */
    listening: NodeListening[];
    /** --drops: per node the top dropped peer/port pairs of its drop log since `since` (ISO). Listed; never a failure. */
    drops?: { since: string; nodes: NodeDrops[] };
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

/** Rows as columns padded to their widest cell, two spaces apart (every table of the report). */
function table(rows: string[][]): string[] {
    const w = rows[0].map((_, i) => Math.max(...rows.map((x) => x[i].length)));
    return rows.map((x) =>
        x
            .map((c, i) => c.padEnd(w[i]))
            .join("  ")
            .trimEnd(),
    );
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
    return table([
        header,
        ...from.map((f) => [
            f,
            ...nodes.map((t) => {
                if (t === f) return "-";
                const c = cell.get(`${f}|${t}`);
                return !c ? "" : c.bad ? `FAIL ${c.bad}/${c.n}` : `ok ${c.n}`;
            }),
        ]),
    ]).join("\n");
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
    L.push(...table(rows));
    if (r.probes.length) {
        L.push(
            "",
            `probes from each node (TCP, bash /dev/tcp): required ports must connect, sampled forbidden ports must be dropped`,
        );
        L.push(formatProbeMatrix(r.nodes, r.probes));
    }
    if (r.listening.length) L.push("", ...formatListening(r.listening, opts));
    if (r.drops) L.push("", ...formatDrops(r.drops));
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

/**
 * Per node: the summary, then a table of the rows worth reading (dead pinholes, blocked listeners, bound to all
 * addresses while only some peers may connect); `verbose` lists the plainly served ports too.
 */
export function formatListening(nodes: readonly NodeListening[], opts: { verbose?: boolean } = {}): string[] {
    const L = [
        "what listens (ss -Hlntu) against the openings: DEAD = an opening nothing listens on, blocked = listens, no opening (dropped), * = bound to all addresses while only some peers may connect",
    ];
    for (const n of nodes) {
        if (n.error) {
            L.push(`${n.node}: not read (${n.error})`);
            continue;
        }
        const c = listenCounts(n);
        L.push(
            `${n.node}: ${c.served} served${c.allAddresses ? ` (${c.allAddresses} *)` : ""}, ${c.dead} DEAD, ${c.blocked} blocked${n.loopback ? `, ${n.loopback} on loopback only` : ""}`,
        );
        const shown = n.rows.filter((x) => opts.verbose || x.status !== "served" || x.allAddresses);
        if (!shown.length) continue;
        const rows = [["  PORT", "STATUS", "BOUND", "OPEN TO"]];
        for (const x of shown)
            rows.push([
                `  ${x.port}/${x.protocol}`,
                (x.status === "dead" ? "DEAD" : x.status) + (x.allAddresses ? " *" : ""),
                x.bound.join(", ") || "-",
                x.peers.length ? `${x.peers.join(", ")} (${x.services.join(", ")})` : "-",
            ]);
        L.push(...table(rows));
    }
    return L;
}

const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19) + "Z";

/** Per node: how many drops were logged since the time, and the top dropped peer/port pairs. */
export function formatDrops(d: NonNullable<VerifyReport["drops"]>): string[] {
    const L = [
        `drops since ${d.since} (the ruleset's drop log, rate-limited to 10/minute per direction: the counts are a sample)`,
    ];
    for (const n of d.nodes) {
        if (n.error) {
            L.push(`${n.node}: drop log not read (${n.error})`);
            continue;
        }
        L.push(`${n.node}: ${n.total} logged drop(s) (${n.source === "journal" ? "journalctl -k" : "dmesg"})`);
        if (!n.pairs.length) continue;
        const rows = [["  DIR", "PEER", "PORT", "COUNT", "FIRST", "LAST"]];
        for (const p of n.pairs)
            rows.push([
                `  ${p.direction}`,
                p.peer,
                p.port ? `${p.port}/${p.protocol}` : p.protocol,
                String(p.count),
                hhmmss(p.first),
                hhmmss(p.last),
            ]);
        L.push(...table(rows));
    }
    return L;
}

export function reportJson(r: VerifyReport): string {
    return JSON.stringify({ ok: reportOk(r), ...r, counts: countFindings(r) }, null, 2) + "\n";
}
