// pinhole:rollout: canary (a count or node names), batchSize, by (site | role); checked against the nodes and
// the proof (each step is proven before the next, so a rollout without the proof would only be slower).
import { RolloutSettings } from "../types";
import { LIMITS } from "../limits";
import { ROLLOUT_KEYS } from "./keys";
import { Problems, dot, readEnum, readInt, readList, readMap, readString, root } from "./read";

export function readRollout(
    v: unknown,
    nodeNames: ReadonlySet<string>,
    proofEnabled: boolean | undefined,
    pr: Problems,
): RolloutSettings | undefined | null {
    const path = root("rollout");
    if (v === undefined) return undefined;
    const m = readMap(v, path, pr, ROLLOUT_KEYS);
    if (!m) return null;
    // {} is Pulumi.yaml's default for this optional key (CONFIG_SCHEMA): every node at once, as when absent
    if (Object.keys(m).length === 0) return undefined;
    const before = pr.errors.length;
    const r: RolloutSettings = { canary: readCanary(m.canary, nodeNames, dot(path, "canary"), pr) ?? 0 };
    if (m.batchSize !== undefined) {
        const n = readInt(
            m.batchSize,
            dot(path, "batchSize"),
            pr,
            LIMITS.rolloutBatchSize.min,
            LIMITS.rolloutBatchSize.max,
        );
        if (n !== undefined) r.batchSize = n;
    }
    if (m.by !== undefined) {
        const by = readEnum(m.by, dot(path, "by"), pr, ["site", "role"] as const);
        if (by) r.by = by;
    }
    if (proofEnabled === false)
        pr.error(path, "needs the proof (pinhole:proof.enabled: true): each step is proven before the next starts");
    return pr.errors.length === before ? r : null;
}

function readCanary(
    v: unknown,
    nodeNames: ReadonlySet<string>,
    path: string,
    pr: Problems,
): number | string[] | undefined {
    if (v === undefined) return 0;
    if (!Array.isArray(v)) {
        const n = readInt(v, path, pr, 0, nodeNames.size, "a number of nodes or a list of node names");
        if (n === undefined) return undefined;
        if (n === nodeNames.size && n > 0)
            pr.error(path, `${n} is every node: a canary is some of them (leave pinhole:rollout out for all at once)`);
        return n;
    }
    const list = readList(v, path, pr) ?? [];
    const names: string[] = [];
    list.forEach((item, i) => {
        const name = readString(item, `${path}[${i}]`, pr);
        if (name === undefined) return;
        if (!nodeNames.has(name)) pr.error(`${path}[${i}]`, `"${name}" is not a node in pinhole:nodes`);
        else if (names.includes(name)) pr.error(`${path}[${i}]`, `"${name}" is named twice`);
        else names.push(name);
    });
    if (names.length === nodeNames.size && names.length > 0)
        pr.error(path, "names every node: a canary is some of them (leave pinhole:rollout out for all at once)");
    return names;
}
