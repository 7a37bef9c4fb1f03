// THE parser of nftables listings (`nft -s list table inet pinhole`, or a ruleset as render/nftables.ts renders
// it): named sets (properties, elements) and chains (hook header, rules in order). verify compares two of them,
// the benchmark counts rules and elements.

export interface ParsedSet {
    name: string;
    props: string[];
    elements: string[];
}
export interface ParsedChain {
    name: string;
    header: string[];
    rules: string[];
}
export interface ParsedTable {
    present: boolean;
    header: string;
    sets: Map<string, ParsedSet>;
    chains: Map<string, ParsedChain>;
    other: string[];
}

/** A normalised `nft -s list table inet pinhole` → sets (properties, elements) and chains (header, rules in order). */
export function parseTable(listing: string): ParsedTable {
    const t: ParsedTable = { present: false, header: "", sets: new Map(), chains: new Map(), other: [] };
    let set: ParsedSet | undefined;
    let chain: ParsedChain | undefined;
    let elements: string | undefined;
    for (const raw of listing.split("\n")) {
        const line = raw.trim();
        if (!line || line.startsWith("#")) continue;
        if (elements !== undefined) {
            elements += " " + line;
            if (line.endsWith("}")) {
                set!.elements.push(...splitElements(elements));
                elements = undefined;
            }
            continue;
        }
        let m: RegExpExecArray | null;
        if (!set && !chain && (m = /^table (\S+ \S+) \{$/.exec(line))) {
            t.present = true;
            t.header = m[1];
            continue;
        }
        if (!set && !chain && (m = /^set (\S+) \{$/.exec(line))) {
            set = { name: m[1], props: [], elements: [] };
            t.sets.set(m[1], set);
            continue;
        }
        if (!set && !chain && (m = /^chain (\S+) \{$/.exec(line))) {
            chain = { name: m[1], header: [], rules: [] };
            t.chains.set(m[1], chain);
            continue;
        }
        if (line === "}") {
            set = undefined;
            chain = undefined;
            continue;
        }
        if (set) {
            if (line.startsWith("elements = {")) {
                if (line.endsWith("}")) set.elements.push(...splitElements(line));
                else elements = line;
            } else set.props.push(line);
        } else if (chain) {
            if (/^type \S+ hook /.test(line)) chain.header.push(line);
            else chain.rules.push(line);
        } else t.other.push(line);
    }
    return t;
}

function splitElements(text: string): string[] {
    const inner = text.replace(/^elements = \{/, "").replace(/\}$/, "");
    return inner
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}
