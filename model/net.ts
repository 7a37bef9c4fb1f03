// IP address and CIDR handling for the model: strict parsing (what nftables will accept literally),
// containment checks for the reachability oracle, and hostname syntax. Pure, no dependencies.

export type IpFamily = 4 | 6;

export interface IpAddress {
    family: IpFamily;
    /** The address as an unsigned integer (32 or 128 bits). */
    value: bigint;
}

export interface Cidr {
    family: IpFamily;
    /** Network address (host bits cleared). */
    base: bigint;
    prefix: number;
    /** Canonical text, e.g. "10.20.0.0/24". */
    text: string;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/** Dotted quad, four decimal octets, no leading zeros (0010.1.1.1 is octal to some tools: refuse it). */
export function parseIPv4(text: string): bigint | undefined {
    const parts = text.split(".");
    if (parts.length !== 4) return undefined;
    let value = 0n;
    for (const part of parts) {
        if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
        const octet = Number(part);
        if (octet > 255) return undefined;
        value = (value << 8n) | BigInt(octet);
    }
    return value;
}

/** RFC 4291 text form: hex groups, one "::", optional trailing dotted quad. No zone ids, no brackets. */
export function parseIPv6(text: string): bigint | undefined {
    if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
    const halves = text.split("::");
    if (halves.length > 2) return undefined;
    const head = toWords(halves[0], halves.length === 1);
    const tail = halves.length === 2 ? toWords(halves[1], true) : [];
    if (!head || !tail) return undefined;
    if (halves.length === 2 && /\./.test(halves[0])) return undefined; // a dotted quad may only end the address
    let words: bigint[];
    if (halves.length === 1) {
        if (head.length !== 8) return undefined;
        words = head;
    } else {
        const zeros = 8 - head.length - tail.length;
        if (zeros < 1) return undefined; // "::" stands for at least one zero group
        words = [...head, ...new Array<bigint>(zeros).fill(0n), ...tail];
    }
    return words.reduce((acc, w) => (acc << 16n) | w, 0n);
}

/** "a:b:c" → 16-bit words; a last group may be a dotted quad (two words) when `quadAllowedAtEnd`. */
function toWords(part: string, quadAllowedAtEnd: boolean): bigint[] | undefined {
    if (part === "") return [];
    const groups = part.split(":");
    const words: bigint[] = [];
    for (let i = 0; i < groups.length; i++) {
        const group = groups[i];
        if (group.includes(".")) {
            if (!quadAllowedAtEnd || i !== groups.length - 1) return undefined;
            const v4 = parseIPv4(group);
            if (v4 === undefined) return undefined;
            words.push(v4 >> 16n, v4 & 0xffffn);
        } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
            words.push(BigInt(parseInt(group, 16)));
        } else {
            return undefined;
        }
    }
    return words;
}

export function parseIp(text: string): IpAddress | undefined {
    const v4 = parseIPv4(text);
    if (v4 !== undefined) return { family: 4, value: v4 };
    const v6 = parseIPv6(text);
    if (v6 !== undefined) return { family: 6, value: v6 };
    return undefined;
}

export function isIp(text: string): boolean {
    return parseIp(text) !== undefined;
}

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; error: string; suggestion?: string };

/** "10.0.0.0/8", "2001:db8::/32", or a bare address (taken as /32 or /128). Host bits must be clear. */
export function parseCidr(text: string): CidrResult {
    const slash = text.indexOf("/");
    const addrText = slash < 0 ? text : text.slice(0, slash);
    const ip = parseIp(addrText);
    if (!ip) {
        if (addrText.startsWith("["))
            return { ok: false, error: `"${text}" is not an address or CIDR: write IPv6 without brackets here` };
        return { ok: false, error: `"${text}" is not an IPv4/IPv6 address or CIDR` };
    }
    const bits = BITS[ip.family];
    let prefix = bits;
    if (slash >= 0) {
        const prefixText = text.slice(slash + 1);
        if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
            return { ok: false, error: `"${text}" has an invalid prefix length (0-${bits} for IPv${ip.family})` };
        }
        prefix = Number(prefixText);
    }
    const hostMask = (1n << BigInt(bits - prefix)) - 1n;
    if ((ip.value & hostMask) !== 0n) {
        const base = ip.value & ~hostMask;
        const suggestion = `${formatIp({ family: ip.family, value: base })}/${prefix}`;
        return { ok: false, error: `"${text}" has host bits set (did you mean ${suggestion}?)`, suggestion };
    }
    const cidr: Cidr = { family: ip.family, base: ip.value, prefix, text: "" };
    cidr.text = formatCidr(cidr);
    return { ok: true, cidr };
}

export function formatCidr(cidr: Omit<Cidr, "text">): string {
    return `${formatIp({ family: cidr.family, value: cidr.base })}/${cidr.prefix}`;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIp(ip: IpAddress): string {
    if (ip.family === 4) {
        return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join(".");
    }
    const words: number[] = [];
    for (let i = 7; i >= 0; i--) words.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
    let bestStart = -1,
        bestLen = 0;
    for (let i = 0; i < 8;) {
        if (words[i] !== 0) {
            i++;
            continue;
        }
        let j = i;
        while (j < 8 && words[j] === 0) j++;
        if (j - i > bestLen && j - i >= 2) {
            bestStart = i;
            bestLen = j - i;
        }
        i = j;
    }
    const hex = words.map((w) => w.toString(16));
    if (bestStart < 0) return hex.join(":");
    return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** Does `cidrText` (a CIDR or bare address) contain `addressText`? false when either is invalid or families differ. */
export function cidrContains(cidrText: string, addressText: string): boolean {
    const parsed = parseCidr(cidrText);
    const ip = parseIp(addressText);
    if (!parsed.ok || !ip || parsed.cidr.family !== ip.family) return false;
    const bits = BITS[ip.family];
    const shift = BigInt(bits - parsed.cidr.prefix);
    return ip.value >> shift === parsed.cidr.base >> shift;
}

/** Do two CIDRs (or addresses) share any address? */
export function cidrsOverlap(a: string, b: string): boolean {
    const pa = parseCidr(a),
        pb = parseCidr(b);
    if (!pa.ok || !pb.ok || pa.cidr.family !== pb.cidr.family) return false;
    const prefix = Math.min(pa.cidr.prefix, pb.cidr.prefix);
    const shift = BigInt(BITS[pa.cidr.family] - prefix);
    return pa.cidr.base >> shift === pb.cidr.base >> shift;
}

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens; at most 253 characters. */
export function isHostname(text: string): boolean {
    if (text.length === 0 || text.length > 253) return false;
    const labels = text.endsWith(".") ? text.slice(0, -1).split(".") : text.split(".");
    // An all-numeric last label would read as a broken IPv4 address ("10.0.0.300"): refuse it.
    if (/^[0-9]+$/.test(labels[labels.length - 1])) return false;
    return labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}
