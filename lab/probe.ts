// Runs the probe: one labnet prober per source namespace (all sources in parallel, every target of a
// source concurrently inside its prober), then classifies with lab/probe-plan.ts.
import {
    groupBySource,
    joinResults,
    parseProberOutput,
    probeSources,
    probeTargets,
    ProbeResult,
    ProbeSelection,
    proberInput,
    ProbeTarget,
} from "./probe-plan";
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
    /**
     * Probe rows that came out "filtered" again, this many times (default 1), with less concurrency: a SYN
     * or datagram lost in a burst must not pass for a firewall drop. Only costs time when rows are filtered.
     */
    retries?: number;
}

export async function runProbe(plan: LabPlan, opts: ProbeOptions = {}): Promise<ProbeResult[]> {
    const targets = probeTargets(plan, opts);
    const sources = new Map(probeSources(plan).map((s) => [s.name, s]));
    const groups = [...groupBySource(targets).entries()];
    const tcp = opts.tcpTimeoutMs ?? 700;
    const udp = opts.udpTimeoutMs ?? 1000;
    /** Results by target id. */
    const runGroups = async (gs: [string, ProbeTarget[]][], concurrency: number): Promise<Map<string, ProbeResult>> => {
        const outputs = await pool(gs, opts.parallel ?? 24, async ([from, list]) => {
            const src = sources.get(from)!;
            const r = await runIn(
                src.netns,
                LABNET_BIN,
                [
                    "probe",
                    "--tcp-timeout",
                    String(tcp),
                    "--udp-timeout",
                    String(udp),
                    "--concurrency",
                    String(concurrency),
                ],
                { input: proberInput(list), allowFail: true, timeoutMs: 60_000 + list.length * 10 },
            );
            if (r.code !== 0)
                process.stderr.write(
                    `[lab] prober in ${src.netns ?? "root namespace"} exited ${r.code}: ${r.stderr.trim()}\n`,
                );
            const rows = joinResults(list, parseProberOutput(r.stdout), Math.max(tcp, udp));
            return list.map((t, i) => [t.id, rows[i]] as const);
        });
        return new Map(outputs.flat());
    };
    const byId = await runGroups(groups, opts.concurrency ?? 256);
    for (let attempt = 0; attempt < (opts.retries ?? 1); attempt++) {
        const again = targets.filter((t) => byId.get(t.id)!.result === "filtered");
        if (!again.length) break;
        for (const [id, r] of await runGroups([...groupBySource(again).entries()], 32)) byId.set(id, r);
    }
    return targets.map((t) => byId.get(t.id)!);
}
