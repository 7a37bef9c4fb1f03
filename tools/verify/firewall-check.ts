// verify's firewall check: the live nftables table vs the one the state says was applied, in nftables terms.
import { ParsedChain, ParsedSet, ParsedTable, parseTable } from "../../render/nft-listing";
import { Finding, fail, ok } from "./findings";
import { lcsSplit } from "./line-diff";
import type { NodeExpectation } from "./state";

export type DifferenceKind =
    | "table-missing"
    | "table-unexpected"
    | "set-missing"
    | "set-extra"
    | "set-property"
    | "element-missing"
    | "element-extra"
    | "chain-missing"
    | "chain-extra"
    | "chain-header"
    | "rule-missing"
    | "rule-extra"
    | "rule-moved"
    | "other";

export interface Difference {
    kind: DifferenceKind;
    /** "chain input", "set peers_1_v4", "table" */
    where: string;
    /** The rule, element, property or header concerned. */
    text: string;
    /** Live value when a header/property differs. */
    live?: string;
}

/**
 * What differs between the expected listing (the state's, or what the config implies) and the live one, in
 * nftables terms: extra/missing rules per chain (rule order matters: a rule found at another position is
 * "moved"), extra/missing set elements, changed chain policies or set properties, a missing table.
 */
export function diffTables(expected: string, live: string): Difference[] {
    const e = parseTable(expected),
        l = parseTable(live);
    if (e.present && !l.present)
        return [{ kind: "table-missing", where: "table", text: `table ${e.header || "inet pinhole"}` }];
    if (!e.present && l.present) return [{ kind: "table-unexpected", where: "table", text: `table ${l.header}` }];
    return [...diffSets(e, l), ...diffChains(e, l), ...diffOther(e, l)];
}

function diffSets(e: ParsedTable, l: ParsedTable): Difference[] {
    const out: Difference[] = [];
    for (const [name, es] of e.sets) {
        const ls = l.sets.get(name);
        if (ls) out.push(...diffSet(name, es, ls));
        else
            out.push({
                kind: "set-missing",
                where: `set ${name}`,
                text: `set ${name} (${es.elements.length} element(s))`,
            });
    }
    for (const [name, ls] of l.sets)
        if (!e.sets.has(name))
            out.push({
                kind: "set-extra",
                where: `set ${name}`,
                text: `set ${name} (${ls.elements.length} element(s))`,
            });
    return out;
}

/** One set present on both sides: its properties, then its elements. */
function diffSet(name: string, es: ParsedSet, ls: ParsedSet): Difference[] {
    const out: Difference[] = [];
    const lp = new Set(ls.props),
        ep = new Set(es.props);
    for (const p of es.props)
        if (!lp.has(p))
            out.push({
                kind: "set-property",
                where: `set ${name}`,
                text: p,
                live: ls.props.filter((x) => !ep.has(x)).join("; ") || "(none)",
            });
    // A live property of a kind the expected set has is already reported above, as that property's live value.
    for (const p of ls.props)
        if (!ep.has(p) && !es.props.some((x) => x.split(" ")[0] === p.split(" ")[0]))
            out.push({ kind: "set-property", where: `set ${name}`, text: "(none)", live: p });
    const le = new Set(ls.elements),
        ee = new Set(es.elements);
    for (const x of es.elements) if (!le.has(x)) out.push({ kind: "element-missing", where: `set ${name}`, text: x });
    for (const x of ls.elements) if (!ee.has(x)) out.push({ kind: "element-extra", where: `set ${name}`, text: x });
    return out;
}

function diffChains(e: ParsedTable, l: ParsedTable): Difference[] {
    const out: Difference[] = [];
    for (const [name, ec] of e.chains) {
        const lc = l.chains.get(name);
        if (lc) out.push(...diffChain(name, ec, lc));
        else
            out.push({
                kind: "chain-missing",
                where: `chain ${name}`,
                text: `chain ${name} (${ec.rules.length} rule(s))`,
            });
    }
    for (const [name, lc] of l.chains)
        if (!e.chains.has(name))
            out.push({
                kind: "chain-extra",
                where: `chain ${name}`,
                text: `chain ${name} (${lc.header.join("; ") || "no hook"}, ${lc.rules.length} rule(s))`,
            });
    return out;
}

/** One chain present on both sides: its header, then its rules in order (a rule on both sides but elsewhere is "moved"). */
function diffChain(name: string, ec: ParsedChain, lc: ParsedChain): Difference[] {
    const out: Difference[] = [];
    if (ec.header.join("; ") !== lc.header.join("; "))
        out.push({
            kind: "chain-header",
            where: `chain ${name}`,
            text: ec.header.join("; "),
            live: lc.header.join("; "),
        });
    const { onlyA, onlyB } = lcsSplit(ec.rules, lc.rules);
    const missing = onlyA.map((i) => ec.rules[i]);
    const extra = onlyB.map((i) => lc.rules[i]);
    const moved = new Set(missing.filter((r) => extra.includes(r)));
    for (const r of missing) if (!moved.has(r)) out.push({ kind: "rule-missing", where: `chain ${name}`, text: r });
    for (const [k, r] of extra.entries()) {
        if (moved.has(r))
            out.push({
                kind: "rule-moved",
                where: `chain ${name}`,
                text: r,
                live: `position ${lc.rules.indexOf(r) + 1}`,
            });
        else out.push({ kind: "rule-extra", where: `chain ${name}`, text: r, live: `position ${onlyB[k] + 1}` });
    }
    return out;
}

/** Table-level lines that are neither sets nor chains. */
function diffOther(e: ParsedTable, l: ParsedTable): Difference[] {
    const out: Difference[] = [];
    const lo = new Set(l.other),
        eo = new Set(e.other);
    for (const x of e.other) if (!lo.has(x)) out.push({ kind: "other", where: "table", text: `missing: ${x}` });
    for (const x of l.other) if (!eo.has(x)) out.push({ kind: "other", where: "table", text: `extra: ${x}` });
    return out;
}

/** One difference as an operator reads it: "live table has an extra rule: tcp dport 3306 accept (chain input, position 1)". */
export function describeDifference(d: Difference): string {
    switch (d.kind) {
        case "table-missing":
            return "pinhole's table is missing from the live ruleset (the node has no pinhole firewall)";
        case "table-unexpected":
            return "the live ruleset has a pinhole table that the state does not expect";
        case "set-missing":
            return `live table is missing ${d.text}`;
        case "set-extra":
            return `live table has an extra ${d.text}`;
        case "set-property":
            return `${d.where} differs: expected "${d.text}", live "${d.live}"`;
        case "element-missing":
            return `live ${d.where} is missing element ${d.text}`;
        case "element-extra":
            return `live ${d.where} has an extra element: ${d.text}`;
        case "chain-missing":
            return `live table is missing ${d.text}`;
        case "chain-extra":
            return `live table has an extra ${d.text}`;
        case "chain-header":
            return `${d.where} differs: expected "${d.text}", live "${d.live}"`;
        case "rule-missing":
            return `live table is missing a rule: ${d.text} (${d.where})`;
        case "rule-extra":
            return `live table has an extra rule: ${d.text} (${d.where}, ${d.live})`;
        case "rule-moved":
            return `a rule is in another position than applied: ${d.text} (${d.where}, now ${d.live})`;
        default:
            return `live table differs: ${d.text}`;
    }
}

export interface LiveFirewall {
    /** Normalised `nft -s list table inet pinhole` ("" when the table is absent). */
    listing: string;
    /** Owner marker on the node (the Firewall resource id that applied it). */
    owner: string;
    /** A ruleset is persisted for boot. */
    persisted: boolean;
    /** What the last boot loaded (remote/firewall-scripts.ts loaderScript); absent or "" when unknown. */
    boot?: string;
}

/** Live table vs the state's listing (and, via expectationsFor, vs what the config implies). */
export function checkFirewall(e: NodeExpectation, live: LiveFirewall): Finding[] {
    const name = e.node.name;
    if (!e.firewall) {
        if (live.listing.trim())
            return [
                fail(name, "firewall", "the node has a pinhole table, but the stack's state has no firewall for it"),
            ];
        return [];
    }
    const out: Finding[] = [];
    const diffs = diffTables(e.firewall.listing, live.listing);
    for (const d of diffs) out.push(fail(name, "firewall", describeDifference(d)));
    if (diffs.length === 0)
        out.push(
            ok(
                name,
                "firewall",
                `live table matches the state (${parseTable(live.listing).chains.size} chain(s), ${[...parseTable(live.listing).chains.values()].reduce((a, c) => a + c.rules.length, 0)} rules)`,
            ),
        );
    if (live.listing.trim() && live.owner && e.firewall.id && live.owner !== e.firewall.id) {
        out.push(
            fail(
                name,
                "firewall",
                `the table on the node belongs to another resource (${live.owner}), not this stack's ${e.firewall.id}`,
            ),
        );
    }
    if (live.boot === "failsafe")
        out.push(
            fail(
                name,
                "firewall",
                "at the last boot /etc/pinhole/firewall.nft did not load: the node runs the management-only fail-safe ruleset (only management SSH is open); run `pulumi up` to restore the ruleset",
            ),
        );
    if (live.boot === "failed")
        out.push(
            fail(
                name,
                "firewall",
                "at the last boot neither /etc/pinhole/firewall.nft nor the fail-safe ruleset loaded: the node may be open; run `pulumi up`",
            ),
        );
    if (live.listing.trim() && !live.persisted)
        out.push(
            fail(
                name,
                "firewall",
                "the ruleset is not persisted for boot (/etc/pinhole/firewall.nft missing): a reboot would come up without it",
            ),
        );
    return out;
}
