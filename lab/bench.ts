// `npm run lab -- bench [--model unified] [--sizes 6,24,48] [--boot]`: how long the lab takes to come up and go
// down, and how much memory a node costs (RSS and PSS of every process in its namespace: sshd, nginx master and
// worker, labnet; on the booted tier every process of the container, systemd and journald included). With --boot
// also the `systemctl reboot` of one node and each node's disk (its overlay's upper layer). A measurement, not a
// test: it prints a table and asserts nothing.
import * as path from "path";
import { checkBootPrerequisites } from "./boot";
import { ensureBootImage } from "./boot-image";
import { labDown, labUp, nodeMemory, reboot } from "./index";
import { LabModel } from "./shapes";
import { nodeDir } from "./state";
import { run } from "./sys";

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
    /** Booted tier: `systemctl reboot` of the first node until sshd, nginx and the listener answer again. */
    rebootSeconds?: number;
    /** Booted tier: mean size of a node's overlay upper layer after boot, KiB. */
    diskKiB?: number;
}

const quiet = () => undefined;

/** Mean disk use (KiB) of the booted nodes' overlay upper layers. */
async function upperKiB(names: string[]): Promise<number> {
    const r = await run("du", ["-sk", ...names.map((n) => path.join(nodeDir(n), "boot", "upper"))], {
        allowFail: true,
    });
    const sizes = r.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => Number(l.split(/\s+/)[0]));
    return sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length);
}

export async function benchOnce(model: LabModel, nodes: number, boot = false): Promise<BenchRow> {
    await labDown({ log: quiet });
    let t = Date.now();
    const lab = await labUp({ model, nodes, writeStack: false, setSecret: false, log: quiet, boot });
    const upSeconds = (Date.now() - t) / 1000;
    t = Date.now();
    await labUp({ model, nodes, writeStack: false, setSecret: false, log: quiet, boot });
    const upAgainSeconds = (Date.now() - t) / 1000;
    const booted = boot
        ? {
              rebootSeconds: (await reboot(lab.nodes[0].name)).ms / 1000,
              diskKiB: await upperKiB(lab.nodes.map((n) => n.name)),
          }
        : {};
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
        ...booted,
    };
    t = Date.now();
    await labDown({ log: quiet });
    row.downSeconds = (Date.now() - t) / 1000;
    return row;
}

const mib = (k: number) => (k / 1024).toFixed(1);

export function formatBench(model: LabModel, rows: BenchRow[]): string {
    const boot = rows.some((r) => r.rebootSeconds !== undefined);
    const names = boot ? [] : [...new Set(rows.flatMap((r) => Object.keys(r.byProcess)))].sort();
    const head = [
        "nodes",
        "up (s)",
        "up again (s)",
        "down (s)",
        "RSS/node (MiB)",
        "PSS/node (MiB)",
        "procs/node",
        ...(boot ? ["reboot of one (s)", "disk/node (MiB)"] : []),
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
        ...(boot ? [r.rebootSeconds?.toFixed(1) ?? "", mib(r.diskKiB ?? 0)] : []),
        ...names.map((x) => mib(r.byProcess[x] ?? 0)),
    ]);
    const lines = [
        `| ${head.join(" | ")} |`,
        `|${head.map(() => "---").join("|")}|`,
        ...body.map((b) => `| ${b.join(" | ")} |`),
    ];
    return `lab bench, model ${model}${boot ? " (booted tier)" : ""}\n${lines.join("\n")}`;
}

export async function runBench(model: LabModel, sizes: number[], boot = false): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    if (boot) {
        // the image first, so that "up" is the start of the nodes (a first build is reported on its own)
        checkBootPrerequisites();
        const image = await ensureBootImage((m) => process.stderr.write(`[bench] ${m}\n`));
        process.stderr.write(
            `[bench] booted-node image ${image.key}: ${image.built ? `built in ${(image.ms / 1000).toFixed(1)} s` : "cached"}\n`,
        );
    }
    for (const size of sizes) {
        process.stderr.write(`[bench] ${model} with ${size} nodes${boot ? " (booted tier)" : ""} ...\n`);
        const row = await benchOnce(model, size, boot);
        process.stderr.write(
            `[bench]   up ${row.upSeconds.toFixed(1)} s, down ${row.downSeconds.toFixed(1)} s, ${mib(row.rssKiB)} MiB RSS per node\n`,
        );
        rows.push(row);
    }
    process.stdout.write(formatBench(model, rows) + "\n");
    return rows;
}
