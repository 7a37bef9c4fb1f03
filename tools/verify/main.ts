// npm run verify -- --stack <name> [--json] [--verbose] [--no-probes] [--forbidden N] [--ssh-key FILE] [--concurrency N]
// Proves the live cluster matches the stack: each node's nftables table vs the state (and what the config
// implies), the installed web certificate vs the state, and TCP probes FROM each node to its peers.
// Exit 0: everything matches; 1: a mismatch (each named by node and rule); 2: bad config / stack unreadable; 64: usage.
import "../common/help-gate";
import * as fs from "fs";
import * as path from "path";
import { formatReport, reportJson, reportOk } from "./report";
import { runVerify, VerifyConfigError } from "./run";
import { VERIFY_USAGE as USAGE } from "../common/usage";

interface Args {
    stack?: string;
    json: boolean;
    verbose: boolean;
    probes: boolean;
    forbidden?: number;
    probeTimeout?: number;
    sshKey?: string;
    concurrency?: number;
    dir?: string;
}

export function parseVerifyArgs(argv: string[]): Args | string {
    const a: Args = { json: false, verbose: false, probes: true };
    const value = (i: number, flag: string): string => {
        const v = argv[i + 1];
        if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
        return v;
    };
    const num = (v: string, flag: string) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number`);
        return n;
    };
    try {
        for (let i = 0; i < argv.length; i++) {
            const [flag, inline] =
                argv[i].startsWith("--") && argv[i].includes("=")
                    ? [argv[i].slice(0, argv[i].indexOf("=")), argv[i].slice(argv[i].indexOf("=") + 1)]
                    : [argv[i], undefined];
            const take = () => inline ?? value(i++, flag);
            switch (flag) {
                case "--stack":
                    a.stack = take();
                    break;
                case "--json":
                    a.json = true;
                    break;
                case "--verbose":
                case "-v":
                    a.verbose = true;
                    break;
                case "--no-probes":
                    a.probes = false;
                    break;
                case "--forbidden":
                    a.forbidden = num(take(), flag);
                    break;
                case "--probe-timeout":
                    a.probeTimeout = num(take(), flag);
                    break;
                case "--ssh-key":
                    a.sshKey = take();
                    break;
                case "--concurrency":
                    a.concurrency = num(take(), flag);
                    break;
                case "--dir":
                    a.dir = path.resolve(take());
                    break;
                case "--help":
                case "-h":
                    return USAGE;
                default:
                    throw new Error(`unknown argument "${argv[i]}"`);
            }
        }
    } catch (e) {
        return `${(e as Error).message}\n${USAGE}`;
    }
    if (!a.stack) return `missing --stack\n${USAGE}`;
    return a;
}

async function main(argv: string[]): Promise<number> {
    const a = parseVerifyArgs(argv);
    if (typeof a === "string") {
        (a === USAGE ? process.stdout : process.stderr).write(a + "\n");
        return a === USAGE ? 0 : 64;
    }
    const keyFile = a.sshKey ?? process.env.PINHOLE_SSH_KEY_FILE;
    const log = a.json ? () => undefined : (m: string) => process.stderr.write(`[verify] ${m}\n`);
    try {
        const report = await runVerify({
            stack: a.stack!,
            stacksDir: a.dir,
            privateKey: keyFile ? fs.readFileSync(keyFile, "utf8") : undefined,
            forbiddenPerPeer: a.forbidden,
            probeTimeoutSeconds: a.probeTimeout,
            concurrency: a.concurrency,
            probes: a.probes,
            log,
        });
        process.stdout.write(a.json ? reportJson(report) : formatReport(report, { verbose: a.verbose }));
        return reportOk(report) ? 0 : 1;
    } catch (e) {
        if (e instanceof VerifyConfigError) {
            process.stderr.write(`verify: ${e.message}\n`);
            return 2;
        }
        throw e;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => {
            process.exitCode = code;
        },
        (e: Error) => {
            process.stderr.write(`verify: ${e.stack ?? e.message}\n`);
            process.exitCode = 2;
        },
    );
}
