// npm run verify -- --stack <name> [...]: the flags are in tools/common/usage.ts, parsed by ./args.ts.
// Proves the live cluster matches the stack: each node's nftables table vs the state (and what the config
// implies), the installed web certificate vs the state, and TCP probes FROM each node to its peers; lists what
// listens against the openings, and with --drops the top dropped peer/port pairs of each node's drop log.
// Exit 0: everything matches; 1: a mismatch (each named by node and rule); 2: bad config / stack unreadable; 64: usage.
import "../common/help-gate";
import * as fs from "fs";
import { formatReport, reportJson, reportOk } from "./report";
import { runVerify, VerifyConfigError } from "./run";
import { parseVerifyArgs } from "./args";
import { VERIFY_USAGE as USAGE } from "../common/usage";

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
            stack: a.stack,
            stacksDir: a.dir,
            privateKey: keyFile ? fs.readFileSync(keyFile, "utf8") : undefined,
            forbiddenPerPeer: a.forbidden,
            probeTimeoutSeconds: a.probeTimeout,
            concurrency: a.concurrency,
            probes: a.probes,
            drops: a.drops,
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
