// npm start [-- --model <standalone|unified|modular|multisite>] [--verbose] [--parallel N] [--no-probes] [--backend URL]
// (package.json runs `bash scripts/setup.sh` first): bring up the local lab, `pulumi up` its stack with progress,
// verify the live cluster (tools/verify/run.ts), print a summary. Exit 1 when anything failed. The lab stays up.
import "../common/help-gate";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { labUp, LabStatus } from "../../lab";
import { PROJECT_ROOT, usePulumiEnv } from "../common/pulumi-env";
import { duration, formatSummary, NodeOutput, parseStartArgs, Progress, START_USAGE } from "./progress";
import { waitForForeignLabHolders } from "./lab";
import { formatReport, reportOk, VerifyReport } from "../verify/report";
import { runVerify } from "../verify/run";

const out = (s: string) => process.stdout.write(s.endsWith("\n") ? s : s + "\n");
const say = (s: string) => out(`\n== ${s}`);

async function main(argv: string[]): Promise<number> {
    const args = parseStartArgs(argv);
    if (typeof args === "string") {
        (args === START_USAGE ? process.stdout : process.stderr).write(args + "\n");
        return args === START_USAGE ? 0 : 64;
    }
    // --backend: this run's state backend, for everything below (the lab's secret, up, verify, outputs).
    if (args.backend) process.env.PULUMI_BACKEND_URL = args.backend;
    if (process.getuid?.() !== 0) {
        process.stderr.write("npm start runs the local lab (network namespaces, nftables): run it as root.\n");
        return 1;
    }
    const phases: [string, number][] = [];
    const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
        const t = Date.now();
        try {
            return await fn();
        } finally {
            phases.push([name, Date.now() - t]);
        }
    };

    // 1. The lab (respects the session lease of this checkout and of other checkouts on this machine).
    say(`lab: ${args.model}`);
    await waitForForeignLabHolders((m) => process.stderr.write(`[start] ${m}\n`));
    const lab: LabStatus = await phase("lab", () =>
        labUp({ model: args.model, log: (m) => process.stderr.write(`[lab] ${m}\n`) }),
    );
    if (!lab.up || !lab.stack) {
        out(`the ${args.model} lab did not come up completely: npm run lab -- status`);
        return 1;
    }

    // 2. pulumi up (with refresh: a lab rebuilt since the last up has no firewall yet, refresh sees that).
    const env = usePulumiEnv();
    const stackName = lab.stack;
    say(`pulumi up --refresh --stack ${stackName}`);
    let upOk = false;
    const t0 = Date.now();
    const progress = new Progress(t0, out);
    const runUp = async (refresh: boolean) => {
        const res = await stack.up({
            refresh,
            color: "never",
            ...(args.parallel ? { parallel: args.parallel } : {}),
            ...(args.verbose
                ? { onOutput: (s: string) => process.stdout.write(s) }
                : { onEvent: (e) => progress.on(e) }),
        });
        const rc = res.summary.resourceChanges ?? {};
        out(
            `pulumi up${refresh ? " --refresh" : ""}: ${res.summary.result} — ${Object.entries(rc)
                .map(([k, v]) => `${v} ${k}`)
                .join(", ")}` + (args.verbose || !refresh ? "" : `; ${progress.refreshed} refreshed`),
        );
        return res.summary.result === "succeeded";
    };
    const failure = (e: unknown) => {
        const msg = (e as Error).message;
        const lines = [
            ...new Set(
                msg
                    .split("\n")
                    .map((l) => l.trim())
                    .filter((l) => /^error: /.test(l) && !/update failed/.test(l)),
            ),
        ];
        return lines.length ? lines.join("\n") : msg.slice(-3000);
    };
    const stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: PROJECT_ROOT }, { envVars: env });
    await phase("pulumi up", async () => {
        try {
            upOk = await runUp(true);
        } catch (e) {
            const why = failure(e);
            // The state may describe an older lab (e.g. after `lab down --purge`: other host keys): refresh reads
            // nodes with the state's connection details. Apply the config first, then refresh and converge.
            if (/refreshing|cannot read the (firewall|web front end)/.test((e as Error).message)) {
                out(
                    `refresh could not read some nodes with the connection details in the state (a lab rebuilt since?):\n${why}\n` +
                        "applying the config first (new connection details), then up --refresh again",
                );
                try {
                    await runUp(false);
                    upOk = await runUp(true);
                } catch (e2) {
                    out(`pulumi up FAILED:\n${failure(e2)}`);
                }
            } else {
                out(`pulumi up FAILED:\n${why}`);
            }
        }
    });

    // 3. Verify the live cluster: tables, certificates, probes from every node.
    say(`verify --stack ${stackName}`);
    let report: VerifyReport | undefined;
    try {
        report = await phase("verify", () =>
            runVerify({ stack: stackName, probes: args.probes, log: (m) => process.stderr.write(`[verify] ${m}\n`) }),
        );
        out(formatReport(report));
    } catch (e) {
        out(`verify could not run: ${(e as Error).message}`);
    }

    // 4. Summary from the stack's outputs.
    let nodes: Record<string, NodeOutput> = {};
    let flows: number | undefined;
    try {
        const o = await stack.outputs();
        nodes = (o.nodes?.value ?? {}) as Record<string, NodeOutput>;
        flows = (o.openings?.value as { flows?: number } | undefined)?.flows;
    } catch (e) {
        out(`cannot read the stack outputs: ${(e as Error).message.split("\n")[0]}`);
    }
    const example = lab.nodes.find((n) => n.sudo) ?? lab.nodes[0];
    out(
        formatSummary(
            {
                model: args.model,
                stack: stackName,
                nodes,
                flows,
                verify: report,
                phases,
                upOk,
                lab: {
                    sshKey: lab.sshKey,
                    knownHosts: lab.knownHosts,
                    example: example ? { user: example.sshUser, host: example.sshHost } : undefined,
                },
            },
            PROJECT_ROOT,
        ),
    );
    const ok = upOk && !!report && reportOk(report);
    out(
        ok
            ? `npm start: done in ${duration(phases.reduce((a, [, ms]) => a + ms, 0))} (after set-up)`
            : "npm start: FAILED (see above)",
    );
    return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
        process.stderr.write(`npm start: ${e.stack ?? e.message}\n`);
        process.exit(1);
    },
);
