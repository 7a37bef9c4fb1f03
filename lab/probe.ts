// Runs the probe: one labnet prober per source namespace (all sources in parallel, every target of a
// source concurrently inside its prober), then classifies with lab/probe-plan.ts.
import { groupBySource, joinResults, parseProberOutput, probeSources, probeTargets, ProbeResult, ProbeSelection, proberInput } from "./probe-plan";
import { LabPlan } from "./shapes";
import { LABNET_BIN } from "./state";
import { pool, runIn } from "./sys";

export interface ProbeOptions extends ProbeSelection {
    /** TCP connect timeout (default 700 ms). */
    tcpTimeoutMs?: number;
    /** UDP reply timeout (default 1000 ms). */
    udpTimeoutMs?: number;
    /** Probers running at once (default 24). */
    parallel?: number;
    /** Concurrent sockets inside one prober (default 256). */
    concurrency?: number;
}

export async function runProbe(plan: LabPlan, opts: ProbeOptions = {}): Promise<ProbeResult[]> {
    const targets = probeTargets(plan, opts);
    const sources = new Map(probeSources(plan).map((s) => [s.name, s]));
    const groups = [...groupBySource(targets).entries()];
    const tcp = opts.tcpTimeoutMs ?? 700;
    const udp = opts.udpTimeoutMs ?? 1000;
    const outputs = await pool(groups, opts.parallel ?? 24, async ([from, list]) => {
        const src = sources.get(from)!;
        const r = await runIn(src.netns, LABNET_BIN, ["probe", "--tcp-timeout", String(tcp), "--udp-timeout", String(udp), "--concurrency", String(opts.concurrency ?? 256)],
            { input: proberInput(list), allowFail: true, timeoutMs: 60_000 + list.length * 10 });
        if (r.code !== 0) process.stderr.write(`[lab] prober in ${src.netns ?? "root namespace"} exited ${r.code}: ${r.stderr.trim()}\n`);
        return joinResults(list, parseProberOutput(r.stdout), Math.max(tcp, udp));
    });
    return outputs.flat();
}
