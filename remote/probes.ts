// Runs probes FROM a node over SSH (remote/probe-script.ts on the node, as the login user) and judges what each saw
// (model/probes.ts): the one runner of verify and of the proof after apply.
import { spawn } from "child_process";
import { judgeProbe, ProbeResultRow, ProbeTarget } from "../model/probes";
import { explainSshFailure, runScript, SshConnectionInput } from "./ssh";
import { parseProbeOutput, probeScript } from "./probe-script";

/**
 * Every target at once, each given `timeoutSeconds`. `error` says why the probes did not all run (SSH, exit
 * status); the rows of those that did not run are "not-run" and fail.
 */
export async function probeFromNode(
    conn: SshConnectionInput,
    targets: readonly ProbeTarget[],
    timeoutSeconds: number,
): Promise<{ rows: ProbeResultRow[]; error?: string }> {
    if (targets.length === 0) return { rows: [] };
    const r = await runScript(conn, probeScript([...targets], { timeoutSeconds }), {
        privileged: false,
        timeoutMs: 60_000 + targets.length * 200,
    });
    const outcomes = parseProbeOutput(r.stdout, targets.length);
    const rows = targets.map((t, i) => judgeProbe(t, outcomes[i].outcome, outcomes[i].detail));
    if (r.code === 0 && r.stdout.includes("probes-done")) return { rows };
    const why =
        r.code === 255
            ? explainSshFailure(conn, r)
            : `exit ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`;
    return { rows, error: `probes from ${conn.node ?? conn.host} did not run: ${why}` };
}

/**
 * The same probes from the provisioning host itself (the proof's `hostTargets`): the same script, run by the local
 * `sh` as the user running pulumi, so what it sees is what pinhole's own SSH sessions see.
 */
export async function probeFromHost(
    targets: readonly ProbeTarget[],
    timeoutSeconds: number,
): Promise<{ rows: ProbeResultRow[]; error?: string }> {
    if (targets.length === 0) return { rows: [] };
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const p = spawn("sh", ["-s"], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => p.kill("SIGKILL"), 60_000 + targets.length * 200);
        p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        p.on("error", (e) => {
            clearTimeout(timer);
            resolve({ code: -1, stdout, stderr: e.message });
        });
        p.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? -1, stdout, stderr });
        });
        p.stdin.end(probeScript([...targets], { timeoutSeconds }));
    });
    const outcomes = parseProbeOutput(r.stdout, targets.length);
    const rows = targets.map((t, i) => judgeProbe(t, outcomes[i].outcome, outcomes[i].detail));
    if (r.code === 0 && r.stdout.includes("probes-done")) return { rows };
    const why = `exit ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`;
    return { rows, error: `probes from the provisioning host did not run: ${why}` };
}
