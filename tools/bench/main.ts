// npm run bench -- [--sizes 6,12,24,48,96] [--json FILE] [--parallel N] [--sudo] [--keep-lab] [--no-ansible]
// Per size, a modular lab of N nodes and the real engine (stack lab-bench; the apply is measured, the proof after it
// is off): cold up, no-op up, preview, a one-node change (db-1's address: preview + up), destroy; ruleset sizes; the
// floor (parallel SSH sessions loading the rulesets with `nft -f`). Prints a table, writes JSON, takes the lab down.
import "../common/help-gate";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { labDown, labStatus, labUp } from "../../lab";
import { stackFilePath } from "../../model/config";
import { readStack } from "../common/stack-file";
import { buildPolicy } from "../../model/policy";
import { ClusterModel } from "../../model/types";
import { runScript, SshConnectionInput } from "../../remote/ssh";
import { removeTableTransaction, renderRuleset, replaceTableTransaction } from "../../render/nftables";
import {
    analyse,
    BenchReport,
    formatBenchTable,
    rulesetStats,
    sessionsPerNode,
    SizeResult,
    spread,
    stateSize,
    StepTimer,
} from "./report";
import { formatComparison, targets } from "./targets";
import { waitForForeignLabHolders } from "../start/lab";
import { BenchArgs, parseBenchArgs } from "./args";
import { PROJECT_ROOT, pulumiDir, usePulumiEnv } from "../common/pulumi-env";
import { AnsibleHost, ensureAnsible, peakMemory, runPlay } from "./ansible";
import { BENCH_USAGE } from "../common/usage";

/** The lab writes its config (lab/stack.ts) and secret; stacks/Pulumi.lab-*.yaml is git-ignored. */
const STACK = "lab-bench";
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
    const t = Date.now();
    const value = await fn();
    return { ms: Date.now() - t, value };
}

/** Removes the bench stack (state and config file) whatever a previous run left. */
async function dropStack(env: Record<string, string>): Promise<void> {
    const ws = await LocalWorkspace.create({ workDir: PROJECT_ROOT, envVars: env });
    await ws.removeStack(STACK, { force: true }).catch(() => undefined);
    fs.rmSync(stackFilePath(path.join(PROJECT_ROOT, "stacks"), STACK), { force: true });
}

function connections(model: ClusterModel, key: string): SshConnectionInput[] {
    return model.nodes.map((n) => ({
        host: n.ssh.host,
        port: n.ssh.port,
        user: n.ssh.user,
        hostKey: n.ssh.hostKey,
        sudo: n.ssh.sudo,
        privateKey: key,
        node: n.name,
    }));
}

/** One SSH session per node, all at once; each runs `script(node)`. Throws if any fails. */
async function everyNode(conns: SshConnectionInput[], script: (node: string) => string): Promise<number> {
    const t = Date.now();
    const rs = await Promise.all(conns.map((c) => runScript(c, script(c.node!), { timeoutMs: 120_000 })));
    const bad = rs.map((r, i) => [r, conns[i]] as const).filter(([r]) => r.code !== 0);
    if (bad.length)
        throw new Error(
            `floor: ${bad.map(([r, c]) => `${c.node}: exit ${r.code} ${r.stderr.trim().split("\n").pop()}`).join("; ")}`,
        );
    return Date.now() - t;
}

const detail = (t: StepTimer) => ({
    firstEventMs: t.firstEventMs,
    firstCustomMs: t.firstCustomMs,
    lastOutputMs: t.lastOutputMs,
    byType: t.byType(),
});

const nftScript = (transaction: string) =>
    `PATH=/usr/sbin:/usr/bin:/sbin:/bin\nnft -f - <<'PINHOLE_NFT'\n${transaction}PINHOLE_NFT\n`;

/**
 * The same job with Ansible (bench/ansible/firewall.yml), same lab, same rulesets: cold (no table on the nodes),
 * no-op, --check (its preview) and the same one-node change as pinhole's (a database node's address).
 */
async function benchAnsible(
    n: number,
    model: ClusterModel,
    conns: SshConnectionInput[],
): Promise<NonNullable<SizeResult["ansible"]>> {
    const dir = path.join(PROJECT_ROOT, ".lab", "bench-ansible");
    const keyFile = path.join(PROJECT_ROOT, ".lab", "ssh", "id_ed25519");
    const hostsFor = (m: ClusterModel): AnsibleHost[] =>
        buildPolicy(m).map((p) => {
            const c = conns.find((x) => x.node === p.node.name)!;
            return {
                name: p.node.name,
                host: c.host,
                port: c.port,
                user: c.user,
                hostKey: c.hostKey,
                sudo: c.sudo,
                transaction: replaceTableTransaction(renderRuleset(p, m.firewall)),
            };
        });
    const hosts = hostsFor(model);
    const clean = () =>
        everyNode(conns, () => `${nftScript(removeTableTransaction())}rm -f /etc/pinhole/ansible-firewall.nft\n`);
    await clean();
    log(`${n} nodes: Ansible (forks ${hosts.length}): cold, no-op, --check, one-node change`);
    const cold = await runPlay(PROJECT_ROOT, dir, hosts, keyFile);
    const noop = await runPlay(PROJECT_ROOT, dir, hosts, keyFile);
    const check = await runPlay(PROJECT_ROOT, dir, hosts, keyFile, { check: true });
    const moved = structuredClone(model);
    moved.nodes.find((x) => x.role === "database")!.address = "10.77.9.1";
    const change = await runPlay(PROJECT_ROOT, dir, hostsFor(moved), keyFile);
    await clean();
    return {
        coldMs: cold.ms,
        noopMs: noop.ms,
        checkMs: check.ms,
        changeMs: change.ms,
        changeHosts: change.changed.length,
        coldHosts: cold.changed.length,
        noopHosts: noop.changed.length,
    };
}

async function benchSize(
    n: number,
    args: BenchArgs,
    env: Record<string, string>,
    labKey: () => string,
): Promise<SizeResult> {
    const loadStart = os.loadavg()[0];
    log(`--- ${n} nodes: lab up`);
    await dropStack(env);
    const lab = await timed(() =>
        labUp({ model: "modular", nodes: n, sudoUser: args.sudo, stack: STACK, log: (m) => log(`  lab: ${m}`) }),
    );
    if (!lab.value.up || !lab.value.stackFile) throw new Error(`the ${n}-node lab did not come up`);
    const parsed = readStack(STACK, { dir: path.dirname(lab.value.stackFile) });
    if (!parsed.model)
        throw new Error(
            `bench stack config invalid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
        );
    const model = parsed.model;
    const stack = await LocalWorkspace.selectStack({ stackName: STACK, workDir: PROJECT_ROOT }, { envVars: env });
    await stack.setConfig("pinhole:proof.enabled", { value: "false" }, true);
    const policies = buildPolicy(model);
    const rulesets = new Map(policies.map((p) => [p.node.name, renderRuleset(p, model.firewall)]));
    const stats = [...rulesets.values()].map(rulesetStats);
    const conns = connections(model, labKey());

    log(`${n} nodes: floor (${conns.length} parallel SSH sessions: nft -f; then: true)`);
    const floorMs = await everyNode(conns, (node) => nftScript(replaceTableTransaction(rulesets.get(node)!)));
    await everyNode(conns, () => nftScript(removeTableTransaction()));
    const sshOnlyMs = await everyNode(conns, () => "true\n");

    const ansible = args.ansible ? await benchAnsible(n, model, conns) : undefined;

    // The provider logs each SSH session it opens (PINHOLE_SSH_LOG): sessions per node of each command.
    const names = model.nodes.map((x) => x.name);
    const sshLog = env.PINHOLE_SSH_LOG;
    const resetSessions = () => fs.writeFileSync(sshLog, "");
    const sessions = (only?: string[]) => sessionsPerNode(fs.readFileSync(sshLog, "utf8"), names, only);
    const par = args.parallel ? { parallel: args.parallel } : {};
    const quiet = { color: "never" as const, ...par };
    log(`${n} nodes: cold up`);
    const timer = new StepTimer();
    resetSessions();
    const coldRun = await peakMemory(() => timed(() => stack.up({ ...quiet, onEvent: timer.on })));
    const cold = coldRun.value;
    if (cold.value.summary.result !== "succeeded") throw new Error(`cold up: ${cold.value.summary.result}`);
    const coldSessions = sessions();
    const resources =
        (cold.value.summary.resourceChanges?.create ?? 0) + (cold.value.summary.resourceChanges?.same ?? 0);
    const state = stateSize(await stack.exportStack());
    log(`${n} nodes: no-op up, preview, refresh`);
    const noopTimer = new StepTimer();
    resetSessions();
    const noop = await timed(() => stack.up({ ...quiet, onEvent: noopTimer.on }));
    const noopSessions = sessions();
    const previewTimer = new StepTimer();
    resetSessions();
    const preview = await timed(() => stack.preview({ ...quiet, onEvent: previewTimer.on }));
    const previewSessions = sessions();
    resetSessions();
    const refresh = await timed(() => stack.refresh(quiet));
    const refreshSessions = sessions();

    const changed = model.nodes.find((x) => x.role === "database")!;
    const idx = model.nodes.indexOf(changed);
    log(`${n} nodes: one-node change (${changed.name}'s address), preview + up`);
    await stack.setConfig(`pinhole:nodes[${idx}].address`, { value: "10.77.9.1" }, true);
    const changePreview = await timed(() => stack.preview(quiet));
    const changeTimer = new StepTimer();
    const updated = new Set<string>();
    resetSessions();
    const changeUp = await timed(() =>
        stack.up({
            ...quiet,
            onEvent: (e) => {
                changeTimer.on(e);
                const m = e.resourcePreEvent?.metadata;
                const node =
                    m?.type === "pinhole:node:Firewall" && m.op === "update"
                        ? (m.new?.inputs as { node?: string } | undefined)?.node
                        : undefined;
                if (node) updated.add(node);
            },
        }),
    );
    const changeSessions = {
        changed: sessions([...updated]),
        unchanged: sessions(names.filter((x) => !updated.has(x))),
    };
    await stack.setConfig(`pinhole:nodes[${idx}].address`, { value: changed.address }, true);
    await stack.up(quiet); // back (not measured)
    log(`${n} nodes: destroy`);
    const destroyTimer = new StepTimer();
    const destroy = await timed(() => stack.destroy({ ...quiet, onEvent: destroyTimer.on }));
    await dropStack(env);

    const changes = (s: { summary: { resourceChanges?: Record<string, number> } }) =>
        (s.summary.resourceChanges ?? {}) as Record<string, number>;
    return {
        nodes: n,
        labUpMs: lab.ms,
        resources,
        cold: { ms: cold.ms, changes: changes(cold.value), sessions: coldSessions },
        noop: { ms: noop.ms, changes: changes(noop.value), sessions: noopSessions },
        preview: {
            ms: preview.ms,
            changes: preview.value.changeSummary as Record<string, number>,
            sessions: previewSessions,
        },
        refresh: { ms: refresh.ms, changes: changes(refresh.value), sessions: refreshSessions },
        changeSessions,
        changePreview: { ms: changePreview.ms, changes: changePreview.value.changeSummary as Record<string, number> },
        changeUp: { ms: changeUp.ms, changes: changes(changeUp.value) },
        destroy: { ms: destroy.ms, changes: changes(destroy.value) },
        floorMs,
        sshOnlyMs,
        ruleset: {
            rules: spread(stats.map((x) => x.rules)),
            elements: spread(stats.map((x) => x.elements)),
            bytes: spread(stats.map((x) => x.bytes)),
        },
        coldDetail: detail(timer),
        changeDetail: detail(changeTimer),
        destroyDetail: detail(destroyTimer),
        changedNode: changed.name,
        load: { start: loadStart, end: os.loadavg()[0] },
        ...(args.parallel ? { parallel: args.parallel } : {}),
        startup: {
            noopFirstResourceMs: noopTimer.firstResourceMs,
            previewFirstResourceMs: previewTimer.firstResourceMs,
            coldFirstResourceMs: timer.firstResourceMs,
        },
        memory: coldRun.peak,
        state,
        ...(ansible ? { ansible } : {}),
    };
}

/** Fixed costs, each measured alone: CLI start, provider plugin start (compiled), program modules (compiled), one SSH session. */
async function micro(
    env: Record<string, string>,
    conn: SshConnectionInput | undefined,
): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const med = async (k: string, n: number, fn: () => Promise<void> | void) => {
        const v: number[] = [];
        for (let i = 0; i < n; i++) {
            const t = Date.now();
            await fn();
            v.push(Date.now() - t);
        }
        out[k] = v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
    };
    await med("pulumi CLI start (pulumi version)", 3, () => {
        spawnSync(path.join(pulumiDir(), "pulumi"), ["version"], { env: { ...process.env, ...env } });
    });
    await med(
        "provider plugin start (compiled, until it serves)",
        3,
        () =>
            new Promise<void>((resolve) => {
                const p = spawn(
                    path.join(PROJECT_ROOT, "provider", "bin", "pulumi-resource-pinhole"),
                    ["127.0.0.1:1"],
                    { stdio: ["ignore", "pipe", "ignore"] },
                );
                p.stdout.once("data", () => {
                    p.kill("SIGKILL");
                    resolve();
                });
                p.on("exit", () => resolve());
            }),
    );
    await med("program modules load (compiled: @pulumi/pulumi, components, model)", 3, () => {
        spawnSync(
            process.execPath,
            [
                "-e",
                "require('../../scripts/dist/components/cluster'); require('../../scripts/dist/model/config'); require('../../scripts/dist/model/matrix')",
            ],
            { cwd: PROJECT_ROOT },
        );
    });
    if (conn)
        await med("one SSH session to a node (handshake + true)", 5, async () => {
            await runScript(conn, "true\n");
        });
    return out;
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
    // The lab's key exists once a lab was brought up in this checkout (the first size does it).
    const labKey = () => fs.readFileSync(path.join(PROJECT_ROOT, ".lab", "ssh", "id_ed25519"), "utf8").toString();
    const report: BenchReport = {
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
    const write = () => {
        if (args.json) fs.writeFileSync(args.json, JSON.stringify(report, null, 2) + "\n");
    };
    try {
        for (const n of args.sizes) {
            report.sizes.push(await benchSize(n, args, env, labKey));
            write();
            process.stdout.write(formatBenchTable(report));
            if (report.sizes.length === 1) {
                const st = await labStatus();
                const n0 = st.nodes[0];
                report.micro = await micro(
                    env,
                    n0
                        ? {
                              host: n0.sshHost,
                              port: n0.sshPort,
                              user: n0.sshUser,
                              hostKey: n0.hostKey,
                              sudo: n0.sudo,
                              privateKey: labKey(),
                              node: n0.name,
                          }
                        : undefined,
                );
            }
            await sleep(500);
        }
    } finally {
        write();
        if (!args.keepLab)
            await labDown({ log: (m) => log(`  lab: ${m}`) }).catch((e: Error) => log(`lab down failed: ${e.message}`));
    }
    process.stdout.write(
        `\n${formatBenchTable(report)}\n${formatComparison(report)}\n${analyse(report)
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
