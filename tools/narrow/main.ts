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
import { boolFlag, FlagSpec, intFlag, parseCommand, stringFlag, UsageError } from "../common/args";

interface Args {
    stack?: string;
    window: number;
    json: boolean;
    sshKey?: string;
}

export function parseNarrowArgs(argv: string[]): Args | string {
    const flags: FlagSpec = {
        stack: { type: "string" },
        window: { type: "string" },
        json: { type: "boolean" },
        "ssh-key": { type: "string" },
    };
    return parseCommand(argv, flags, USAGE, (v) => {
        const stack = stringFlag(v, "stack");
        if (!stack) throw new UsageError("missing --stack");
        const a: Args = {
            stack,
            window: intFlag(v, "window", 0, 3600, "whole seconds, 0-3600") ?? 30,
            json: boolFlag(v, "json"),
        };
        const sshKey = stringFlag(v, "ssh-key");
        if (sshKey !== undefined) a.sshKey = sshKey;
        return a;
    });
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
