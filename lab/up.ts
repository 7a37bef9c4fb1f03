// labUp: bring the lab up for a model, keeping what is healthy and rebuilding what is missing or broken.
import * as fs from "fs";
import * as path from "path";
import {
    bootBootedNode,
    bootedSupervisor,
    checkBootPrerequisites,
    haltBootedNode,
    prepareBootedNode,
    prepareBootTier,
} from "./boot";
import type { BootImage } from "./boot-image";
import { bootNode, haltNode, hostKeyOf, nodeHealth, prepareNode, startVantage, vantageHealthy } from "./node";
import {
    deleteNamespaces,
    ensureBridge,
    ensureNdiscRoom,
    ensureNodeNet,
    ensureRootRoutes6,
    ensureRouter,
    ensureVantageNet,
    installNeighbors,
    labLinks,
    listLabNamespaces,
} from "./net";
import { killNetnsProcesses, killOrphans } from "./procs";
import { setStackSecret, SecretOutcome } from "./secret";
import { buildPlan, LabOptions, LabPlan, planNamespaces, PROVISIONER_ADDRESS } from "./shapes";
import { stackName, writeLabStack } from "./stack";
import { readState, SSH_KEY, STACKS_DIR, withLabSession, writeState } from "./state";
import { checkPrerequisites, pool, run } from "./sys";
import { defaultLog, LabStatus, Logger, statusOf } from "./status";
import { elapsed, ensureLabFiles, ensureUser, teardown, writeKnownHosts } from "./host";

export interface LabUpOptions extends LabOptions {
    /** Progress messages (default: stderr). */
    log?: Logger;
    /** Write stacks/Pulumi.lab-<model>.yaml (default true). */
    writeStack?: boolean;
    /** Put the lab's SSH private key into the stack as the secret sshPrivateKey (default true). */
    setSecret?: boolean;
    /** Stack to write the lab's config for (default lab-<model>; tests use their own so they never touch an operator's). */
    stack?: string;
    /** Nodes booted at once (default 8). */
    parallel?: number;
    /** Take the lab even if another live process holds it (see withLabSession). */
    force?: boolean;
    // ipv6, ipv6Only and boot (the booted tier; default: PINHOLE_LAB_TIER=boot) come with LabOptions
}

/**
 * Brings the lab up for a model. Idempotent: a healthy lab of the same shape is left as it is (only what is
 * missing or broken is rebuilt); a lab of another shape, or leftovers of a crash, are removed first.
 */
export async function labUp(opts: LabUpOptions): Promise<LabStatus> {
    const log = opts.log ?? defaultLog;
    // PINHOLE_LAB_TIER=boot runs any caller (every integration test) on the booted tier: IPv4 only unless asked
    const tier = (opts.boot ?? process.env.PINHOLE_LAB_TIER === "boot") ? ("boot" as const) : undefined;
    const plan = buildPlan({ ...opts, boot: !!tier, ipv6: opts.ipv6 ?? !tier });
    checkPrerequisites();
    if (tier) checkBootPrerequisites();
    return withLabSession(
        `up ${plan.model}${tier ? " --boot" : ""}`,
        async () => {
            const t0 = Date.now();
            await clearPrevious(plan, tier, log);
            writeState({ version: 1, plan, createdAt: new Date().toISOString(), complete: false, tier });
            await ensureLabFiles(log);
            // booted: stray containers of killed runs stopped, enough inotify instances, the image built or cached
            const image: BootImage | undefined = tier ? await prepareBootTier(plan, log) : undefined;
            const sudoIds = plan.nodes.some((n) => n.sudo) ? await ensureUser(log) : undefined;
            const par = opts.parallel ?? 8;
            const netNew = await ensureNetwork(plan, par, log, t0);
            log(`preparing ${plan.nodes.length} nodes (host keys, certificates, configs)`);
            const changed = new Set<string>();
            await pool(plan.nodes, par, async (n) => {
                if (await prepareNode(n, plan, sudoIds)) changed.add(n.name);
                if (image && (await prepareBootedNode(n, image, sudoIds))) changed.add(n.name);
            });
            const warnings = await bootNodes(plan, par, image, (n) => netNew.has(n) || changed.has(n), log, t0);
            await startVantages(plan, par, log);
            for (const w of warnings) log(`warning: ${w}`);
            writeKnownHosts(plan);
            const stack = opts.stack ?? stackName(plan.model);
            const stackFile = opts.writeStack !== false ? await writeStack(plan, stack, opts, log) : undefined;
            writeState({
                version: 1,
                plan,
                createdAt: new Date().toISOString(),
                complete: true,
                stackFile,
                stack,
                tier,
            });
            log(`lab ${plan.model} is up: ${plan.nodes.length} ${tier ? "booted " : ""}nodes in ${elapsed(t0)}`);
            return statusOf(plan, true, stackFile, stack, tier);
        },
        { keep: true, force: opts.force },
    );
}

/** A lab of another shape or tier, or namespaces without a state file, go first; else only strays and orphans. */
async function clearPrevious(plan: LabPlan, tier: "boot" | undefined, log: Logger): Promise<void> {
    const state = readState();
    const existing = await listLabNamespaces();
    const wanted = new Set(planNamespaces(plan));
    if (state && (JSON.stringify(state.plan) !== JSON.stringify(plan) || state.tier !== tier)) {
        log(
            `replacing the ${state.plan.model} lab (${state.plan.nodes.length} nodes${state.tier ? ", booted" : ""}) with ${plan.model} (${plan.nodes.length} nodes${tier ? ", booted" : ""})`,
        );
        await teardown(log, false);
    } else if (!state && existing.length) {
        log(`found ${existing.length} lab namespaces without a state file (crash?): removing them first`);
        await teardown(log, false);
    } else {
        const stray = existing.filter((n) => !wanted.has(n));
        if (stray.length) {
            log(`removing ${stray.length} namespaces that are not part of this lab: ${stray.join(", ")}`);
            await killNetnsProcesses(stray);
            await deleteNamespaces(stray);
        }
        // processes of a namespace deleted behind our back (they would hold its veth)
        const orphans = killOrphans(await listLabNamespaces());
        if (orphans) log(`killed ${orphans} orphaned lab processes`);
    }
}

/** The bridge, leftover links removed, the router, routes, every namespace and its neighbours; returns those created. */
async function ensureNetwork(plan: LabPlan, par: number, log: Logger, t0: number): Promise<Set<string>> {
    log(
        `network: bridge ${plan.bridge} (${PROVISIONER_ADDRESS}/16), ${plan.nodes.length} nodes, ${plan.vantages.length} vantages${plan.router ? ", router with 1:1 NAT" : ""}`,
    );
    await ensureBridge(!!plan.provisioner.address6);
    if (plan.provisioner.address6) await ensureNdiscRoom(planNamespaces(plan).length + 1, log);
    const plannedVeths = new Set([
        ...plan.nodes.filter((n) => n.segment === "lab").map((n) => n.veth),
        ...plan.vantages.map((v) => v.veth),
        ...(plan.router ? [plan.router.veth] : []),
    ]);
    const strayLinks = (await labLinks()).filter((l) => l !== plan.bridge && !plannedVeths.has(l));
    if (strayLinks.length) {
        log(`removing ${strayLinks.length} leftover links: ${strayLinks.join(", ")}`);
        await run("ip", ["-force", "-batch", "-"], {
            input: strayLinks.map((l) => `link del ${l}\n`).join(""),
            allowFail: true,
        });
    }
    let routerNew = false;
    if (plan.router) routerNew = await ensureRouter(plan);
    await ensureRootRoutes6(plan);
    const netNew = new Set<string>();
    await pool([...plan.nodes.map((n) => ({ n })), ...plan.vantages.map((v) => ({ v }))], par, async (x) => {
        const created = "n" in x ? await ensureNodeNet(x.n, plan) : await ensureVantageNet(x.v, plan);
        if (created) netNew.add("n" in x ? x.n.name : x.v.name);
    });
    if (netNew.size || routerNew) log(`created ${netNew.size} namespaces (${elapsed(t0)})`);
    await installNeighbors(plan, par);
    return netNew;
}

/** (Re)boots the nodes that are new, changed, unhealthy or (booted tier) without their supervisor; their warnings. */
async function bootNodes(
    plan: LabPlan,
    par: number,
    image: BootImage | undefined,
    renewed: (node: string) => boolean,
    log: Logger,
    t0: number,
): Promise<string[]> {
    let booted = 0;
    const warnings: string[] = [];
    const toBoot = plan.nodes.filter(
        (n) => renewed(n.name) || !nodeHealth(n).healthy || (image && !bootedSupervisor(n)),
    );
    if (toBoot.length) log(`booting ${toBoot.length} nodes (${plan.nodes.length - toBoot.length} already running)`);
    await pool(toBoot, par, async (n) => {
        if (image) await haltBootedNode(n);
        else await haltNode(n);
        const r = image ? await bootBootedNode(n) : await bootNode(n);
        warnings.push(...r.warnings);
        booted++;
        if (booted % 8 === 0 || booted === toBoot.length)
            log(`  booted ${booted}/${toBoot.length} nodes (${elapsed(t0)})`);
    });
    return warnings;
}

async function startVantages(plan: LabPlan, par: number, log: Logger): Promise<void> {
    const vStart = plan.vantages.filter((v) => vantageHealthy(v) === undefined);
    await pool(vStart, par, async (v) => {
        await killNetnsProcesses([v.netns]);
        await startVantage(v, plan.services);
    });
    if (vStart.length) log(`started ${vStart.length} external-service listeners`);
}

/** stacks/Pulumi.<stack>.yaml with the nodes' host keys, and (unless setSecret: false) the lab's SSH key as secret. */
async function writeStack(plan: LabPlan, stack: string, opts: LabUpOptions, log: Logger): Promise<string> {
    const keys: Record<string, string> = {};
    for (const n of plan.nodes) keys[n.name] = hostKeyOf(n)!;
    const stackFile = writeLabStack(plan, keys, STACKS_DIR, stack);
    log(`wrote ${path.relative(process.cwd(), stackFile) || stackFile}`);
    if (opts.setSecret !== false) {
        const outcome: SecretOutcome = await setStackSecret(stack, "sshPrivateKey", fs.readFileSync(SSH_KEY, "utf8"));
        if (outcome.status === "set") log(`set the secret sshPrivateKey in stack ${stack}`);
        else log(`secret sshPrivateKey NOT set in stack ${stack} (${outcome.status}): ${outcome.reason}`);
    }
    return stackFile;
}
