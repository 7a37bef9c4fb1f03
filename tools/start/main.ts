// npm start [-- --model <standalone|unified|modular|multisite>] [--verbose] [--parallel N] [--no-probes] [--backend URL]
// (package.json runs `bash scripts/setup.sh` first): bring up the local lab, `pulumi up` its stack with progress,
// verify the live cluster (tools/verify/run.ts), print a summary. Exit 1 when anything failed. The lab stays up.
import "../common/help-gate";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labUp, LabStatus } from "../../lab";
import { PROJECT_ROOT, usePulumiEnv } from "../common/pulumi-env";
import { duration, formatSummary, NodeOutput, parseStartArgs, Progress, START_USAGE, StartArgs } from "./progress";
import { waitForForeignLabHolders } from "./lab";
import { formatReport, reportOk, VerifyReport } from "../verify/report";
import { runVerify } from "../verify/run";

const out = (s: string) => process.stdout.write(s.endsWith("\n") ? s : s + "\n");
const say = (s: string) => out(`\n== ${s}`);

type Phase = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** Times each named phase of the run, for the summary (a phase that throws is timed too). */
function phaseTimer(): { phases: [string, number][]; phase: Phase } {
    const phases: [string, number][] = [];
    const phase: Phase = async (name, fn) => {
        const t = Date.now();
        try {
            return await fn();
        } finally {
            phases.push([name, Date.now() - t]);
        }
    };
    return { phases, phase };
}

/** The engine's `error:` lines of a failed up, once each (its message repeats them), else the message's tail. */
function failure(e: unknown): string {
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
}

/** One `pulumi up`, with the progress lines (or the engine's own output with --verbose) and a one-line result. */
async function runUp(stack: Stack, args: StartArgs, progress: Progress, refresh: boolean): Promise<boolean> {
    const res = await stack.up({
        refresh,
        color: "never",
        ...(args.parallel ? { parallel: args.parallel } : {}),
        ...(args.verbose ? { onOutput: (s: string) => process.stdout.write(s) } : { onEvent: (e) => progress.on(e) }),
    });
    const rc = res.summary.resourceChanges ?? {};
    out(
        `pulumi up${refresh ? " --refresh" : ""}: ${res.summary.result} — ${Object.entries(rc)
            .map(([k, v]) => `${v} ${k}`)
            .join(", ")}` + (args.verbose || !refresh ? "" : `; ${progress.refreshed} refreshed`),
    );
    return res.summary.result === "succeeded";
}

/** `pulumi up --refresh`, converging a state that describes an older lab; true when the up succeeded. */
async function upWithRefresh(stack: Stack, args: StartArgs, progress: Progress): Promise<boolean> {
    try {
        return await runUp(stack, args, progress, true);
    } catch (e) {
        const why = failure(e);
        // The state may describe an older lab (e.g. after `lab down --purge`: other host keys): refresh reads
        // nodes with the state's connection details. Apply the config first, then refresh and converge.
        if (!/refreshing|cannot read the (firewall|web front end)/.test((e as Error).message)) {
            out(`pulumi up FAILED:\n${why}`);
            return false;
        }
        out(
            `refresh could not read some nodes with the connection details in the state (a lab rebuilt since?):\n${why}\n` +
                "applying the config first (new connection details), then up --refresh again",
        );
        try {
            await runUp(stack, args, progress, false);
            return await runUp(stack, args, progress, true);
        } catch (e2) {
            out(`pulumi up FAILED:\n${failure(e2)}`);
            return false;
        }
    }
}

/** Verify the live cluster (tables, certificates, probes from every node) and print its report. */
async function verifyLive(stackName: string, args: StartArgs, phase: Phase): Promise<VerifyReport | undefined> {
    try {
        const report = await phase("verify", () =>
            runVerify({ stack: stackName, probes: args.probes, log: (m) => process.stderr.write(`[verify] ${m}\n`) }),
        );
        out(formatReport(report));
        return report;
    } catch (e) {
        out(`verify could not run: ${(e as Error).message}`);
        return undefined;
    }
}

/** The stack's outputs the summary shows; empty (with a line saying why) when they cannot be read. */
async function summaryOutputs(stack: Stack): Promise<{ nodes: Record<string, NodeOutput>; flows?: number }> {
    try {
        const o = await stack.outputs();
        return {
            nodes: (o.nodes?.value ?? {}) as Record<string, NodeOutput>,
            flows: (o.openings?.value as { flows?: number } | undefined)?.flows,
        };
    } catch (e) {
        out(`cannot read the stack outputs: ${(e as Error).message.split("\n")[0]}`);
        return { nodes: {} };
    }
}

/** --help prints the usage (exit 0); a bad argument prints why and the usage (exit 64, EX_USAGE). */
function usage(text: string): number {
    (text === START_USAGE ? process.stdout : process.stderr).write(text + "\n");
    return text === START_USAGE ? 0 : 64;
}

async function main(argv: string[]): Promise<number> {
    const args = parseStartArgs(argv);
    if (typeof args === "string") return usage(args);
    // --backend: this run's state backend, for everything below (the lab's secret, up, verify, outputs).
    if (args.backend) process.env.PULUMI_BACKEND_URL = args.backend;
    if (process.getuid?.() !== 0) {
        process.stderr.write("npm start runs the local lab (network namespaces, nftables): run it as root.\n");
        return 1;
    }
    const { phases, phase } = phaseTimer();

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
    const progress = new Progress(Date.now(), out);
    const stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: PROJECT_ROOT }, { envVars: env });
    const upOk = await phase("pulumi up", () => upWithRefresh(stack, args, progress));

    // 3. Verify the live cluster, 4. summary from the stack's outputs.
    say(`verify --stack ${stackName}`);
    const report = await verifyLive(stackName, args, phase);
    const { nodes, flows } = await summaryOutputs(stack);
    const example = lab.nodes.find((n) => n.sudo) ?? lab.nodes[0];
    const labAccess = {
        sshKey: lab.sshKey,
        knownHosts: lab.knownHosts,
        example: example ? { user: example.sshUser, host: example.sshHost } : undefined,
    };
    const summary = { model: args.model, stack: stackName, nodes, flows, verify: report, phases, upOk, lab: labAccess };
    out(formatSummary(summary, PROJECT_ROOT));
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
