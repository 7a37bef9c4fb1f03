// The local lab's programmatic API (the CLI in lab/cli.ts and the integration tests use it).
//
//   labUp({ model, nodes?, sudoUser?, ipv6?, ipv6Only? }) → LabStatus     bring the lab up (idempotent; replaces another model's lab)
//   labDown({ purge? })                  → void          remove everything the lab made
//   labStatus()                          → LabStatus     what runs now
//   probe({ from?, to?, ... })           → ProbeResult[] measured reachability matrix
//   reboot(node)                         → BootResult    kill the node, flush its nftables, boot it (firewall first);
//                                                        booted tier (up --boot): systemctl reboot inside the node
// labUp is in up.ts, labStatus in status.ts, the host's files, user and teardown in host.ts.
import * as fs from "fs";
import { rebootBootedNode } from "./boot";
import { bootNode, BootResult, haltNode } from "./node";
import { netnsExists } from "./net";
import { ProbeResult } from "./probe-plan";
import { labPids } from "./procs";
import { ProbeOptions, runProbe } from "./probe";
import { LabPlan, planNamespaces } from "./shapes";
import { LAB_DIR, readState, withLabSession } from "./state";
import { checkPrerequisites, memoryOf, pool, processName } from "./sys";
import { defaultLog, Logger, quietLog } from "./status";
import { elapsed, teardown } from "./host";

export type { LabModel, LabOptions, LabPlan } from "./shapes";
export type { ProbeResult, ProbeResultKind } from "./probe-plan";
export type { ProbeOptions } from "./probe";
export type { BootResult } from "./node";
export { buildPlan, LAB_MODELS } from "./shapes";
export { NODE_PORTS, EXTERNAL_SERVICES } from "./ports";
export { formatTable, resultKey, toJsonRows } from "./probe-plan";
export type { Logger, LabNodeStatus, LabStatus, LabVantageStatus } from "./status";
export { labStatus } from "./status";
export type { LabUpOptions } from "./up";
export { labUp } from "./up";

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
