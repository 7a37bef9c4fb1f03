// A node's firewall drift: the rules of its live table that differ from the listing pinhole applied, the warning
// a preview shows for them, and what a read of the node records (split from provider/firewall.ts).
import type { FirewallState } from "./schema";

export type FirewallDrift = FirewallState["drift"];

/** Rules of the live table that differ from the applied listing, both ways (multiset of trimmed lines). */
export function listingDrift(applied: string, live: string): FirewallDrift {
    const lines = (t: string) =>
        t
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l && l !== "}");
    const count = (ls: string[]) => ls.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
    const minus = (a: string[], b: Map<string, number>) => {
        const left = new Map(b);
        return a.filter((l) => {
            const n = left.get(l) ?? 0;
            if (n > 0) {
                left.set(l, n - 1);
                return false;
            }
            return true;
        });
    };
    const a = lines(applied);
    const l = lines(live);
    return { rulesAddedOnNode: minus(l, count(a)), rulesMissingOnNode: minus(a, count(l)) };
}

export const NO_DRIFT: FirewallDrift = { rulesAddedOnNode: [], rulesMissingOnNode: [] };

/**
 * The rules a preview's live check found changed on the node. The diff can only name the `drift` property
 * (its value in the state is a refresh's, still empty), so the rules themselves go on the resource as a warning.
 */
export function driftWarning(node: string, d: FirewallDrift): string {
    const list = (title: string, ls: string[]) => (ls.length ? [`  ${title}:`, ...ls.map((l) => `    ${l}`)] : []);
    return [
        `node ${node}: the live table inet pinhole differs from the ruleset pinhole applied (the next \`pulumi up\` applies it again; \`pulumi refresh\` records the difference as drift):`,
        ...list("rules added on the node", d.rulesAddedOnNode),
        ...list("rules missing on the node", d.rulesMissingOnNode),
    ].join("\n");
}

/**
 * What a read of the node records next to the applied listing: the drift, and the live listing only when it
 * differs (a second copy of an unchanged table would only grow every checkpoint of the state).
 */
export function liveFields(applied: string, live: string): { drift: FirewallDrift; liveListing?: string } {
    return live === applied ? { drift: NO_DRIFT } : { drift: listingDrift(applied, live), liveListing: live };
}

/** A state without its last read (liveListing), for a new read to replace. */
export function withoutLive<T extends { liveListing?: string }>(s: T): Omit<T, "liveListing"> {
    const rest = { ...s };
    delete rest.liveListing;
    return rest;
}
export const hasDrift = (d: FirewallDrift | undefined) =>
    !!d && d.rulesAddedOnNode.length + d.rulesMissingOnNode.length > 0;
/** Old states (before the drift output existed) only have the two listings. */
export const driftOf = (s: FirewallState): FirewallDrift =>
    s.drift ?? (s.liveListing !== undefined ? listingDrift(s.listing, s.liveListing) : NO_DRIFT);
