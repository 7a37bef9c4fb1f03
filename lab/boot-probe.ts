// The boot-time prober: while a node boots, probes every one of its ports from one source over and over
// (a round every ~100 ms), so that a moment where a service answers before the firewall is loaded shows
// up as an "open" sample. Used by the booted tier's boot-order tests.
import { parseProberOutput } from "./probe-plan";
import { NODE_PORTS } from "./ports";
import { addressSeenFrom, LabNode, LabPlan } from "./shapes";
import { LABNET_BIN } from "./state";
import { runIn, sleep } from "./sys";
import type { Protocol } from "../model/types";

export interface BootSample {
    atMs: number;
    protocol: Protocol;
    port: number;
    outcome: string;
}

export interface HammerResult {
    rounds: number;
    /** Every probe that got an answer (TCP handshake or UDP reply), with its time since the start. */
    open: BootSample[];
    /** Round outcomes per port over time, compressed: "22/tcp": ["refused@0", "connected@1320", ...]. */
    timeline: Record<string, string[]>;
}

/**
 * Probes `node` from `source` (a vantage or node name; "provisioner" = the root namespace) until `done`
 * settles, then `tailMs` more. Short timeouts: a filtered port costs one timeout per round.
 */
export async function hammerNode(
    plan: LabPlan,
    source: string,
    node: LabNode,
    done: Promise<unknown>,
    opts: { timeoutMs?: number; tailMs?: number } = {},
): Promise<HammerResult> {
    const from =
        source === "provisioner"
            ? undefined
            : (plan.nodes.find((n) => n.name === source) ?? plan.vantages.find((v) => v.name === source));
    if (source !== "provisioner" && !from) throw new Error(`hammerNode: no source ${source}`);
    const netns = from ? from.netns : null;
    const address = from && "role" in from ? addressSeenFrom(node, from) : node.sshHost;
    const input = NODE_PORTS.map((p, i) => `${i} ${p.protocol} ${address} ${p.port}\n`).join("");
    const t = String(opts.timeoutMs ?? 80);
    const t0 = Date.now();
    let finished = false;
    let stopAt = Infinity;
    done.then(
        () => {
            finished = true;
            stopAt = Date.now() + (opts.tailMs ?? 1000);
        },
        () => {
            finished = true;
            stopAt = Date.now();
        },
    );
    const result: HammerResult = { rounds: 0, open: [], timeline: {} };
    while (!finished || Date.now() < stopAt) {
        const at = Date.now() - t0;
        const r = await runIn(
            netns,
            LABNET_BIN,
            ["probe", "--tcp-timeout", t, "--udp-timeout", t, "--concurrency", "64"],
            { input, allowFail: true, timeoutMs: 10_000 },
        );
        result.rounds++;
        for (const line of parseProberOutput(r.stdout)) {
            const p = NODE_PORTS[Number(line.id)];
            if (!p) continue;
            const key = `${p.port}/${p.protocol}`;
            const tl = (result.timeline[key] ??= []);
            if (!tl.length || !tl[tl.length - 1].startsWith(`${line.outcome}@`)) tl.push(`${line.outcome}@${at}`);
            if (line.outcome === "connected" || line.outcome === "reply")
                result.open.push({ atMs: at, protocol: p.protocol, port: p.port, outcome: line.outcome });
        }
        await sleep(20);
    }
    return result;
}
