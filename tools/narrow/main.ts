// npm run narrow -- --stack <name> [--window S] [--json] [--ssh-key FILE]
// Narrowing from evidence: on a running cluster, for each reference opening a strict narrowing would close,
// does anything listen on it (ss) and did any traffic use it (conntrack, established sockets) over a window;
// prints the narrowings that are safe and the stack settings that apply them. Read-only on the nodes; writes
// the evidence to .pinhole/evidence/<stack>.json for the preview's listener warnings.
// Exit 0: report printed; 1: a node could not be read; 2: bad config / stack unreadable; 64: usage.
import "../common/help-gate";
import * as fs from "fs";
import { loadModel } from "../verify/run";
import { formatNarrowReport, formatProposal, judgeNarrowings, proposedSettings } from "./narrow";
import { collectEvidence, stackPrivateKey, writeEvidence } from "./run";
import { NARROW_USAGE as USAGE } from "../common/usage";

interface Args {
    stack?: string;
    window: number;
    json: boolean;
    sshKey?: string;
}

export function parseNarrowArgs(argv: string[]): Args | string {
    const a: Args = { window: 30, json: false };
    for (let i = 0; i < argv.length; i++) {
        const next = () => {
            const v = argv[++i];
            if (v === undefined || v.startsWith("--")) throw new Error(`${argv[i - 1]} needs a value`);
            return v;
        };
        try {
            switch (argv[i]) {
                case "--stack":
                    a.stack = next();
                    break;
                case "--window": {
                    const n = Number(next());
                    if (!Number.isInteger(n) || n < 0 || n > 3600)
                        throw new Error("--window needs whole seconds, 0-3600");
                    a.window = n;
                    break;
                }
                case "--json":
                    a.json = true;
                    break;
                case "--ssh-key":
                    a.sshKey = next();
                    break;
                case "--help":
                case "-h":
                    return USAGE;
                default:
                    throw new Error(`unknown argument "${argv[i]}"`);
            }
        } catch (e) {
            return `${(e as Error).message}\n${USAGE}`;
        }
    }
    return a.stack ? a : `missing --stack\n${USAGE}`;
}

async function main(argv: string[]): Promise<number> {
    const a = parseNarrowArgs(argv);
    if (typeof a === "string") {
        (a === USAGE ? process.stdout : process.stderr).write(a + "\n");
        return a === USAGE ? 0 : 64;
    }
    const log = (m: string) => process.stderr.write(`[narrow] ${m}\n`);
    let model;
    let key: string;
    try {
        model = loadModel(a.stack!);
        const keyFile = a.sshKey ?? process.env.PINHOLE_SSH_KEY_FILE;
        key = keyFile ? fs.readFileSync(keyFile, "utf8") : await stackPrivateKey(a.stack!);
    } catch (e) {
        process.stderr.write(`narrow: ${(e as Error).message}\n`);
        return 2;
    }
    const evidence = await collectEvidence(a.stack!, model, key, { windowSeconds: a.window, log });
    log(`evidence written to ${writeEvidence(evidence)}`);
    const verdicts = judgeNarrowings(model, evidence);
    const proposal = proposedSettings(verdicts);
    if (a.json)
        process.stdout.write(
            JSON.stringify(
                { evidence: { takenAt: evidence.takenAt, windowSeconds: evidence.windowSeconds }, verdicts, proposal },
                null,
                1,
            ) + "\n",
        );
    else
        process.stdout.write(
            `${formatNarrowReport(evidence, verdicts)}\n\nSettings that apply every safe narrowing (stacks/Pulumi.${a.stack}.yaml):\n\n${formatProposal(proposal)}\n`,
        );
    return evidence.nodes.some((n) => n.error) ? 1 : 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (e) => {
            process.stderr.write(`narrow: ${(e as Error).stack ?? e}\n`);
            process.exit(2);
        },
    );
}
