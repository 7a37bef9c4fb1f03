// The drop log as evidence (`npm run verify -- --drops`): the on-node reader of the kernel log lines the ruleset's
// rate-limited `log prefix "pinhole drop in: "` / `"pinhole drop out: "` rules write (render/nftables.ts), their
// parser, and the top dropped peer/port pairs. The script is read-only; the rest is pure.
import { Protocol } from "../model/types";

export const DROP_PREFIX = { in: "pinhole drop in: ", out: "pinhole drop out: " } as const;

/**
 * Kernel log lines with pinhole's prefixes since `sinceEpochSeconds`: the journal's kernel messages where systemd
 * keeps them (`journalctl -k`, wall-clock times), else the kernel ring buffer (`dmesg --time-format iso`; a
 * container's journal holds no kernel messages, so an empty journal falls through to it). The first line says
 * which: "--- journal" or "--- dmesg"; "--- none" when neither can be read. Needs root (dmesg_restrict).
 */
export function dropLogScript(sinceEpochSeconds: number, maxLines = 20_000): string {
    const since = Math.max(0, Math.floor(sinceEpochSeconds));
    const n = Math.max(1, Math.floor(maxLines));
    return `PATH=/usr/sbin:/usr/bin:/sbin:/bin
j=""
if command -v journalctl >/dev/null 2>&1; then
  j=$(journalctl -k -q --no-pager -o short-unix --since @${since} 2>/dev/null | grep -F 'pinhole drop ' | tail -n ${n})
fi
if [ -n "$j" ]; then echo "--- journal"; printf '%s\\n' "$j"; exit 0; fi
if d=$(dmesg --time-format iso 2>&1); then echo "--- dmesg"; printf '%s\\n' "$d" | grep -F 'pinhole drop ' | tail -n ${n}; exit 0; fi
echo "--- none"; echo "$d" | head -n 3
`;
}

export interface DropLine {
    /** Milliseconds since the epoch (the log's wall-clock time). */
    at: number;
    direction: "in" | "out";
    src: string;
    dst: string;
    /** "tcp", "udp", "icmp", "icmpv6", ... as the kernel names it, lower case. */
    protocol: string;
    sport?: number;
    dport?: number;
}

/** "1764741600.123456 host kernel: ..." (journal short-unix) or "2026-12-03T05:57:13,489271+00:00 ..." (dmesg iso). */
function timeOf(line: string): number | undefined {
    const unix = /^(\d{9,})\.(\d+)\s/.exec(line);
    if (unix) return Number(unix[1]) * 1000 + Math.floor(Number(`0.${unix[2]}`) * 1000);
    const iso = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[,.](\d+))?([+-]\d\d:?\d\d|Z)\s/.exec(line);
    if (!iso) return undefined;
    const t = Date.parse(`${iso[1]}${iso[3] === "Z" ? "Z" : iso[3]}`);
    return Number.isNaN(t) ? undefined : t + Math.floor(Number(`0.${iso[2] ?? "0"}`) * 1000);
}

/** One kernel log line of pinhole's drop rules, or undefined for any other line. */
export function parseDropLine(line: string): DropLine | undefined {
    const dir = line.includes(DROP_PREFIX.in) ? "in" : line.includes(DROP_PREFIX.out) ? "out" : undefined;
    const at = timeOf(line);
    if (!dir || at === undefined) return undefined;
    const field = (k: string) => new RegExp(`\\b${k}=(\\S+)`).exec(line)?.[1];
    const src = field("SRC"),
        dst = field("DST"),
        proto = field("PROTO");
    if (!src || !dst || !proto) return undefined;
    const port = (k: string) => {
        const v = Number(field(k));
        return Number.isInteger(v) && v > 0 && v < 65536 ? v : undefined;
    };
    const sport = port("SPT"),
        dport = port("DPT");
    return {
        at,
        direction: dir,
        src,
        dst,
        protocol: proto.toLowerCase(),
        ...(sport ? { sport } : {}),
        ...(dport ? { dport } : {}),
    };
}

export type DropSource = "journal" | "dmesg" | "none";

/** The script's output: which log it read and the drop lines in it (unparsable lines are skipped). */
export function parseDropLog(stdout: string): { source: DropSource; lines: DropLine[]; note?: string } {
    const [head, ...rest] = stdout.split("\n");
    const source = (/^--- (journal|dmesg|none)$/.exec(head.trim())?.[1] ?? "none") as DropSource;
    if (source === "none") return { source, lines: [], note: rest.join(" ").trim() || "no kernel log readable" };
    return { source, lines: rest.flatMap((l) => parseDropLine(l) ?? []) };
}

export interface DropPair {
    direction: "in" | "out";
    /** The other end: the source of an inbound drop, the destination of an outbound one. */
    peer: string;
    protocol: Protocol | string;
    /** The destination port (undefined for ICMP and other port-less protocols). */
    port?: number;
    count: number;
    first: number;
    last: number;
}

/**
 * The dropped peer/port pairs since `since` (ms), most frequent first (then newest), at most `top`. Only lines about
 * this node's own addresses count: a shared kernel log (the lab's namespaces, containers) holds other nodes' lines.
 */
export function topDrops(
    lines: readonly DropLine[],
    opts: { since: number; addresses: readonly string[]; top?: number },
): { total: number; pairs: DropPair[] } {
    const own = new Set(opts.addresses.map((a) => a.toLowerCase()));
    const pairs = new Map<string, DropPair>();
    let total = 0;
    for (const l of lines) {
        if (l.at < opts.since) continue;
        const mine = l.direction === "in" ? l.dst : l.src;
        if (own.size && !own.has(mine.toLowerCase())) continue;
        total++;
        const peer = l.direction === "in" ? l.src : l.dst;
        const k = `${l.direction} ${peer} ${l.protocol} ${l.dport ?? ""}`;
        const p = pairs.get(k);
        if (p) {
            p.count++;
            p.first = Math.min(p.first, l.at);
            p.last = Math.max(p.last, l.at);
        } else
            pairs.set(k, {
                direction: l.direction,
                peer,
                protocol: l.protocol,
                ...(l.dport ? { port: l.dport } : {}),
                count: 1,
                first: l.at,
                last: l.at,
            });
    }
    const sorted = [...pairs.values()].sort((a, b) => b.count - a.count || b.last - a.last);
    return { total, pairs: sorted.slice(0, opts.top ?? 10) };
}

/** What verify --drops found on one node. */
export interface NodeDrops {
    node: string;
    source: DropSource;
    /** Logged drops since the time, about this node's addresses. */
    total: number;
    pairs: DropPair[];
    /** Why nothing could be read (no journal, dmesg refused), or the SSH failure. */
    error?: string;
}
