// pinhole:rollout: the order in which an `up` changes the nodes' firewalls. Default: every node at once. With a
// rollout, the canary node(s) go first, then the rest in batches (of batchSize, or one per site or role); each
// step is proven (components/proof.ts, a proof over the nodes changed so far) before the next starts, so the first
// failing step stops the rollout and leaves the later nodes as they were. Pure.
import { ClusterModel, NodeSpec, RolloutSettings } from "./types";

export interface RolloutStep {
    /** "canary", "batch 1", ... (what preview and the proof's name say). */
    label: string;
    nodes: string[];
}

/** The steps, in order: each node in exactly one; nodes keep pinhole:nodes' order within a step. */
export function rolloutSteps(nodes: readonly NodeSpec[], r: RolloutSettings): RolloutStep[] {
    const canary = new Set(typeof r.canary === "number" ? nodes.slice(0, r.canary).map((n) => n.name) : r.canary);
    const rest = nodes.filter((n) => !canary.has(n.name));
    const groups: NodeSpec[][] = [];
    if (r.by) {
        const byKey = new Map<string, NodeSpec[]>();
        for (const n of rest) {
            const k = r.by === "site" ? n.site : n.role;
            if (!byKey.has(k)) byKey.set(k, []);
            byKey.get(k)!.push(n);
        }
        groups.push(...byKey.values());
    } else if (rest.length) groups.push(rest);
    const steps: RolloutStep[] = [];
    const inOrder = nodes.filter((n) => canary.has(n.name)).map((n) => n.name);
    if (inOrder.length) steps.push({ label: "canary", nodes: inOrder });
    for (const g of groups) {
        const size = r.batchSize ?? g.length;
        for (let i = 0; i < g.length; i += size)
            steps.push({
                label: `batch ${steps.length + (inOrder.length ? 0 : 1)}`,
                nodes: g.slice(i, i + size).map((n) => n.name),
            });
    }
    return steps;
}

/** The steps of the model's rollout; one step with every node when it has none. */
export function modelRolloutSteps(model: ClusterModel): RolloutStep[] {
    if (!model.rollout) return [{ label: "all nodes", nodes: model.nodes.map((n) => n.name) }];
    return rolloutSteps(model.nodes, model.rollout);
}

/** What preview says: "rollout in 4 steps: canary [app-1] → batch 1 [app-2, app-3] → ...". */
export function describeRollout(steps: readonly RolloutStep[]): string {
    const parts = steps.map((s) => `${s.label} [${s.nodes.join(", ")}]`);
    return `rollout in ${steps.length} step${steps.length === 1 ? "" : "s"}, each proven before the next: ${parts.join(" → ")}`;
}
