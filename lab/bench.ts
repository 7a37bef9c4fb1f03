// `npm run lab -- bench [--model unified] [--sizes 6,24,48]`: how long the lab takes to come up and go down,
// and how much memory a node costs (RSS and PSS of every process in its namespace: sshd, nginx master and
// worker, labnet). A measurement, not a test: it prints a table and asserts nothing.
import { labDown, labUp, nodeMemory } from "./index";
import { LabModel } from "./shapes";

export interface BenchRow {
    nodes: number;
    upSeconds: number;
    upAgainSeconds: number;
    downSeconds: number;
    /** Mean per node, KiB. */
    rssKiB: number;
    pssKiB: number;
    /** Mean per node by process name (comm), KiB RSS. */
    byProcess: Record<string, number>;
    processesPerNode: number;
}

const quiet = () => undefined;

export async function benchOnce(model: LabModel, nodes: number): Promise<BenchRow> {
    await labDown({ log: quiet });
    let t = Date.now();
    await labUp({ model, nodes, writeStack: false, setSecret: false, log: quiet });
    const upSeconds = (Date.now() - t) / 1000;
    t = Date.now();
    await labUp({ model, nodes, writeStack: false, setSecret: false, log: quiet });
    const upAgainSeconds = (Date.now() - t) / 1000;
    const mem = await nodeMemory();
    const n = mem.length;
    const byProcess: Record<string, number> = {};
    for (const m of mem) for (const p of m.processes) byProcess[p.name] = (byProcess[p.name] ?? 0) + p.rssKiB / n;
    const row: BenchRow = {
        nodes: n,
        upSeconds,
        upAgainSeconds,
        downSeconds: 0,
        rssKiB: mem.reduce((a, m) => a + m.rssKiB, 0) / n,
        pssKiB: mem.reduce((a, m) => a + m.pssKiB, 0) / n,
        byProcess,
        processesPerNode: mem.reduce((a, m) => a + m.processes.length, 0) / n,
    };
    t = Date.now();
    await labDown({ log: quiet });
    row.downSeconds = (Date.now() - t) / 1000;
    return row;
}

const mib = (k: number) => (k / 1024).toFixed(1);

export function formatBench(model: LabModel, rows: BenchRow[]): string {
    const names = [...new Set(rows.flatMap((r) => Object.keys(r.byProcess)))].sort();
    const head = [
        "nodes",
        "up (s)",
        "up again (s)",
        "down (s)",
        "RSS/node (MiB)",
        "PSS/node (MiB)",
        "procs/node",
        ...names.map((x) => `${x} RSS (MiB)`),
    ];
    const body = rows.map((r) => [
        String(r.nodes),
        r.upSeconds.toFixed(1),
        r.upAgainSeconds.toFixed(1),
        r.downSeconds.toFixed(1),
        mib(r.rssKiB),
        mib(r.pssKiB),
        r.processesPerNode.toFixed(1),
        ...names.map((x) => mib(r.byProcess[x] ?? 0)),
    ]);
    const lines = [
        `| ${head.join(" | ")} |`,
        `|${head.map(() => "---").join("|")}|`,
        ...body.map((b) => `| ${b.join(" | ")} |`),
    ];
    return `lab bench, model ${model}\n${lines.join("\n")}`;
}

export async function runBench(model: LabModel, sizes: number[]): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const size of sizes) {
        process.stderr.write(`[bench] ${model} with ${size} nodes ...\n`);
        const row = await benchOnce(model, size);
        process.stderr.write(
            `[bench]   up ${row.upSeconds.toFixed(1)} s, down ${row.downSeconds.toFixed(1)} s, ${mib(row.rssKiB)} MiB RSS per node\n`,
        );
        rows.push(row);
    }
    process.stdout.write(formatBench(model, rows) + "\n");
    return rows;
}
