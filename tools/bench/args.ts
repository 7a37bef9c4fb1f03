// npm run bench's arguments (tools/common/args.ts conventions).
import * as path from "path";
import { boolFlag, FlagSpec, intFlag, parseCommand, stringFlag, UsageError } from "../common/args";
import { BENCH_USAGE } from "../common/usage";

export interface BenchArgs {
    sizes: number[];
    json?: string;
    parallel?: number;
    sudo: boolean;
    keepLab: boolean;
    ansible: boolean;
}

const BENCH_FLAGS: FlagSpec = {
    sizes: { type: "string" },
    json: { type: "string" },
    parallel: { type: "string" },
    sudo: { type: "boolean" },
    "keep-lab": { type: "boolean" },
    "no-ansible": { type: "boolean" },
};

export function parseBenchArgs(argv: string[]): BenchArgs | string {
    return parseCommand(argv, BENCH_FLAGS, BENCH_USAGE, (v) => {
        const a: BenchArgs = {
            sizes: [6, 12, 24, 48],
            sudo: boolFlag(v, "sudo"),
            keepLab: boolFlag(v, "keep-lab"),
            ansible: !boolFlag(v, "no-ansible"),
        };
        const sizes = stringFlag(v, "sizes");
        if (sizes !== undefined) {
            a.sizes = sizes.split(",").map((x) => (/^\s*\d+\s*$/.test(x) ? Number(x) : NaN));
            if (a.sizes.some((n) => !Number.isInteger(n) || n < 3 || n > 200))
                throw new UsageError("--sizes needs a comma-separated list of integers from 3 to 200");
        }
        const json = stringFlag(v, "json");
        if (json !== undefined) a.json = path.resolve(json);
        const parallel = intFlag(v, "parallel", 1, 100_000, "a positive integer");
        if (parallel !== undefined) a.parallel = parallel;
        return a;
    });
}
