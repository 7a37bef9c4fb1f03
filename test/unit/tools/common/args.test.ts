// Every command's arguments through tools/common/args.ts (node:util parseArgs): one wording of errors, --help as
// the usage, and each command's own checks.
import { expect } from "chai";
import { parseBenchArgs } from "../../../../tools/bench/args";
import { parseMatrixArgs } from "../../../../tools/matrix/main";
import { parseNarrowArgs } from "../../../../tools/narrow/main";
import { parseStartArgs } from "../../../../tools/start/progress";
import { parseVerifyArgs } from "../../../../tools/verify/args";
import { BENCH_USAGE, MATRIX_USAGE, NARROW_USAGE, START_USAGE, VERIFY_USAGE } from "../../../../tools/common/usage";

type Parser = (argv: string[]) => unknown;
const COMMANDS: [string, Parser, string][] = [
    ["start", parseStartArgs, START_USAGE],
    ["matrix", parseMatrixArgs, MATRIX_USAGE],
    ["narrow", parseNarrowArgs, NARROW_USAGE],
    ["bench", parseBenchArgs, BENCH_USAGE],
    ["verify", parseVerifyArgs, VERIFY_USAGE],
];

describe("tools/common/args: the same conventions for every command", () => {
    for (const [name, parse, usage] of COMMANDS) {
        it(`${name}: --help and -h give the usage; unknown flags, stray words and missing values are named`, () => {
            expect(parse(["--help"])).to.equal(usage);
            expect(parse(["-h"])).to.equal(usage);
            const cases: [string[], RegExp][] = [
                [["--frobnicate"], /^unknown argument "--frobnicate"\n/],
                [["stray"], /^unknown argument "stray"\n/],
            ];
            for (const [argv, want] of cases) {
                const r = parse(argv);
                expect(r, argv.join(" ")).to.be.a("string").and.match(want);
                expect(r as string, "the usage follows the problem").to.include(usage);
            }
        });
    }
});

describe("tools/*: each command's values", () => {
    const cases: [string, Parser, string[], unknown][] = [
        ["matrix", parseMatrixArgs, ["--stack", "example-modular", "--json"], { stack: "example-modular", json: true }],
        [
            "matrix",
            parseMatrixArgs,
            ["--stack=x", "--dir", "/srv/stacks"],
            { stack: "x", json: false, dir: "/srv/stacks" },
        ],
        ["narrow", parseNarrowArgs, ["--stack", "prod"], { stack: "prod", window: 30, json: false }],
        ["narrow", parseNarrowArgs, ["--stack", "p", "--window=0", "--ssh-key", "/k"], { window: 0, sshKey: "/k" }],
        ["bench", parseBenchArgs, [], { sizes: [6, 12, 24, 48], sudo: false, keepLab: false, ansible: true }],
        [
            "bench",
            parseBenchArgs,
            ["--sizes", "6,24", "--no-ansible", "--parallel=4"],
            { sizes: [6, 24], ansible: false, parallel: 4 },
        ],
        ["start", parseStartArgs, ["-v", "--model=unified"], { model: "unified", verbose: true, probes: true }],
        ["verify", parseVerifyArgs, ["--stack", "lab"], { stack: "lab", json: false, verbose: false, probes: true }],
        [
            "verify",
            parseVerifyArgs,
            ["--stack=p", "-v", "--no-probes", "--forbidden", "0", "--probe-timeout", "1.5", "--concurrency=8"],
            { stack: "p", verbose: true, probes: false, forbidden: 0, probeTimeout: 1.5, concurrency: 8 },
        ],
        ["verify", parseVerifyArgs, ["--stack", "p", "--dir", "/srv/s"], { dir: "/srv/s" }],
    ];
    for (const [name, parse, argv, want] of cases)
        it(`${name} ${argv.join(" ") || "(no arguments)"}`, () => expect(parse(argv)).to.deep.include(want as object));

    const bad: [string, Parser, string[], RegExp][] = [
        ["matrix", parseMatrixArgs, [], /^missing --stack/],
        ["matrix", parseMatrixArgs, ["--stack"], /^--stack needs a value/],
        ["narrow", parseNarrowArgs, ["--stack", "--json"], /^--stack needs a value/],
        ["narrow", parseNarrowArgs, ["--stack", "p", "--window", "3601"], /^--window needs whole seconds, 0-3600/],
        ["narrow", parseNarrowArgs, ["--stack", "p", "--window", "1.5"], /^--window needs whole seconds/],
        ["narrow", parseNarrowArgs, ["--stack", "p", "--json=yes"], /^--json takes no value/],
        [
            "bench",
            parseBenchArgs,
            ["--sizes", "6,x"],
            /^--sizes needs a comma-separated list of integers from 3 to 200/,
        ],
        ["bench", parseBenchArgs, ["--sizes", "2"], /^--sizes needs/],
        ["bench", parseBenchArgs, ["--parallel", "0"], /^--parallel needs a positive integer/],
        [
            "start",
            parseStartArgs,
            ["--parallel", "-3"],
            /^--parallel needs a value|^--parallel needs a positive integer/,
        ],
        ["verify", parseVerifyArgs, ["--json"], /^missing --stack/],
        ["verify", parseVerifyArgs, ["--stack", "p", "--forbidden", "13"], /^--forbidden needs a whole number/],
        ["verify", parseVerifyArgs, ["--stack", "p", "--probe-timeout", "0"], /^--probe-timeout needs seconds/],
        ["verify", parseVerifyArgs, ["--stack", "p", "--probe-timeout", "2s"], /^--probe-timeout needs seconds/],
        ["verify", parseVerifyArgs, ["--stack", "p", "--concurrency", "0"], /^--concurrency needs a whole number/],
        ["verify", parseVerifyArgs, ["--stack", "p", "--no-probes=1"], /^--no-probes takes no value/],
    ];
    for (const [name, parse, argv, want] of bad)
        it(`${name} ${argv.join(" ") || "(no arguments)"} is refused`, () =>
            expect(parse(argv)).to.be.a("string").and.match(want));
});
