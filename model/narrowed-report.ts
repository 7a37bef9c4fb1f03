// What a stack's firewall profile closed of the reference, grouped by narrowing: the preview's warnings and
// the `narrowedReferenceOpenings` stack output, so a reviewer sees it without opening docs/decisions.md.

import { ClusterModel } from "./types";
import { NarrowedFlow } from "./flows";
import { CATALOG_BY_ID } from "./catalog";
import { NARROWING_BY_ID, NARROWINGS, NarrowingId, activeNarrowings, describeProfile } from "./narrowings";

export interface NarrowingSummary {
    narrowing: NarrowingId;
    closes: string;
    why: string;
    decision: string;
    /** Reference rows ("section / communication") of the closed openings. */
    rows: string[];
    /** "27030/tcp app-1 → db-1", one per closed flow, in flow order. */
    flows: string[];
}

function flowText(f: NarrowedFlow): string {
    return `${f.port}/${f.protocol} ${f.from.name} → ${f.to.name}`;
}

/** Per active narrowing (in NARROWINGS order), the reference flows it closed in this cluster. */
export function summarizeNarrowed(model: ClusterModel, narrowed: readonly NarrowedFlow[]): NarrowingSummary[] {
    const active = activeNarrowings(model.firewall);
    return NARROWINGS.filter((n) => active.has(n.id)).map((n) => {
        const mine = narrowed.filter((f) => f.narrowedBy.includes(n.id));
        const rows = [
            ...new Set(
                mine.map((f) => {
                    const r = f.rowId ? CATALOG_BY_ID[f.rowId] : undefined;
                    return r ? `${r.section} / ${r.communication}` : f.section;
                }),
            ),
        ];
        return { narrowing: n.id, closes: n.closes, why: n.why, decision: n.decision, rows, flows: mine.map(flowText) };
    });
}

/** One warning line per narrowing that closed something (at most `maxFlows` flows named in each). */
export function narrowedWarnings(model: ClusterModel, narrowed: readonly NarrowedFlow[], maxFlows = 6): string[] {
    const profile = describeProfile(model.firewall);
    return summarizeNarrowed(model, narrowed)
        .filter((s) => s.flows.length > 0)
        .map((s) => {
            const shown = s.flows.slice(0, maxFlows).join(", ");
            const more = s.flows.length > maxFlows ? ` and ${s.flows.length - maxFlows} more` : "";
            return (
                `firewall profile ${profile}: narrowing ${s.narrowing} closes ${s.flows.length} reference opening(s) ` +
                `[${s.rows.join("; ")}]: ${shown}${more} — ${s.why} (docs/decisions.md "${NARROWING_BY_ID[s.narrowing].decision}"; ` +
                `pinhole:firewall.narrow.${s.narrowing}: false keeps them)`
            );
        });
}
