// Puts a value into a stack's config as a Pulumi secret through the project's Pulumi CLI wrapper
// (scripts/pulumi.sh: local backend + passphrase). The value goes on stdin, never on a command line or
// in a message.
import * as fs from "fs";
import * as path from "path";
import { PROJECT_ROOT } from "./state";
import { run } from "./sys";

export type SecretOutcome =
    { status: "set" } | { status: "skipped"; reason: string } | { status: "failed"; reason: string };

const PULUMI_SH = path.join(PROJECT_ROOT, "scripts", "pulumi.sh");

function firstLines(s: string, n = 3): string {
    return s
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .slice(0, n)
        .join(" | ");
}

/**
 * `bash scripts/pulumi.sh config set --secret <key> --stack <stack>` with the value on stdin; creates the
 * stack first when it does not exist yet. Never throws: a missing wrapper or toolchain is reported as
 * "skipped"/"failed" so that the lab itself still comes up.
 */
export async function setStackSecret(stack: string, key: string, value: string): Promise<SecretOutcome> {
    if (!fs.existsSync(PULUMI_SH))
        return {
            status: "skipped",
            reason: "scripts/pulumi.sh is missing (the Pulumi wrapper is not in this checkout yet)",
        };
    const pulumi = (args: string[], input?: string) =>
        run("bash", [PULUMI_SH, ...args], {
            input,
            allowFail: true,
            secret: true,
            cwd: PROJECT_ROOT,
            timeoutMs: 120_000,
        }).catch((e: Error) => ({ code: 1, stdout: "", stderr: e.message }));
    const set = () => pulumi(["config", "set", "--secret", key, "--stack", stack, "--non-interactive"], value);
    let r = await set();
    if (r.code !== 0 && /no stack named|could not find stack|stack .* not found/i.test(r.stderr)) {
        const init = await pulumi(["stack", "init", stack, "--non-interactive"]);
        if (init.code !== 0)
            return { status: "failed", reason: `pulumi stack init ${stack}: ${firstLines(init.stderr)}` };
        r = await set();
    }
    if (r.code !== 0)
        return {
            status: "failed",
            reason: `pulumi config set --secret ${key} --stack ${stack}: ${firstLines(r.stderr)}`,
        };
    return { status: "set" };
}
