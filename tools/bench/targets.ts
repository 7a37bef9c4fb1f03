// npm run bench: pinhole against Ansible and the parallel-SSH floor in one run — the ratio table and the
// issue's targets (cold <= 0.35x Ansible, no-op <= 0.15x Ansible's no-op at 24 nodes; marginal cost per added
// node <= 2x the floor's; start-up to the first resource <= 2 s; no-op and preview flat within 20% from 6 to 48).
import type { BenchReport, SizeResult } from "./report";

const s = (ms: number) => (ms / 1000).toFixed(2);
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : undefined);
const fx = (x: number | undefined) => (x === undefined ? "-" : `${x.toFixed(2)}x`);

export function formatComparison(rep: BenchReport): string {
    const rows: string[][] = [
        [
            "nodes",
            "ansible cold",
            "no-op",
            "--check",
            "1-node",
            "cold/ans",
            "noop/ans",
            "prev/ans-check",
            "chg/ans-chg",
            "start-up (no-op, preview)",
            "MiB engine/program/provider",
        ],
    ];
    for (const x of rep.sizes) {
        const a = x.ansible;
        rows.push([
            String(x.nodes),
            a ? s(a.coldMs) : "-",
            a ? s(a.noopMs) : "-",
            a ? s(a.checkMs) : "-",
            a ? `${s(a.changeMs)} (${a.changeHosts} chg)` : "-",
            fx(ratio(x.cold.ms, a?.coldMs)),
            fx(ratio(x.noop.ms, a?.noopMs)),
            fx(ratio(x.preview.ms, a?.checkMs)),
            fx(ratio(x.changeUp.ms, a?.changeMs)),
            `${x.startup?.noopFirstResourceMs !== undefined ? s(x.startup.noopFirstResourceMs) : "-"}, ${x.startup?.previewFirstResourceMs !== undefined ? s(x.startup.previewFirstResourceMs) : "-"}`,
            x.memory ? `${x.memory.engineMiB}/${x.memory.programMiB}/${x.memory.providerMiB}` : "-",
        ]);
    }
    const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    const lines = rows.map((row) => row.map((c, i) => c.padStart(w[i])).join("  "));
    lines.splice(1, 0, w.map((n) => "-".repeat(n)).join("  "));
    return ["pinhole vs Ansible (same lab, same run; seconds, ratios pinhole/Ansible)", ...lines].join("\n") + "\n";
}

/** Per added node between consecutive sizes: pinhole's cold up and the floor's. */
export function marginals(
    sizes: SizeResult[],
): { from: number; to: number; coldPerNodeMs: number; floorPerNodeMs: number }[] {
    const out = [];
    for (let i = 1; i < sizes.length; i++) {
        const a = sizes[i - 1],
            b = sizes[i];
        const dn = b.nodes - a.nodes;
        if (dn <= 0) continue;
        out.push({
            from: a.nodes,
            to: b.nodes,
            coldPerNodeMs: (b.cold.ms - a.cold.ms) / dn,
            floorPerNodeMs: (b.floorMs - a.floorMs) / dn,
        });
    }
    return out;
}

/** Spread (max/min) of a phase over the sizes from 6 to 48 nodes. */
function flatness(sizes: SizeResult[], pick: (x: SizeResult) => number): number | undefined {
    const v = sizes.filter((x) => x.nodes >= 6 && x.nodes <= 48).map(pick);
    return v.length >= 2 ? Math.max(...v) / Math.min(...v) : undefined;
}

export function targets(rep: BenchReport): { what: string; measured: string; ok?: boolean }[] {
    const at = rep.sizes.find((x) => x.nodes === 24);
    const out: { what: string; measured: string; ok?: boolean }[] = [];
    const cold = ratio(at?.cold.ms, at?.ansible?.coldMs);
    out.push({
        what: "cold converge <= 0.35x Ansible's (24 nodes)",
        measured:
            cold === undefined ? "not measured" : `${fx(cold)} (${s(at!.cold.ms)} s vs ${s(at!.ansible!.coldMs)} s)`,
        ok: cold === undefined ? undefined : cold <= 0.35,
    });
    const noop = ratio(at?.noop.ms, at?.ansible?.noopMs);
    out.push({
        what: "no-op up <= 0.15x Ansible's no-op (24 nodes)",
        measured:
            noop === undefined ? "not measured" : `${fx(noop)} (${s(at!.noop.ms)} s vs ${s(at!.ansible!.noopMs)} s)`,
        ok: noop === undefined ? undefined : noop <= 0.15,
    });
    const m = marginals(rep.sizes).find((x) => x.to === 24) ?? marginals(rep.sizes).pop();
    const mr = m && m.floorPerNodeMs > 0 ? m.coldPerNodeMs / m.floorPerNodeMs : undefined;
    out.push({
        what: "marginal cost per added node <= 2x the parallel-SSH floor's",
        measured: m
            ? `${m.from}→${m.to}: ${s(m.coldPerNodeMs)} s vs ${s(m.floorPerNodeMs)} s per node (${fx(mr)})`
            : "needs two sizes",
        ok: mr === undefined ? undefined : mr <= 2,
    });
    const st = at?.startup?.noopFirstResourceMs ?? rep.sizes[0]?.startup?.noopFirstResourceMs;
    out.push({
        what: "start-up to the first registered resource <= 2 s",
        measured: st === undefined ? "not measured" : `${s(st)} s (no-op up${at ? ", 24 nodes" : ""})`,
        ok: st === undefined ? undefined : st <= 2000,
    });
    for (const [what, pick] of [
        ["no-op up", (x: SizeResult) => x.noop.ms],
        ["preview", (x: SizeResult) => x.preview.ms],
    ] as const) {
        const f = flatness(rep.sizes, pick);
        out.push({
            what: `${what} flat within 20% from 6 to 48 nodes`,
            measured: f === undefined ? "needs two sizes in 6..48" : `max/min ${f.toFixed(2)}`,
            ok: f === undefined ? undefined : f <= 1.2,
        });
    }
    return out;
}
