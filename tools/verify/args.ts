// verify's command line, through tools/common/args.ts like every other command.
import * as path from "path";
import { boolFlag, FlagSpec, FlagValues, intFlag, parseCommand, stringFlag, UsageError } from "../common/args";
import { VERIFY_USAGE } from "../common/usage";
import { FORBIDDEN_CANDIDATES } from "../../model/probes";

export interface VerifyArgs {
    stack: string;
    json: boolean;
    verbose: boolean;
    probes: boolean;
    forbidden?: number;
    probeTimeout?: number;
    sshKey?: string;
    concurrency?: number;
    dir?: string;
    /** --drops: read each node's drop log since `since` (default an hour before now). */
    drops?: { since: Date };
}

const FLAGS: FlagSpec = {
    stack: { type: "string" },
    json: { type: "boolean" },
    verbose: { type: "boolean", short: "v" },
    "no-probes": { type: "boolean" },
    forbidden: { type: "string" },
    "probe-timeout": { type: "string" },
    "ssh-key": { type: "string" },
    concurrency: { type: "string" },
    dir: { type: "string" },
    drops: { type: "boolean" },
    since: { type: "string" },
};

/** --since: an ISO time, UTC unless it has an offset ("2026-12-03T06:00Z", "2026-12-03 06:00:00") or an age before `now` ("90s", "30m", "2h", "1d"). */
export function parseSince(raw: string, now: Date): Date {
    const age = /^(\d+)([smhd])$/.exec(raw.trim());
    if (age) return new Date(now.getTime() - Number(age[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[age[2]]! * 1000);
    const m = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d(?:\.\d+)?)?))?(Z|[+-]\d\d:?\d\d)?$/i.exec(raw.trim());
    // Without an offset the time is UTC (the platform's time), whatever this machine's zone.
    const t = m ? Date.parse(`${m[1]}T${m[2] ?? "00:00"}${m[3] ?? "Z"}`) : NaN;
    if (Number.isNaN(t) || t > now.getTime())
        throw new UsageError(
            `--since needs a past time (2026-12-03T06:00Z) or an age (90s, 30m, 2h, 1d), not ${JSON.stringify(raw)}`,
        );
    return new Date(t);
}

/** Seconds, fractions allowed (a probe's connect timeout): (0, 60]. */
function secondsFlag(values: FlagValues, name: string): number | undefined {
    const raw = stringFlag(values, name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(n > 0) || n > 60)
        throw new UsageError(`--${name} needs seconds, more than 0 and at most 60`);
    return n;
}

export function parseVerifyArgs(argv: string[], now = new Date()): VerifyArgs | string {
    return parseCommand(argv, FLAGS, VERIFY_USAGE, (v) => {
        const stack = stringFlag(v, "stack");
        if (!stack) throw new UsageError("missing --stack");
        const since = stringFlag(v, "since");
        if (since !== undefined && !boolFlag(v, "drops")) throw new UsageError("--since goes with --drops");
        const dir = stringFlag(v, "dir");
        const a: VerifyArgs = {
            stack,
            json: boolFlag(v, "json"),
            verbose: boolFlag(v, "verbose"),
            probes: !boolFlag(v, "no-probes"),
            forbidden: intFlag(
                v,
                "forbidden",
                0,
                FORBIDDEN_CANDIDATES.length,
                `a whole number of ports per peer, 0-${FORBIDDEN_CANDIDATES.length}`,
            ),
            probeTimeout: secondsFlag(v, "probe-timeout"),
            sshKey: stringFlag(v, "ssh-key"),
            concurrency: intFlag(v, "concurrency", 1, 256, "a whole number of nodes at once, 1-256"),
            dir: dir ? path.resolve(dir) : undefined,
            drops: boolFlag(v, "drops")
                ? { since: since === undefined ? new Date(now.getTime() - 3600_000) : parseSince(since, now) }
                : undefined,
        };
        for (const k of Object.keys(a) as (keyof VerifyArgs)[]) if (a[k] === undefined) delete a[k];
        return a;
    });
}
