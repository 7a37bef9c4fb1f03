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
};

/** Seconds, fractions allowed (a probe's connect timeout): (0, 60]. */
function secondsFlag(values: FlagValues, name: string): number | undefined {
    const raw = stringFlag(values, name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(n > 0) || n > 60)
        throw new UsageError(`--${name} needs seconds, more than 0 and at most 60`);
    return n;
}

export function parseVerifyArgs(argv: string[]): VerifyArgs | string {
    return parseCommand(argv, FLAGS, VERIFY_USAGE, (v) => {
        const stack = stringFlag(v, "stack");
        if (!stack) throw new UsageError("missing --stack");
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
        };
        for (const k of Object.keys(a) as (keyof VerifyArgs)[]) if (a[k] === undefined) delete a[k];
        return a;
    });
}
