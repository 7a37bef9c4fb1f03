// Runs probes FROM a node over SSH (remote/probe-script.ts on the node, as the login user) and judges what each saw
// (model/probes.ts): the one runner of verify and of the proof after apply.
import { spawn } from "child_process";
import { judgeProbe, ProbeResultRow, ProbeTarget } from "../model/probes";
import { explainSshFailure, runScript, SshConnectionInput } from "./ssh";
import { parseProbeOutput, probeScript } from "./probe-script";
import { LISTENING_COMMAND, parseListening } from "./ss";
import type { Listener } from "../model/listening";

/**
 * Every target at once, each given `timeoutSeconds`. `error` says why the probes did not all run (SSH, exit
 * status); the rows of those that did not run are "not-run" and fail.
 */
export async function probeFromNode(
    conn: SshConnectionInput,
    targets: readonly ProbeTarget[],
    timeoutSeconds: number,
    opts: { listening?: boolean } = {},
): Promise<{ rows: ProbeResultRow[]; error?: string; listening?: Listener[] | string }> {
    if (targets.length === 0 && !opts.listening) return { rows: [] };
    // The listen audit reads the sockets in the same session, before the probes (the script ends in `exec bash`).
    const script =
        (opts.listening ? listeningSection() : "") +
        (targets.length ? probeScript([...targets], { timeoutSeconds }) : "echo probes-done\n");
    // Probe targets and results, the listening sockets: no secret.
    const r = await runScript(conn, script, {
        privileged: false,
        timeoutMs: 60_000 + targets.length * 200,
        noSecrets: true,
    });
    const outcomes = parseProbeOutput(r.stdout, targets.length);
    const rows = targets.map((t, i) => judgeProbe(t, outcomes[i].outcome, outcomes[i].detail));
    const listening = opts.listening ? readListeningSection(r.stdout) : undefined;
    if (r.code === 0 && r.stdout.includes("probes-done")) return { rows, ...(listening ? { listening } : {}) };
    const why =
        r.code === 255
            ? explainSshFailure(conn, r)
            : `exit ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`;
    return { rows, error: `probes from ${conn.node ?? conn.host} did not run: ${why}` };
}

const LISTEN_BEGIN = "pinhole-listening-begin";
const LISTEN_END = "pinhole-listening-end";

/** `ss -Hlntu` between two marks; its failure is said inside them (the probes run on regardless). */
function listeningSection(): string {
    return `PATH=/usr/sbin:/usr/bin:/sbin:/bin\necho ${LISTEN_BEGIN}\n${LISTENING_COMMAND} 2>&1 || echo "ss-failed: exit $?"\necho ${LISTEN_END}\n`;
}

/** The sockets between the marks, or why they could not be read. */
export function readListeningSection(stdout: string): Listener[] | string {
    const a = stdout.indexOf(`${LISTEN_BEGIN}\n`);
    const b = stdout.indexOf(`${LISTEN_END}\n`);
    if (a < 0 || b < a) return "the listening sockets were not read (the session ended first)";
    const text = stdout.slice(a + LISTEN_BEGIN.length + 1, b);
    const failed = /ss-failed: exit (\d+)/.exec(text);
    if (failed) return `${LISTENING_COMMAND} failed (exit ${failed[1]}): ${text.split("\n")[0].slice(0, 120)}`;
    return parseListening(text);
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
