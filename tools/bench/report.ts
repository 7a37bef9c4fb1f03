// npm run bench: the pure parts — ruleset size, per-resource timings from engine events, the table with
// ratios to the floor, and growth between the smallest and the largest cluster.
import type { ProofCost } from "./proof-cost";
import type { EngineFloor } from "./engine-floor";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { parseTable } from "../../render/nft-listing";

export interface RulesetStats {
    rules: number;
    elements: number;
    bytes: number;
}

/** Rules (chain statements, the hook line aside), set elements and bytes of a rendered ruleset (render/nft-listing.ts parses it). */
export function rulesetStats(ruleset: string): RulesetStats {
    const t = parseTable(ruleset);
    const rules = [...t.chains.values()].reduce((a, c) => a + c.rules.length, 0);
    const elements = [...t.sets.values()].reduce((a, x) => a + x.elements.length, 0);
    return { rules, elements, bytes: Buffer.byteLength(ruleset, "utf8") };
}

export interface Spread {
    min: number;
    avg: number;
    max: number;
    total: number;
}

export function spread(values: number[]): Spread {
    if (values.length === 0) return { min: 0, avg: 0, max: 0, total: 0 };
    const total = values.reduce((a, b) => a + b, 0);
    return { min: Math.min(...values), avg: total / values.length, max: Math.max(...values), total };
}

/** Per-resource step durations and engine milestones, from the Automation API's event stream. */
export class StepTimer {
    private readonly t0: number;
    private started = new Map<string, { type: string; at: number }>();
    readonly steps: { urn: string; type: string; op: string; ms: number; start: number }[] = [];
    firstEventMs?: number;
    /** First resource the program registers (the stack): start-up of CLI, engine and program. */
    firstResourceMs?: number;
    firstCustomMs?: number;
    lastOutputMs?: number;
    constructor(private readonly now: () => number = Date.now) {
        this.t0 = now();
    }

    on = (e: EngineEvent): void => {
        const t = this.now() - this.t0;
        if (this.firstEventMs === undefined && (e.resourcePreEvent || e.preludeEvent)) this.firstEventMs = t;
        if (e.resourcePreEvent) {
            const m = e.resourcePreEvent.metadata;
            if (this.firstResourceMs === undefined) this.firstResourceMs = t;
            if (m.op === "same" || !(m.new?.custom ?? m.old?.custom) || m.type.startsWith("pulumi:")) return;
            if (this.firstCustomMs === undefined) this.firstCustomMs = t;
            this.started.set(`${m.urn}|${m.op}`, { type: m.type, at: t });
        } else if (e.resOutputsEvent) {
            const m = e.resOutputsEvent.metadata;
            const s = this.started.get(`${m.urn}|${m.op}`);
            if (!s) return;
            this.started.delete(`${m.urn}|${m.op}`);
            this.steps.push({ urn: m.urn, type: s.type, op: m.op, ms: t - s.at, start: s.at });
            this.lastOutputMs = t;
        }
    };

    /** Mean and max step time per resource type and operation, sorted by total time. */
    byType(): { type: string; op: string; count: number; avgMs: number; maxMs: number; totalMs: number }[] {
        const m = new Map<string, number[]>();
        for (const s of this.steps) m.set(`${s.type} ${s.op}`, [...(m.get(`${s.type} ${s.op}`) ?? []), s.ms]);
        return [...m]
            .map(([k, v]) => {
                const [type, op] = k.split(" ");
                const sp = spread(v);
                return { type, op, count: v.length, avgMs: Math.round(sp.avg), maxMs: sp.max, totalMs: sp.total };
            })
            .sort((a, b) => b.totalMs - a.totalMs);
    }
}

/** SSH sessions of one command per node (min/avg/max over the nodes, total), from the provider's PINHOLE_SSH_LOG. */
export function sessionsPerNode(logText: string, nodes: string[], only?: string[]): Spread {
    const count = new Map(nodes.map((n) => [n, 0]));
    for (const line of logText.split("\n")) {
        if (!line.trim()) continue;
        const node = (JSON.parse(line) as { node?: string }).node ?? "";
        if (count.has(node)) count.set(node, count.get(node)! + 1);
    }
    return spread([...count].filter(([n]) => !only || only.includes(n)).map(([, c]) => c));
}

export interface Phase {
    ms: number;
    changes?: Record<string, number>;
    sessions?: Spread;
}

/** Size of a stack's state (what the file backend rewrites after every step), total and by what holds it. */
export interface StateSize {
    bytes: number;
    /** Bytes of each resource type's entries (inputs, outputs and the rest), largest first. */
    byType: { type: string; count: number; bytes: number }[];
    /** The largest properties: `<type> inputs|outputs.<key>`, bytes over every resource of the type. */
    topProperties: { property: string; bytes: number }[];
}

interface ExportedResource {
    type?: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}

/** StateSize of an exported deployment (`stack.exportStack()`), as the backend stores it (JSON). */
export function stateSize(exported: unknown, top = 8): StateSize {
    const e = exported as { deployment?: { resources?: ExportedResource[] } } | undefined;
    const resources = e?.deployment?.resources ?? [];
    const len = (v: unknown) => (v === undefined ? 0 : JSON.stringify(v).length);
    const types = new Map<string, { count: number; bytes: number }>();
    const props = new Map<string, number>();
    for (const r of resources) {
        const type = r.type ?? "?";
        const t = types.get(type) ?? { count: 0, bytes: 0 };
        types.set(type, { count: t.count + 1, bytes: t.bytes + len(r) });
        for (const part of ["inputs", "outputs"] as const) {
            for (const [k, v] of Object.entries(r[part] ?? {}))
                props.set(`${type} ${part}.${k}`, (props.get(`${type} ${part}.${k}`) ?? 0) + len(v));
        }
    }
    return {
        bytes: len(exported),
        byType: [...types].map(([type, t]) => ({ type, ...t })).sort((a, b) => b.bytes - a.bytes),
        topProperties: [...props]
            .map(([property, bytes]) => ({ property, bytes }))
            .sort((a, b) => b.bytes - a.bytes)
            .slice(0, top),
    };
}

export interface SizeResult {
    nodes: number;
    labUpMs: number;
    resources: number;
    cold: Phase;
    noop: Phase;
    preview: Phase;
    changePreview: Phase;
    changeUp: Phase;
    /** `pulumi refresh` of the converged cluster. */
    refresh?: Phase;
    /** The one-node change's up: sessions of the nodes whose firewall it updated, and of the others. */
    changeSessions?: { changed: Spread; unchanged: Spread };
    destroy: Phase;
    /** Parallel SSH sessions, one per node, loading the same rulesets with nft -f. */
    floorMs: number;
    /** Parallel SSH sessions, one per node, running `true`: the SSH part of the floor. */
    sshOnlyMs: number;
    ruleset: { rules: Spread; elements: Spread; bytes: Spread };
    /** Cold up: engine milestones and per-type step times. */
    coldDetail: {
        firstEventMs?: number;
        firstCustomMs?: number;
        lastOutputMs?: number;
        byType: ReturnType<StepTimer["byType"]>;
    };
    /** The one-node change's up and the destroy: the same detail. */
    changeDetail?: SizeResult["coldDetail"];
    destroyDetail?: SizeResult["coldDetail"];
    changedNode: string;
    parallel?: number;
    /** The machine's 1-minute load average when the size started and when it ended (other work on the machine). */
    load?: { start: number; end: number };
    /** Time from the command's start to the first registered resource (engine events, polled every 0.2 s). */
    startup?: { noopFirstResourceMs?: number; previewFirstResourceMs?: number; coldFirstResourceMs?: number };
    /** Peak resident memory of each process during the cold up. */
    memory?: { engineMiB: number; languageHostMiB: number; programMiB: number; providerMiB: number };
    /** The stack's state after the cold up. */
    state?: StateSize;
    /** The proof after apply, measured after the apply (tools/bench/proof-cost.ts). */
    proof?: ProofCost | { error: string };
    /** The engine's floor: as many trivial resources, no SSH (tools/bench/engine-floor.ts). */
    engineFloor?: EngineFloor;
    /** The same job with Ansible (bench/ansible/firewall.yml), same lab, same run. */
    ansible?: {
        coldMs: number;
        noopMs: number;
        checkMs: number;
        changeMs: number;
        coldHosts: number;
        noopHosts: number;
        changeHosts: number;
    };
}

export interface BenchReport {
    startedAt: string;
    machine: { cpus: number; memGiB: number; node: string; pulumi: string };
    parallel?: number;
    /** PULUMI_PARALLEL_DIFF: the engine runs the providers' Diff calls in parallel. */
    parallelDiff?: boolean;
    micro: Record<string, number>;
    sizes: SizeResult[];
    /** The issue's targets, checked against this run (tools/bench/targets.ts). */
    targets?: { what: string; measured: string; ok?: boolean }[];
}

const s = (ms: number) => (ms / 1000).toFixed(1);
const r = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}x` : "-");

const BENCH_COLUMNS = [
        "nodes",
        "res",
        "lab up",
        "cold up",
        "no-op up",
        "preview",
        "1-node prev",
        "1-node up",
        "destroy",
        "floor",
        "ssh only",
        "cold/floor",
        "noop/floor",
        "prev/floor",
        "chg up/floor",
        "destroy/floor",
        "rules/node",
        "elems/node",
        "bytes/node",
];

/** One size's row of the bench table, in BENCH_COLUMNS' order. */
function benchRow(x: SizeResult): string[] {
    return [
        String(x.nodes),
        String(x.resources),
        s(x.labUpMs),
        s(x.cold.ms),
        s(x.noop.ms),
        s(x.preview.ms),
        s(x.changePreview.ms),
        `${s(x.changeUp.ms)} (${x.changeUp.changes?.update ?? 0} upd)`,
        s(x.destroy.ms),
        s(x.floorMs),
        s(x.sshOnlyMs),
        r(x.cold.ms, x.floorMs),
        r(x.noop.ms, x.floorMs),
        r(x.preview.ms, x.floorMs),
        r(x.changeUp.ms, x.floorMs),
        r(x.destroy.ms, x.floorMs),
        `${Math.round(x.ruleset.rules.avg)} (max ${x.ruleset.rules.max})`,
        `${Math.round(x.ruleset.elements.avg)} (max ${x.ruleset.elements.max})`,
        `${Math.round(x.ruleset.bytes.avg)} (max ${x.ruleset.bytes.max})`,
    ];
}

export function formatBenchTable(rep: BenchReport): string {
    const rows: string[][] = [BENCH_COLUMNS, ...rep.sizes.map(benchRow)];
    const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    const lines = rows.map((row) => row.map((c, i) => c.padStart(w[i])).join("  "));
    lines.splice(1, 0, w.map((n) => "-".repeat(n)).join("  "));
    const load = rep.sizes
        .filter((x) => x.load)
        .map((x) => `${x.nodes}: ${x.load!.start.toFixed(1)}-${x.load!.end.toFixed(1)}`)
        .join(", ");
    return (
        [
            `times in seconds (wall); engine --parallel ${rep.parallel ?? "default (4 x CPUs)"}${rep.parallelDiff ? ", parallel diffs" : ""}; ${rep.machine.cpus} CPUs${load ? `; load average (1 min) at start-end of each size: ${load}` : ""}`,
            ...lines,
        ].join("\n") + "\n"
    );
}

/** Growth from the smallest to the largest size, and what a resource step costs. */
export function analyse(rep: BenchReport): string[] {
    if (rep.sizes.length === 0) return [];
    const a = rep.sizes[0],
        b = rep.sizes[rep.sizes.length - 1];
    const out = [...(a !== b ? growth(a, b) : []), ...stepDetails(a, b), ...sessionsAndState(rep)];
    const micro = Object.entries(rep.micro)
        .map(([k, v]) => `${k} ${s(v)} s`)
        .join(", ");
    if (micro) out.push(`fixed costs measured alone: ${micro}`);
    return out;
}

/** From the smallest size `a` to the largest `b`: times and ruleset sizes. */
function growth(a: SizeResult, b: SizeResult): string[] {
    const out: string[] = [];
    const per = (x: number, y: number) => ((y - x) / Math.max(1, b.nodes - a.nodes) / 1000).toFixed(2);
    out.push(
        `from ${a.nodes} to ${b.nodes} nodes (${(b.nodes / a.nodes).toFixed(0)}x): cold up ${s(a.cold.ms)} → ${s(b.cold.ms)} s (${(b.cold.ms / a.cold.ms).toFixed(1)}x, +${per(a.cold.ms, b.cold.ms)} s per node), ` +
            `no-op up ${s(a.noop.ms)} → ${s(b.noop.ms)} s (${(b.noop.ms / a.noop.ms).toFixed(1)}x), preview ${s(a.preview.ms)} → ${s(b.preview.ms)} s, ` +
            `destroy ${s(a.destroy.ms)} → ${s(b.destroy.ms)} s (${(b.destroy.ms / a.destroy.ms).toFixed(1)}x), floor ${s(a.floorMs)} → ${s(b.floorMs)} s`,
    );
    out.push(
        `ruleset per node: ${Math.round(a.ruleset.rules.avg)} → ${Math.round(b.ruleset.rules.avg)} rules (named sets: rules grow with roles and ports, not peers), ` +
            `${Math.round(a.ruleset.elements.avg)} → ${Math.round(b.ruleset.elements.avg)} set elements, ${Math.round(a.ruleset.bytes.avg)} → ${Math.round(b.ruleset.bytes.avg)} bytes`,
    );
    return out;
}

/** Engine milestones and the slowest resource types: cold up of the smallest and largest, change and destroy of the largest. */
function stepDetails(a: SizeResult, b: SizeResult): string[] {
    const out: string[] = [];
    for (const x of a === b ? [a] : [a, b]) {
        const top = x.coldDetail.byType
            .slice(0, 4)
            .map((t) => `${t.type.replace(/^pinhole:/, "")} ${t.op} ×${t.count} avg ${s(t.avgMs)} s`)
            .join(", ");
        out.push(
            `${x.nodes} nodes, cold up: first event after ${s(x.coldDetail.firstEventMs ?? 0)} s, first resource step after ${s(x.coldDetail.firstCustomMs ?? 0)} s, ` +
                `last step done at ${s(x.coldDetail.lastOutputMs ?? 0)} s of ${s(x.cold.ms)} s; steps: ${top}`,
        );
    }
    for (const [what, d] of [
        ["one-node change up", b.changeDetail],
        ["destroy", b.destroyDetail],
    ] as const) {
        if (!d) continue;
        const top = d.byType
            .slice(0, 3)
            .map((t) => `${t.type.replace(/^pinhole:/, "")} ${t.op} ×${t.count} avg ${s(t.avgMs)} s`)
            .join(", ");
        out.push(
            `${b.nodes} nodes, ${what}: first resource step after ${s(d.firstCustomMs ?? 0)} s, last done at ${s(d.lastOutputMs ?? 0)} s; steps: ${top}`,
        );
    }
    return out;
}

/** SSH sessions per node of each command, and the state's size, per size. */
function sessionsAndState(rep: BenchReport): string[] {
    const out: string[] = [];
    for (const x of rep.sizes) {
        const f = (p?: Spread) => (p ? (p.min === p.max ? `${p.min}` : `${p.min}-${p.max}`) : "-");
        if (!x.noop.sessions) continue;
        out.push(
            `${x.nodes} nodes, SSH sessions per node: cold up ${f(x.cold.sessions)}, no-op up ${f(x.noop.sessions)}, preview ${f(x.preview.sessions)}, ` +
                `refresh ${f(x.refresh?.sessions)}${x.refresh ? ` (${s(x.refresh.ms)} s)` : ""}, one-node change up: changed nodes ${f(x.changeSessions?.changed)}, the others ${f(x.changeSessions?.unchanged)}`,
        );
    }
    for (const x of rep.sizes.filter((y) => y.state)) {
        const st = x.state!;
        const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
        out.push(
            `${x.nodes} nodes, state after cold up: ${kb(st.bytes)} (${kb(st.bytes / x.nodes)} per node); largest: ` +
                st.topProperties
                    .slice(0, 4)
                    .map((p) => `${p.property.replace(/^pinhole:/, "")} ${kb(p.bytes)}`)
                    .join(", "),
        );
    }
    return out;
}
