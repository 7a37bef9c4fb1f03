// One size of the benchmark: a modular lab of N nodes and the real engine (stack lab-bench): the floor, cold up,
// no-op up, preview, refresh, a one-node change (preview + up), destroy; each step timed, with SSH sessions per node.
import { measureProof, upFailureReason } from "./proof-cost";
import { engineFloor } from "./engine-floor";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { EngineEvent } from "@pulumi/pulumi/automation/events";
import { labUp } from "../../lab";
import { stackFilePath } from "../../model/config";
import { readStack } from "../common/stack-file";
import { buildPolicy } from "../../model/policy";
import { ClusterModel } from "../../model/types";
import { SshConnectionInput } from "../../remote/ssh";
import { removeTableTransaction, renderRuleset, replaceTableTransaction } from "../../render/nftables";
import { Phase, rulesetStats, sessionsPerNode, SizeResult, spread, stateSize, StepTimer } from "./report";
import { BenchArgs } from "./args";
import { PROJECT_ROOT } from "../common/pulumi-env";
import { peakMemory } from "./ansible";
import { connections, everyNode, log, nftScript } from "./nodes";
import { benchAnsible } from "./versus-ansible";

/** The lab writes its config (lab/stack.ts) and secret; stacks/Pulumi.lab-*.yaml is git-ignored. */
const STACK = "lab-bench";

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
    const t = Date.now();
    const value = await fn();
    return { ms: Date.now() - t, value };
}

/** Removes the bench stack (state and config file) whatever a previous run left. */
export async function dropStack(env: Record<string, string>): Promise<void> {
    const ws = await LocalWorkspace.create({ workDir: PROJECT_ROOT, envVars: env });
    await ws.removeStack(STACK, { force: true }).catch(() => undefined);
    fs.rmSync(stackFilePath(path.join(PROJECT_ROOT, "stacks"), STACK), { force: true });
}

const detail = (t: StepTimer) => ({
    firstEventMs: t.firstEventMs,
    firstCustomMs: t.firstCustomMs,
    lastOutputMs: t.lastOutputMs,
    byType: t.byType(),
});

const changes = (s: { summary: { resourceChanges?: Record<string, number> } }) =>
    (s.summary.resourceChanges ?? {}) as Record<string, number>;

type Options = { color: "never"; parallel?: number };

/** The provider logs each SSH session it opens (PINHOLE_SSH_LOG): sessions per node of each command. */
function sessionCounter(sshLog: string, names: string[]) {
    return {
        reset: () => fs.writeFileSync(sshLog, ""),
        read: (only?: string[]) => sessionsPerNode(fs.readFileSync(sshLog, "utf8"), names, only),
    };
}
type Sessions = ReturnType<typeof sessionCounter>;

/** The lab of n nodes, its validated model and the bench stack with the proof off. */
async function bringUp(n: number, args: BenchArgs, env: Record<string, string>) {
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
    const stack = await LocalWorkspace.selectStack({ stackName: STACK, workDir: PROJECT_ROOT }, { envVars: env });
    await stack.setConfig("pinhole:proof.enabled", { value: "false" }, true);
    return { labUpMs: lab.ms, model: parsed.model, stack };
}

/** The floor: parallel SSH sessions loading the same rulesets with nft -f, then only `true`. */
async function floor(n: number, model: ClusterModel, conns: SshConnectionInput[]) {
    const rulesets = new Map(buildPolicy(model).map((p) => [p.node.name, renderRuleset(p, model.firewall)]));
    const stats = [...rulesets.values()].map(rulesetStats);
    log(`${n} nodes: floor (${conns.length} parallel SSH sessions: nft -f; then: true)`);
    const floorMs = await everyNode(conns, (node) => nftScript(replaceTableTransaction(rulesets.get(node)!)));
    await everyNode(conns, () => nftScript(removeTableTransaction()));
    const sshOnlyMs = await everyNode(conns, () => "true\n");
    const ruleset = {
        rules: spread(stats.map((x) => x.rules)),
        elements: spread(stats.map((x) => x.elements)),
        bytes: spread(stats.map((x) => x.bytes)),
    };
    return { floorMs, sshOnlyMs, ruleset };
}

/** Cold up (with peak memory), no-op up, preview and refresh of the converged cluster. */
async function converge(n: number, stack: Stack, quiet: Options, sessions: Sessions) {
    log(`${n} nodes: cold up`);
    const timer = new StepTimer();
    sessions.reset();
    const coldRun = await peakMemory(() => timed(() => stack.up({ ...quiet, onEvent: timer.on })));
    const cold = coldRun.value;
    if (cold.value.summary.result !== "succeeded") throw new Error(`cold up: ${cold.value.summary.result}`);
    const coldPhase: Phase = { ms: cold.ms, changes: changes(cold.value), sessions: sessions.read() };
    const summary = cold.value.summary.resourceChanges;
    const resources = (summary?.create ?? 0) + (summary?.same ?? 0);
    const state = stateSize(await stack.exportStack());
    log(`${n} nodes: no-op up, preview, refresh`);
    const noopTimer = new StepTimer();
    sessions.reset();
    const noop = await timed(() => stack.up({ ...quiet, onEvent: noopTimer.on }));
    const noopPhase: Phase = { ms: noop.ms, changes: changes(noop.value), sessions: sessions.read() };
    const previewTimer = new StepTimer();
    sessions.reset();
    const preview = await timed(() => stack.preview({ ...quiet, onEvent: previewTimer.on }));
    const previewChanges = preview.value.changeSummary as Record<string, number>;
    const previewPhase: Phase = { ms: preview.ms, changes: previewChanges, sessions: sessions.read() };
    sessions.reset();
    const refresh = await timed(() => stack.refresh(quiet));
    const refreshPhase: Phase = { ms: refresh.ms, changes: changes(refresh.value), sessions: sessions.read() };
    return {
        resources,
        state,
        memory: coldRun.peak,
        cold: coldPhase,
        noop: noopPhase,
        preview: previewPhase,
        refresh: refreshPhase,
        coldDetail: detail(timer),
        startup: {
            noopFirstResourceMs: noopTimer.firstResourceMs,
            previewFirstResourceMs: previewTimer.firstResourceMs,
            coldFirstResourceMs: timer.firstResourceMs,
        },
    };
}

/** A database node's address changes: preview + up (which nodes' firewalls it updates), then back (not measured). */
async function oneNodeChange(n: number, model: ClusterModel, stack: Stack, quiet: Options, sessions: Sessions) {
    const changed = model.nodes.find((x) => x.role === "database")!;
    const idx = model.nodes.indexOf(changed);
    log(`${n} nodes: one-node change (${changed.name}'s address), preview + up`);
    await stack.setConfig(`pinhole:nodes[${idx}].address`, { value: "10.77.9.1" }, true);
    const changePreview = await timed(() => stack.preview(quiet));
    const changeTimer = new StepTimer();
    const updated = new Set<string>();
    const onEvent = (e: EngineEvent) => {
        changeTimer.on(e);
        const m = e.resourcePreEvent?.metadata;
        const node =
            m?.type === "pinhole:node:Firewall" && m.op === "update"
                ? (m.new?.inputs as { node?: string } | undefined)?.node
                : undefined;
        if (node) updated.add(node);
    };
    sessions.reset();
    const changeUp = await timed(() => stack.up({ ...quiet, onEvent }));
    const names = model.nodes.map((x) => x.name);
    const changeSessions = {
        changed: sessions.read([...updated]),
        unchanged: sessions.read(names.filter((x) => !updated.has(x))),
    };
    await stack.setConfig(`pinhole:nodes[${idx}].address`, { value: changed.address }, true);
    await stack.up(quiet); // back (not measured)
    return {
        changedNode: changed.name,
        changeSessions,
        changePreview: { ms: changePreview.ms, changes: changePreview.value.changeSummary as Record<string, number> },
        changeUp: { ms: changeUp.ms, changes: changes(changeUp.value) },
        changeDetail: detail(changeTimer),
    };
}

export async function benchSize(
    n: number,
    args: BenchArgs,
    env: Record<string, string>,
    labKey: () => string,
): Promise<SizeResult> {
    const loadStart = os.loadavg()[0];
    const { labUpMs, model, stack } = await bringUp(n, args, env);
    const conns = connections(model, labKey());
    const { floorMs, sshOnlyMs, ruleset } = await floor(n, model, conns);
    const ansible = args.ansible ? await benchAnsible(n, model, conns) : undefined;
    const sessions = sessionCounter(env.PINHOLE_SSH_LOG, model.nodes.map((x) => x.name));
    const quiet: Options = { color: "never" as const, ...(args.parallel ? { parallel: args.parallel } : {}) };
    const c = await converge(n, stack, quiet, sessions);
    const change = await oneNodeChange(n, model, stack, quiet, sessions);
    log(`${n} nodes: the engine's floor (${c.resources - 1} trivial resources, no SSH: cold, no-op, preview)`);
    const floorOfEngine = await engineFloor(c.resources - 1, env).catch((e: Error) => {
        log(`${n} nodes: the engine floor failed: ${e.message.split("\n")[0]}`);
        return undefined;
    });
    log(`${n} nodes: the proof after apply (an up whose only step is the Proof)`);
    // a failing proof is a finding, not the end of the run (at 48 nodes it exceeded the provider's target cap)
    const proof = await measureProof(stack, quiet, c.noop.ms).catch((e: Error) => {
        const why = upFailureReason(e.message);
        log(`${n} nodes: the up with the proof failed: ${why}`);
        return { error: why };
    });
    log(`${n} nodes: destroy`);
    const destroyTimer = new StepTimer();
    const destroy = await timed(() => stack.destroy({ ...quiet, onEvent: destroyTimer.on }));
    await dropStack(env);
    return {
        nodes: n,
        labUpMs,
        resources: c.resources,
        cold: c.cold,
        noop: c.noop,
        preview: c.preview,
        refresh: c.refresh,
        changeSessions: change.changeSessions,
        changePreview: change.changePreview,
        changeUp: change.changeUp,
        destroy: { ms: destroy.ms, changes: changes(destroy.value) },
        floorMs,
        sshOnlyMs,
        ruleset,
        coldDetail: c.coldDetail,
        changeDetail: change.changeDetail,
        destroyDetail: detail(destroyTimer),
        changedNode: change.changedNode,
        load: { start: loadStart, end: os.loadavg()[0] },
        ...(args.parallel ? { parallel: args.parallel } : {}),
        startup: c.startup,
        memory: c.memory,
        state: c.state,
        ...(ansible ? { ansible } : {}),
        proof,
        ...(floorOfEngine ? { engineFloor: floorOfEngine } : {}),
    };
}
