// The proof's size bound (pinhole:proof.maxProbes). Every required inter-node flow is probed while the plan fits;
// their number grows with the square of the nodes, so above the budget the required probes are sampled, never
// blindly: each (source role, destination role, port, protocol, family) class and each node pair keeps at least
// one probe, and the rest is filled in a stable hash order. Must-deny and external probes are already bounded
// (model/probes.ts) and are all kept. Pure.
import { ClusterModel } from "./types";
import { familyOfAddress, fnv1a, ProbeTarget } from "./probes";

export interface BoundedPlan {
    plan: ProbeTarget[];
    /** Required inter-node probes before and after the bound (equal when the plan fit). */
    required: number;
    requiredKept: number;
}

const isRequiredBetweenNodes = (t: ProbeTarget, nodes: ReadonlySet<string>) => t.expect === "open" && nodes.has(t.to);

/** `plan` cut to at most `budget` targets (more only when the classes and pairs alone need more), order kept. */
export function boundPlan(model: ClusterModel, plan: readonly ProbeTarget[], budget: number): BoundedPlan {
    const nodes = new Set(model.nodes.map((n) => n.name));
    const required = plan.filter((t) => isRequiredBetweenNodes(t, nodes));
    if (plan.length <= budget) return { plan: [...plan], required: required.length, requiredKept: required.length };
    const kept = chooseRequired(model, required, Math.max(0, budget - (plan.length - required.length)));
    return {
        plan: plan.filter((t) => !isRequiredBetweenNodes(t, nodes) || kept.has(t)),
        required: required.length,
        requiredKept: kept.size,
    };
}

/** Of `required`: the lowest-keyed of each class and of each node pair, then the lowest keys up to `room`. */
function chooseRequired(model: ClusterModel, required: readonly ProbeTarget[], room: number): Set<ProbeTarget> {
    const role = new Map(model.nodes.map((n) => [n.name, n.role]));
    const keyed = required
        .map((t) => {
            const id = `${t.from}|${t.to}|${t.address}|${t.port}/${t.protocol ?? "tcp"}`;
            return { t, id, key: fnv1a(id) };
        })
        // A hash collision is ordered by the whole identity, so the sample never depends on the plan's order.
        .sort((a, b) => a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const kept = new Set<ProbeTarget>();
    const firstOf = (group: (t: ProbeTarget) => string) => {
        const seen = new Set<string>();
        for (const { t } of keyed) {
            const g = group(t);
            if (seen.has(g)) continue;
            seen.add(g);
            kept.add(t);
        }
    };
    firstOf(
        (t) => `${role.get(t.from)}>${role.get(t.to)} ${t.port}/${t.protocol ?? "tcp"} v${familyOfAddress(t.address)}`,
    );
    firstOf((t) => `${t.from}>${t.to}`);
    for (const { t } of keyed) {
        if (kept.size >= room) break;
        kept.add(t);
    }
    return kept;
}

/** The preview warning for a sampled plan, or undefined when every required flow is probed. */
export function boundWarning(b: BoundedPlan, budget: number): string | undefined {
    if (b.requiredKept >= b.required) return undefined;
    return (
        `the proof probes ${b.requiredKept} of ${b.required} required inter-node flows (pinhole:proof.maxProbes ${budget}): ` +
        `every role pair, port and family and every node pair at least once, the rest a fixed sample; ` +
        `raise maxProbes to probe more, or run \`npm run verify\` for every flow`
    );
}
