// The proof after apply's cost (issue 14): the benchmark measures the apply with the proof off; then, per size, it
// turns the proof on and runs one `up` whose only step is the Proof (every firewall is unchanged), so that up's
// time minus a no-op up's is what the proof adds to an `up`, and the Proof's outputs say how many probes it ran.
import type { Stack } from "@pulumi/pulumi/automation";
import { PROOF } from "../../provider/schema";

export interface ProofCost {
    /** The `up` that created and ran the Proof. */
    upMs: number;
    /** upMs minus the same size's no-op up: the time the proof adds to an up. */
    addedMs: number;
    probes: number;
    /** The Proof's own measure of its probing (outputs.seconds). */
    proofSeconds: number;
    probesPerSecond: number;
}

/** Pure: the cost from the two ups' times and the Proof's outputs (probes, seconds). */
export function proofCostOf(upMs: number, noopMs: number, outputs: { probes?: unknown; seconds?: unknown }): ProofCost {
    const probes = typeof outputs.probes === "number" ? outputs.probes : 0;
    const proofSeconds = typeof outputs.seconds === "number" ? outputs.seconds : 0;
    return {
        upMs,
        addedMs: Math.max(0, upMs - noopMs),
        probes,
        proofSeconds,
        probesPerSecond: proofSeconds > 0 ? Math.round(probes / proofSeconds) : 0,
    };
}

/** Turns the proof on, runs the up that creates it, reads its outputs; the proof is left on (destroy follows). */
export async function measureProof(
    stack: Stack,
    opts: Record<string, unknown>,
    noopMs: number,
): Promise<ProofCost> {
    await stack.setConfig("pinhole:proof.enabled", { value: "true" }, true);
    const t = Date.now();
    const up = await stack.up(opts);
    const upMs = Date.now() - t;
    if (up.summary.result !== "succeeded") throw new Error(`up with the proof: ${up.summary.result}`);
    const state = await stack.exportStack();
    const resources = (state.deployment?.resources ?? []) as { type: string; outputs?: Record<string, unknown> }[];
    const proof = resources.find((r) => r.type === PROOF.token);
    if (!proof?.outputs) throw new Error("up with the proof: no Proof resource in the state");
    return proofCostOf(upMs, noopMs, proof.outputs);
}

/** One line per size for the report. */
export function formatProofCost(sizes: readonly { nodes: number; proof?: ProofCost | { error: string } }[]): string[] {
    return sizes
        .filter((x) => x.proof)
        .map((x) => {
            const p = x.proof!;
            if ("error" in p) return `proof after apply at ${x.nodes} nodes: FAILED: ${p.error}`;
            return `proof after apply at ${x.nodes} nodes: ${p.probes} probes in ${p.proofSeconds.toFixed(1)} s (${p.probesPerSecond} probes/s), adds ${(p.addedMs / 1000).toFixed(1)} s to an up (${(p.upMs / 1000).toFixed(1)} s with only the proof to run)`;
        });
}

/**
 * Why an up failed, in a few lines for the report: the engine's "has a problem" line, else the first `error:`
 * line that says more than "update failed" plus the failed probes under it, else the first line.
 */
export function upFailureReason(message: string, maxLines = 6): string {
    const problem = /has a problem: ([^\n]*)/.exec(message)?.[1];
    if (problem) return problem.slice(0, 300);
    const lines = message.split("\n");
    const at = lines.findIndex((l) => /\berror: /.test(l) && !/error: update failed\s*$/.test(l));
    if (at < 0) return lines[0].slice(0, 300);
    const first = lines[at].replace(/^.*?\berror: /, "");
    const more = lines.slice(at + 1, at + maxLines).filter((l) => /^\s+\S/.test(l) && !/\berror: /.test(l));
    return [first, ...more.map((l) => l.trim())].join(" | ").slice(0, 1200);
}
