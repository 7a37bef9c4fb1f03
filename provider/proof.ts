// pinhole:node:Proof — the proof after apply. Once every Firewall (and WebServer) is applied, each node probes its
// targets over SSH (remote/probes.ts, all nodes at once) and the provisioning host probes pinhole's own SSH path;
// a probe that does not see what the policy says fails the `up` (model/proof.ts proofFailureText). Nothing on
// any node is changed, so delete has nothing to do and a failed proof leaves the old state: the next `up` re-runs.
// With `rollback` on, a failed proof first puts every node this command applied back (provider/proof-rollback.ts).
import { ProviderError } from "./framework";
import type { CheckFailure, ResourceHandler } from "./framework";
import { PROOF } from "./schema";
import { isUnknown } from "./schema-check";
import type { CheckedInputsOf, StateOf } from "./schema-types";
import { LIMITS } from "../model/limits";
import { describeProbe, ProbeResultRow, ProbeTarget } from "../model/probes";
import { parseTargetLine, proofFailureText, PROVISIONING_HOST } from "../model/proof";
import { probeFromHost, probeFromNode } from "../remote/probes";
import { appliedFirewalls, rollBack, rollbackReport, rollbackTargets } from "./proof-rollback";
import type { SshConnectionInput } from "../remote/ssh";
import type { Listener, OpeningGroup } from "../model/listening";
import { listenWarnings, parseOpeningLine } from "../model/proof-listen";

export type ProofInputs = CheckedInputsOf<typeof PROOF>;
export type ProofState = StateOf<typeof PROOF>;

/** At most this many SSH sessions at once (the provider's other resources are done by now). */
const PARALLEL_NODES = 16;
/** The largest pinhole:proof.maxProbes: a runaway input is refused, not run (the program bounds its plan to maxProbes). */
export const MAX_PROOF_TARGETS = LIMITS.proofMaxProbes.max;

export interface ParsedProof {
    /** `openings`: the listen audit's input, when the program sent it (model/proof-listen.ts). */
    nodes: { conn: SshConnectionInput; targets: ProbeTarget[]; openings?: OpeningGroup[] }[];
    host: ProbeTarget[];
    failures: CheckFailure[];
}

/** The inputs' target lines as probe targets, every bad line a failure naming its property. Unknown parts are skipped. */
export function parseProofInputs(i: Pick<ProofInputs, "nodes" | "hostTargets" | "privateKey">): ParsedProof {
    const out: ParsedProof = { nodes: [], host: [], failures: [] };
    const read = (from: string, lines: readonly string[], where: string): ProbeTarget[] => {
        const targets: ProbeTarget[] = [];
        lines.forEach((line, j) => {
            if (isUnknown(line)) return;
            const t = parseTargetLine(from, line);
            if (typeof t === "string") out.failures.push({ property: `${where}[${j}]`, reason: t });
            else targets.push(t);
        });
        return targets;
    };
    if (!isUnknown(i.nodes)) {
        const seen = new Set<string>();
        i.nodes.forEach((n, k) => {
            if (isUnknown(n) || isUnknown(n.targets)) return;
            if (seen.has(n.node))
                out.failures.push({ property: `nodes[${k}].node`, reason: `node "${n.node}" is listed twice` });
            seen.add(n.node);
            const targets = read(n.node, n.targets, `nodes[${k}].targets`);
            const conn = { ...n.connection, privateKey: i.privateKey, node: n.node };
            const openings = readOpenings(n.openings, `nodes[${k}].openings`, out.failures);
            out.nodes.push(openings ? { conn, targets, openings } : { conn, targets });
        });
    }
    if (!isUnknown(i.hostTargets)) out.host = read(PROVISIONING_HOST, i.hostTargets, "hostTargets");
    const total = out.host.length + out.nodes.reduce((a, n) => a + n.targets.length, 0);
    if (total > MAX_PROOF_TARGETS)
        out.failures.push({
            property: "nodes",
            reason: `${total} probes: at most ${MAX_PROOF_TARGETS}; pinhole bounds its own plan to pinhole:proof.maxProbes, so these inputs were not made by its program (docs/stack-config.md, "The proof after apply")`,
        });
    return out;
}

/** The listen audit's opening lines, every bad one a failure; undefined when not sent (or not known yet). */
function readOpenings(lines: readonly string[] | undefined, where: string, failures: CheckFailure[]) {
    if (lines === undefined || isUnknown(lines)) return undefined;
    const groups: OpeningGroup[] = [];
    lines.forEach((line, j) => {
        if (isUnknown(line)) return;
        const g = parseOpeningLine(line);
        if (typeof g === "string") failures.push({ property: `${where}[${j}]`, reason: g });
        else groups.push(g);
    });
    return groups;
}

/** The listen audit of every node that has one: its findings, or why its sockets could not be read. */
function listenFindings(
    nodes: ParsedProof["nodes"],
    results: readonly { listening?: Listener[] | string }[],
): string[] {
    return nodes.flatMap((n, k) => {
        const seen = results[k].listening;
        if (!n.openings || seen === undefined) return [];
        const node = n.conn.node ?? n.conn.host;
        if (typeof seen === "string") return [`listening: ${node}: ${seen}`];
        return listenWarnings(node, n.openings, seen);
    });
}

async function inPool<T, R>(items: readonly T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
    const out: R[] = new Array<R>(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const k = next++;
            out[k] = await fn(items[k]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
    return out;
}

/** Runs the proof; throws a ProviderError with every failed probe (and every source that could not probe). */
export async function runProof(i: ProofInputs, now: () => Date = () => new Date()): Promise<ProofState> {
    const plan = parseProofInputs(i);
    if (plan.failures.length)
        throw new ProviderError(
            `the proof's inputs are malformed: ${plan.failures.map((f) => `${f.property} ${f.reason}`).join("; ")}`,
        );
    const t0 = Date.now();
    const [host, fromNodes] = await Promise.all([
        probeFromHost(plan.host, i.timeoutSeconds),
        inPool(plan.nodes, PARALLEL_NODES, (n) =>
            probeFromNode(n.conn, n.targets, i.timeoutSeconds, { listening: n.openings !== undefined }),
        ),
    ]);
    const results = [host, ...fromNodes];
    const rows: ProbeResultRow[] = results.flatMap((r) => r.rows);
    const errors = results.flatMap((r) => (r.error ? [r.error] : []));
    const seconds = Math.round((Date.now() - t0) / 100) / 10;
    if (errors.length || rows.some((r) => !r.ok)) {
        const parts = [`proof after apply failed (${rows.length} probes in ${seconds} s):`];
        if (rows.some((r) => !r.ok)) parts.push(proofFailureText(rows));
        parts.push(...errors.map((e) => `  ${e}`));
        if (i.rollback) {
            const targets = rollbackTargets(
                appliedFirewalls(),
                plan.nodes.map((n) => n.conn.node ?? ""),
            );
            parts.push(rollbackReport(await rollBack(targets)));
        }
        throw new ProviderError(parts.join("\n"));
    }
    const warnings = [
        ...rows.flatMap((r) => {
            const d = describeProbe(r);
            return d?.warning ? [d.message] : [];
        }),
        ...listenFindings(plan.nodes, fromNodes),
    ];
    const { nodes, hostTargets, privateKey, rulesetDigest, timeoutSeconds, rollback } = i;
    return {
        nodes,
        hostTargets,
        privateKey,
        rulesetDigest,
        timeoutSeconds,
        rollback,
        provedAt: now().toISOString(),
        probes: rows.length,
        seconds,
        warnings,
    };
}

export const proofHandler: ResourceHandler<typeof PROOF> = {
    spec: PROOF,
    async check(news) {
        return { failures: parseProofInputs(news).failures };
    },
    async create(inputs) {
        return { id: "proof", outs: await runProof(inputs) };
    },
    // The default diff: any input changed (a ruleset, an apply, a target, the connection) runs the proof again.
    async update(_id, _olds, news) {
        return { outs: await runProof(news) };
    },
    // Nothing on any node to remove.
    async delete() {},
};
