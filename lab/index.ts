// The local lab's programmatic API (the CLI in lab/cli.ts and the integration tests use it).
//
//   labUp({ model, nodes?, sudoUser?, ipv6?, ipv6Only? }) → LabStatus     bring the lab up (idempotent; replaces another model's lab)
//   labDown({ purge? })                  → void          remove everything the lab made
//   labStatus()                          → LabStatus     what runs now
//   probe({ from?, to?, ... })           → ProbeResult[] measured reachability matrix
//   reboot(node)                         → BootResult    kill the node, flush its nftables, boot it (firewall first);
//                                                        booted tier (up --boot): systemctl reboot inside the node
import * as fs from "fs";
import * as path from "path";
import {
    bootBootedNode,
    bootedSupervisor,
    checkBootPrerequisites,
    haltBootedNode,
    prepareBootedNode,
    prepareBootTier,
    rebootBootedNode,
    removeBootedNodes,
} from "./boot";
import type { BootImage } from "./boot-image";
import {
    bootNode,
    BootResult,
    haltNode,
    hostKeyOf,
    nodeHealth,
    prepareNode,
    startVantage,
    vantageHealthy,
} from "./node";
import {
    cleanupNetnsMount,
    deleteNamespaces,
    ensureBridge,
    ensureNodeNet,
    ensureRootRoutes6,
    ensureRouter,
    ensureVantageNet,
    installNeighbors,
    labLinks,
    listLabNamespaces,
    netnsExists,
    removeLabLinks,
} from "./net";
import { ProbeResult } from "./probe-plan";
import { killNetnsProcesses, killOrphans, labPids } from "./procs";
import { ProbeOptions, runProbe } from "./probe";
import { setStackSecret, SecretOutcome } from "./secret";
import { buildPlan, LabModel, LabOptions, LabPlan, planNamespaces, PROVISIONER_ADDRESS, SUDO_USER } from "./shapes";
import { stackName, writeLabStack } from "./stack";
import {
    AUTHORIZED_KEYS,
    BIN_DIR,
    KNOWN_HOSTS,
    LAB_DIR,
    LABNET_BIN,
    LABNET_SRC,
    NODES_DIR,
    readState,
    SSH_DIR,
    SSH_KEY,
    STACKS_DIR,
    STATE_FILE,
    VANTAGES_DIR,
    withLabSession,
    writeState,
} from "./state";
import { checkPrerequisites, memoryOf, pool, processName, run } from "./sys";
import type { Protocol, Role } from "../model/types";

export type { LabModel, LabOptions, LabPlan } from "./shapes";
export type { ProbeResult, ProbeResultKind } from "./probe-plan";
export type { ProbeOptions } from "./probe";
export type { BootResult } from "./node";
export { buildPlan, LAB_MODELS } from "./shapes";
export { NODE_PORTS, EXTERNAL_SERVICES } from "./ports";
export { formatTable, resultKey, toJsonRows } from "./probe-plan";

export type Logger = (msg: string) => void;
const defaultLog: Logger = (m) => process.stderr.write(`[lab] ${m}\n`);
const quietLog: Logger = () => undefined;

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

export interface LabNodeStatus {
    name: string;
    role: Role;
    site: string;
    address: string;
    advertisedAddress?: string;
    /** Dual-stack lab: the IPv6 address (ULA, fd77::/48; the same from every site: no NAT for IPv6). */
    address6?: string;
    /** Address the provisioning host connects to. */
    sshHost: string;
    netns: string;
    sshPort: number;
    sshUser: string;
    sudo: boolean;
    /** Pinned host key, "ssh-ed25519 AAAA...". */
    hostKey: string;
    fqdn: string;
    arbiter: boolean;
    running: boolean;
    pids: { sshd?: number; nginx?: number; listener?: number };
}

export interface LabVantageStatus {
    name: string;
    vantage: string;
    description: string;
    site: null;
    address: string;
    /** Dual-stack lab only. */
    address6?: string;
    netns: string;
    /** Ports an external service serves (empty for client/admin). */
    ports: { protocol: Protocol; port: number }[];
    running: boolean;
}

export interface LabStatus {
    /** A lab exists and every node and service runs. */
    up: boolean;
    model?: LabModel;
    /** "boot" (systemd-nspawn nodes) or "process". */
    tier?: "boot" | "process";
    deployment?: string;
    stack?: string;
    stackFile?: string;
    provisioner: { address: string; address6?: string };
    /** The lab's SSH private key (root and the sudo user log in with it). */
    sshKey: string;
    /** known_hosts with every node's pinned key (written by up). */
    knownHosts: string;
    nodes: LabNodeStatus[];
    vantages: LabVantageStatus[];
    router?: { netns: string; address: string; nat: { node: string; advertised: string; internal: string }[] };
}

// ------------------------------------------------------------------------------------------ helpers

function ensureLabFiles(log: Logger): Promise<void> {
    return (async () => {
        fs.mkdirSync(LAB_DIR, { recursive: true });
        fs.chmodSync(LAB_DIR, 0o755);
        fs.mkdirSync(SSH_DIR, { recursive: true });
        fs.chmodSync(SSH_DIR, 0o755);
        if (!fs.existsSync(SSH_KEY) || !fs.existsSync(`${SSH_KEY}.pub`)) {
            for (const f of [SSH_KEY, `${SSH_KEY}.pub`]) fs.rmSync(f, { force: true });
            log("generating the lab SSH keypair (.lab/ssh/id_ed25519)");
            await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "pinhole-lab", "-f", SSH_KEY]);
        }
        fs.chmodSync(SSH_KEY, 0o600);
        fs.writeFileSync(AUTHORIZED_KEYS, fs.readFileSync(`${SSH_KEY}.pub`, "utf8"), { mode: 0o644 });
        fs.chmodSync(AUTHORIZED_KEYS, 0o644);
        fs.mkdirSync(BIN_DIR, { recursive: true });
        const stale = !fs.existsSync(LABNET_BIN) || fs.statSync(LABNET_BIN).mtimeMs < fs.statSync(LABNET_SRC).mtimeMs;
        if (stale) {
            log("building the port listener/prober (lab/native/labnet.c → .lab/bin/labnet)");
            const tmp = `${LABNET_BIN}.${process.pid}`;
            try {
                await run("cc", ["-O2", "-Wall", "-o", tmp, LABNET_SRC]);
            } catch (e) {
                throw new Error(
                    `building labnet failed (needs the Debian packages gcc and libc6-dev): ${(e as Error).message}`,
                );
            }
            fs.renameSync(tmp, LABNET_BIN);
        }
    })();
}

const USER_MARK = "pinhole lab";

async function userEntry(): Promise<string[] | undefined> {
    const r = await run("getent", ["passwd", SUDO_USER], { allowFail: true });
    return r.code === 0 ? r.stdout.trim().split(":") : undefined;
}

async function ensureUser(log: Logger): Promise<{ uid: number; gid: number }> {
    let e = await userEntry();
    if (e && e[4] !== USER_MARK) {
        throw new Error(
            `a user "${SUDO_USER}" exists that the lab did not create (GECOS "${e[4]}"); the lab needs that name for its sudo node: remove the account or run the lab with --sudo-user none`,
        );
    }
    if (!e) {
        log(`creating the unprivileged user "${SUDO_USER}" (passwordless sudo only inside the sudo node's view)`);
        await run("useradd", [
            "-c",
            USER_MARK,
            "-d",
            `/home/${SUDO_USER}`,
            "-M",
            "-s",
            "/bin/bash",
            "-U",
            "-p",
            "*",
            SUDO_USER,
        ]);
        e = await userEntry();
        if (!e) throw new Error(`useradd ${SUDO_USER} did not create the account`);
    }
    return { uid: Number(e[2]), gid: Number(e[3]) };
}

async function removeUser(log: Logger): Promise<void> {
    const e = await userEntry();
    if (!e || e[4] !== USER_MARK) return;
    log(`removing the user "${SUDO_USER}"`);
    await run("userdel", [SUDO_USER], { allowFail: true });
    if ((await run("getent", ["group", SUDO_USER], { allowFail: true })).code === 0)
        await run("groupdel", [SUDO_USER], { allowFail: true });
}

/** Removes every namespace, process, link and the user; keeps .lab/ssh and .lab/bin unless purge. */
async function teardown(log: Logger, purge: boolean): Promise<void> {
    const booted = await removeBootedNodes(log);
    if (booted) log(`stopped ${booted} booted nodes and unmounted their overlays`);
    const namespaces = await listLabNamespaces();
    if (namespaces.length) log(`stopping ${namespaces.length} namespaces' processes`);
    await killNetnsProcesses(namespaces, true);
    if (namespaces.length) log(`deleting ${namespaces.length} namespaces`);
    await deleteNamespaces(namespaces);
    await removeLabLinks();
    await removeUser(log);
    cleanupNetnsMount();
    for (const p of [NODES_DIR, VANTAGES_DIR, STATE_FILE, KNOWN_HOSTS]) fs.rmSync(p, { recursive: true, force: true });
    if (purge) {
        for (const e of fs.existsSync(LAB_DIR) ? fs.readdirSync(LAB_DIR) : [])
            fs.rmSync(path.join(LAB_DIR, e), { recursive: true, force: true });
    }
}

function writeKnownHosts(plan: LabPlan): void {
    const lines = plan.nodes.map((n) => `${n.sshHost} ${hostKeyOf(n)}`);
    fs.writeFileSync(KNOWN_HOSTS, lines.join("\n") + "\n");
}

function elapsed(t0: number): string {
    return `${((Date.now() - t0) / 1000).toFixed(1)}s`;
}

// ------------------------------------------------------------------------------------------ API

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
            writeState({ version: 1, plan, createdAt: new Date().toISOString(), complete: false, tier });
            await ensureLabFiles(log);
            // booted: stray containers of killed runs stopped, enough inotify instances, the image built or cached
            const image: BootImage | undefined = tier ? await prepareBootTier(plan, log) : undefined;
            const sudoIds = plan.nodes.some((n) => n.sudo) ? await ensureUser(log) : undefined;

            log(
                `network: bridge ${plan.bridge} (${PROVISIONER_ADDRESS}/16), ${plan.nodes.length} nodes, ${plan.vantages.length} vantages${plan.router ? ", router with 1:1 NAT" : ""}`,
            );
            await ensureBridge(!!plan.provisioner.address6);
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
            const par = opts.parallel ?? 8;
            const netNew = new Set<string>();
            await pool([...plan.nodes.map((n) => ({ n })), ...plan.vantages.map((v) => ({ v }))], par, async (x) => {
                const created = "n" in x ? await ensureNodeNet(x.n, plan) : await ensureVantageNet(x.v, plan);
                if (created) netNew.add("n" in x ? x.n.name : x.v.name);
            });
            if (netNew.size || routerNew) log(`created ${netNew.size} namespaces (${elapsed(t0)})`);
            await installNeighbors(plan, par);

            log(`preparing ${plan.nodes.length} nodes (host keys, certificates, configs)`);
            const changed = new Set<string>();
            await pool(plan.nodes, par, async (n) => {
                if (await prepareNode(n, plan, sudoIds)) changed.add(n.name);
                if (image && (await prepareBootedNode(n, image, sudoIds))) changed.add(n.name);
            });

            let booted = 0;
            const warnings: string[] = [];
            const toBoot = plan.nodes.filter(
                (n) =>
                    netNew.has(n.name) ||
                    changed.has(n.name) ||
                    !nodeHealth(n).healthy ||
                    (image && !bootedSupervisor(n)),
            );
            if (toBoot.length)
                log(`booting ${toBoot.length} nodes (${plan.nodes.length - toBoot.length} already running)`);
            await pool(toBoot, par, async (n) => {
                if (image) await haltBootedNode(n);
                else await haltNode(n);
                const r = image ? await bootBootedNode(n) : await bootNode(n);
                warnings.push(...r.warnings);
                booted++;
                if (booted % 8 === 0 || booted === toBoot.length)
                    log(`  booted ${booted}/${toBoot.length} nodes (${elapsed(t0)})`);
            });
            const vStart = plan.vantages.filter((v) => vantageHealthy(v) === undefined);
            await pool(vStart, par, async (v) => {
                await killNetnsProcesses([v.netns]);
                await startVantage(v, plan.services);
            });
            if (vStart.length) log(`started ${vStart.length} external-service listeners`);
            for (const w of warnings) log(`warning: ${w}`);

            writeKnownHosts(plan);
            let stackFile: string | undefined;
            const stack = opts.stack ?? stackName(plan.model);
            if (opts.writeStack !== false) {
                const keys: Record<string, string> = {};
                for (const n of plan.nodes) keys[n.name] = hostKeyOf(n)!;
                stackFile = writeLabStack(plan, keys, STACKS_DIR, stack);
                log(`wrote ${path.relative(process.cwd(), stackFile) || stackFile}`);
                if (opts.setSecret !== false) {
                    const outcome: SecretOutcome = await setStackSecret(
                        stack,
                        "sshPrivateKey",
                        fs.readFileSync(SSH_KEY, "utf8"),
                    );
                    if (outcome.status === "set") log(`set the secret sshPrivateKey in stack ${stack}`);
                    else log(`secret sshPrivateKey NOT set in stack ${stack} (${outcome.status}): ${outcome.reason}`);
                }
            }
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

/** Removes the lab: every namespace and process in it, links, the user account, runtime files (purge: all of .lab/). */
export async function labDown(opts: { purge?: boolean; force?: boolean; log?: Logger } = {}): Promise<void> {
    const log = opts.log ?? defaultLog;
    checkPrerequisites([
        { bin: "ip", pkg: "iproute2" },
        { bin: "userdel", pkg: "passwd" },
    ]);
    await withLabSession(
        "down",
        async () => {
            const t0 = Date.now();
            await teardown(log, !!opts.purge);
            log(`lab is down (${elapsed(t0)})`);
        },
        { keep: false, force: opts.force },
    );
    if (opts.purge) fs.rmSync(LAB_DIR, { recursive: true, force: true });
}

function statusOf(
    plan: LabPlan,
    complete: boolean,
    stackFile?: string,
    stack = stackName(plan.model),
    tier?: "boot",
): LabStatus {
    const nodes: LabNodeStatus[] = plan.nodes.map((n) => {
        const h = netnsExists(n.netns) ? nodeHealth(n) : { healthy: false };
        const { healthy, ...pids } = h;
        return {
            name: n.name,
            role: n.role,
            site: n.site,
            address: n.address,
            ...(n.advertisedAddress ? { advertisedAddress: n.advertisedAddress } : {}),
            ...(n.address6 ? { address6: n.address6 } : {}),
            sshHost: n.sshHost,
            netns: n.netns,
            sshPort: 22,
            sshUser: n.sshUser,
            sudo: n.sudo,
            hostKey: hostKeyOf(n) ?? "",
            fqdn: n.fqdn,
            arbiter: n.arbiter,
            running: healthy,
            pids,
        };
    });
    const vantages: LabVantageStatus[] = plan.vantages.map((v) => ({
        name: v.name,
        vantage: v.vantage,
        description: v.description,
        site: null,
        address: v.address,
        ...(v.address6 ? { address6: v.address6 } : {}),
        netns: v.netns,
        ports: v.ports.map((p) => ({ protocol: p.protocol, port: p.port })),
        running: netnsExists(v.netns) && vantageHealthy(v) !== undefined,
    }));
    return {
        up: complete && nodes.every((n) => n.running) && vantages.every((v) => v.running),
        model: plan.model,
        tier: tier ?? "process",
        deployment: plan.deployment,
        stack,
        stackFile,
        provisioner: { ...plan.provisioner },
        sshKey: SSH_KEY,
        knownHosts: KNOWN_HOSTS,
        nodes,
        vantages,
        ...(plan.router
            ? { router: { netns: plan.router.netns, address: plan.router.outerAddress, nat: plan.router.nat } }
            : {}),
    };
}

/** What the lab runs now (up: false and no nodes when there is no lab). */
export async function labStatus(): Promise<LabStatus> {
    const s = readState();
    if (!s)
        return {
            up: false,
            provisioner: { address: PROVISIONER_ADDRESS },
            sshKey: SSH_KEY,
            knownHosts: KNOWN_HOSTS,
            nodes: [],
            vantages: [],
        };
    return statusOf(s.plan, s.complete, s.stackFile, s.stack, s.tier);
}

function requirePlan(): LabPlan {
    const s = readState();
    if (!s)
        throw new Error("no lab is up: run `npm run lab -- up --model <standalone|unified|modular|multisite>` first");
    return s.plan;
}

/** Measures reachability: every source (provisioner, nodes, vantages) to every node's ports, nodes to externals. */
export async function probe(opts: ProbeOptions = {}): Promise<ProbeResult[]> {
    if (process.getuid?.() !== 0) checkPrerequisites([]);
    const plan = requirePlan();
    const missing = planNamespaces(plan).filter((n) => !netnsExists(n));
    if (missing.length) throw new Error(`the lab is incomplete (missing ${missing.join(", ")}): run up again`);
    return runProbe(plan, opts);
}

/**
 * Reboots one node. Process tier: kills its processes, flushes its nftables, then boots it like the platform:
 * /etc/pinhole/firewall.nft (if the node has one) is loaded BEFORE sshd, nginx and the listener start.
 * Booted tier: a real `systemctl reboot` inside the node (its systemd orders the units).
 */
export async function reboot(node: string, opts: { log?: Logger; force?: boolean } = {}): Promise<BootResult> {
    const log = opts.log ?? quietLog;
    checkPrerequisites();
    return withLabSession(
        `reboot ${node}`,
        async () => {
            const plan = requirePlan();
            const n = plan.nodes.find((x) => x.name === node);
            if (!n)
                throw new Error(
                    `reboot: no node "${node}" in the ${plan.model} lab (nodes: ${plan.nodes.map((x) => x.name).join(", ")})`,
                );
            if (!netnsExists(n.netns)) throw new Error(`reboot: ${node}'s namespace ${n.netns} is gone: run up again`);
            const booted = readState()?.tier === "boot";
            log(`rebooting ${node}${booted ? " (systemctl reboot inside)" : ""}`);
            if (!booted) await haltNode(n);
            const r = booted ? await rebootBootedNode(n) : await bootNode(n);
            log(`${node} is up again in ${r.ms} ms (firewall at boot: ${r.firewall})`);
            for (const w of r.warnings) log(`warning: ${w}`);
            return r;
        },
        { keep: true, force: opts.force },
    );
}

export interface NodeMemory {
    node: string;
    processes: { pid: number; name: string; rssKiB: number; pssKiB: number }[];
    rssKiB: number;
    pssKiB: number;
}

/** Memory of every process in each node's namespace (sshd, nginx master+worker, labnet). */
export async function nodeMemory(): Promise<NodeMemory[]> {
    const plan = requirePlan();
    return pool(plan.nodes, 8, async (n) => {
        const processes = labPids([n.netns], false).map((pid) => ({ pid, name: processName(pid), ...memoryOf(pid) }));
        return {
            node: n.name,
            processes,
            rssKiB: processes.reduce((a, p) => a + p.rssKiB, 0),
            pssKiB: processes.reduce((a, p) => a + p.pssKiB, 0),
        };
    });
}
