// The proof's cluster rollback (pinhole:proof.rollback, issue 14 deliverable 2): when the proof after apply fails,
// every node whose Firewall this command applied goes back to the ruleset it ran before, through the node-side
// rollback target that apply armed (remote/firewall-scripts.ts rollbackScript). A provider process serves one
// command, so what this process applied is what this `up` changed. The Firewalls' states keep the new ruleset:
// the next `up`'s live check sees each rolled-back node differ from it and applies it again (then the proof runs).
import { EXIT, rollbackScript } from "../remote/firewall-scripts";
import { describe, explainSshFailure, runScript, SshConnectionInput } from "../remote/ssh";

/** One confirmed apply of this command: the node, its apply token and how to reach it. */
export interface AppliedFirewall {
    node: string;
    token: string;
    conn: SshConnectionInput;
}

/** Every Firewall apply this provider process confirmed, by node (the last one of a node wins). */
const appliedThisCommand = new Map<string, AppliedFirewall>();

export function recordApply(a: AppliedFirewall): void {
    appliedThisCommand.set(a.node, a);
}

export function appliedFirewalls(): AppliedFirewall[] {
    return [...appliedThisCommand.values()];
}

/** Only for tests: forget what was applied. */
export function forgetApplies(): void {
    appliedThisCommand.clear();
}

/** The applies to undo for a proof over `proofNodes`: the nodes of the proof this command applied, in the proof's order. */
export function rollbackTargets(applied: readonly AppliedFirewall[], proofNodes: readonly string[]): AppliedFirewall[] {
    const byNode = new Map(applied.map((a) => [a.node, a]));
    return proofNodes.flatMap((n) => {
        const a = byNode.get(n);
        return a ? [a] : [];
    });
}

/** What rolling back one node did: back on the previous ruleset, on no pinhole table (its first apply), or not. */
export interface RollbackResult {
    node: string;
    outcome: "previous" | "none" | "failed";
    detail?: string;
}

/** One line per node for the failed `up`'s message (after the proof's failure). */
export function rollbackReport(results: readonly RollbackResult[]): string {
    if (results.length === 0)
        return "cluster rollback (pinhole:proof.rollback): this up applied no firewall, nothing to roll back";
    const failed = results.filter((r) => r.outcome === "failed").length;
    const head = failed
        ? `cluster rollback (pinhole:proof.rollback): ${failed} of ${results.length} node(s) could NOT be rolled back (they run the new ruleset):`
        : `cluster rollback (pinhole:proof.rollback): every node this up changed is back on its previous ruleset (${results.length}):`;
    const line = (r: RollbackResult) =>
        r.outcome === "previous"
            ? `  ${r.node}: back on its previous ruleset`
            : r.outcome === "none"
              ? `  ${r.node}: back to no pinhole table (this up was its first apply)`
              : `  ${r.node}: NOT rolled back: ${r.detail ?? "unknown"}`;
    return [
        head,
        ...results.map(line),
        "  The Firewalls' state keeps the new rulesets: the next `pulumi up` applies them again (each node differs from it), then proves.",
    ].join("\n");
}

/** The outcome of rollbackScript's run on a node. */
export function rollbackOutcome(
    node: string,
    r: { code: number; stdout: string; stderr: string },
    sshFailure: () => string,
): RollbackResult {
    if (r.code === 0) {
        const m = /^rolled-back=(previous|none)$/m.exec(r.stdout);
        return m
            ? { node, outcome: m[1] as "previous" | "none" }
            : { node, outcome: "failed", detail: "the rollback script did not say what it did" };
    }
    const why =
        r.code === 255
            ? sshFailure()
            : r.code === EXIT.noRollbackTarget
              ? `${r.stderr.trim()} (left as it is)`
              : `exit ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`;
    return { node, outcome: "failed", detail: why };
}

/** Rolls every target back, all at once; never throws (a node that fails is a failed result). */
export async function rollBack(targets: readonly AppliedFirewall[]): Promise<RollbackResult[]> {
    return Promise.all(
        targets.map(async (a) => {
            try {
                const r = await runScript(a.conn, rollbackScript(a.token), { timeoutMs: 60_000 });
                return rollbackOutcome(a.node, r, () => explainSshFailure(a.conn, r));
            } catch (e) {
                return {
                    node: a.node,
                    outcome: "failed" as const,
                    detail: `${describe(a.conn)}: ${(e as Error).message}`,
                };
            }
        }),
    );
}
