// npm run bench -- [--sizes 6,12,24,48,96] [--json FILE] [--parallel N] [--sudo] [--keep-lab] [--no-ansible]
// Per size, a modular lab of N nodes and the real engine (stack lab-bench; the apply is measured, the proof after it
// is off): cold up, no-op up, preview, a one-node change (db-1's address: preview + up), destroy; ruleset sizes; the
// floor (parallel SSH sessions loading the rulesets with `nft -f`). Prints a table, writes JSON, takes the lab down.
// One size is size.ts; the fixed costs micro.ts; the Ansible comparison versus-ansible.ts.
import "../common/help-gate";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { labDown, labStatus } from "../../lab";
import { analyse, BenchReport, formatBenchTable } from "./report";
import { formatProofCost } from "./proof-cost";
import { formatEngineFloor } from "./engine-floor";
import { formatComparison, targets } from "./targets";
import { waitForForeignLabHolders } from "../start/lab";
import { BenchArgs, parseBenchArgs } from "./args";
import { PROJECT_ROOT, pulumiDir, usePulumiEnv } from "../common/pulumi-env";
import { ensureAnsible } from "./ansible";
import { BENCH_USAGE } from "../common/usage";
import { SshConnectionInput } from "../../remote/ssh";
import { log } from "./nodes";
import { benchSize } from "./size";
import { micro } from "./micro";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The lab's key exists once a lab was brought up in this checkout (the first size does it).
const labKey = () => fs.readFileSync(path.join(PROJECT_ROOT, ".lab", "ssh", "id_ed25519"), "utf8").toString();

function newReport(args: BenchArgs, env: Record<string, string>): BenchReport {
    return {
        startedAt: new Date().toISOString(),
        machine: {
            cpus: os.cpus().length,
            memGiB: Math.round(os.totalmem() / 2 ** 30),
            node: process.version,
            pulumi: spawnSync(path.join(pulumiDir(), "pulumi"), ["version"], { encoding: "utf8" }).stdout.trim(),
        },
        parallel: args.parallel ?? Number(env.PULUMI_PARALLEL),
        parallelDiff: env.PULUMI_PARALLEL_DIFF === "true",
        micro: {},
        sizes: [],
    };
}

/** The first node of the lab that is up, to time one SSH session to it. */
async function firstNode(): Promise<SshConnectionInput | undefined> {
    const n0 = (await labStatus()).nodes[0];
    if (!n0) return undefined;
    return {
        host: n0.sshHost,
        port: n0.sshPort,
        user: n0.sshUser,
        hostKey: n0.hostKey,
        sudo: n0.sudo,
        privateKey: labKey(),
        node: n0.name,
    };
}

/** Each size in turn (the fixed costs after the first), the table after each; the lab down at the end. */
async function runSizes(args: BenchArgs, env: Record<string, string>, report: BenchReport, write: () => void) {
    try {
        for (const n of args.sizes) {
            report.sizes.push(await benchSize(n, args, env, labKey));
            write();
            process.stdout.write(formatBenchTable(report));
            if (report.sizes.length === 1) report.micro = await micro(env, await firstNode());
            await sleep(500);
        }
    } finally {
        write();
        if (!args.keepLab)
            await labDown({ log: (m) => log(`  lab: ${m}`) }).catch((e: Error) => log(`lab down failed: ${e.message}`));
    }
}

async function main(argv: string[]): Promise<number> {
    const args = parseBenchArgs(argv);
    if (typeof args === "string") {
        (args === BENCH_USAGE ? process.stdout : process.stderr).write(args + "\n");
        return args === BENCH_USAGE ? 0 : 64;
    }
    if (process.getuid?.() !== 0) throw new Error("the benchmark runs the lab: run it as root");
    const env: Record<string, string> = {
        ...usePulumiEnv(),
        PINHOLE_SSH_LOG: path.join(PROJECT_ROOT, ".lab", "bench-ssh-sessions.log"),
    };
    if (args.ansible) ensureAnsible(log);
    await waitForForeignLabHolders(log);
    const report = newReport(args, env);
    const write = () => {
        if (args.json) fs.writeFileSync(args.json, JSON.stringify(report, null, 2) + "\n");
    };
    await runSizes(args, env, report, write);
    process.stdout.write(
        `\n${formatBenchTable(report)}\n${formatComparison(report)}\n${analyse(report)
            .map((l) => `- ${l}`)
            .join("\n")}\n${[...formatProofCost(report.sizes), ...formatEngineFloor(report.sizes)]
            .map((l) => `- ${l}`)
            .join("\n")}\n`,
    );
    report.targets = targets(report);
    write();
    process.stdout.write(
        `\ntargets:\n${report.targets.map((t) => `- ${t.ok === undefined ? "n/a" : t.ok ? "MET " : "MISSED"} ${t.what}: ${t.measured}`).join("\n")}\n`,
    );
    if (args.json) process.stdout.write(`\nJSON: ${args.json}\n`);
    return 0;
}

main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: Error) => {
        process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
        process.exit(1);
    },
);
