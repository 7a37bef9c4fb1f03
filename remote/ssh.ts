// SSH transport: runs a shell script on a node with the system OpenSSH client.
// - the node's host key is pinned (StrictHostKeyChecking=yes against a one-line known_hosts);
// - the private key goes to a 0600 file in a 0700 temp dir that is removed afterwards;
// - the script (and every payload embedded in it, e.g. a certificate key) goes through stdin, never
//   through the command line, so it shows up neither in `ps` nor in logs;
// - privileged steps run with `sudo -n` for non-root users.
import { ChildProcessWithoutNullStreams, spawn } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, explainSshFailure, normaliseHostKey, RunResult, SshConnectionInput, SshError } from "./ssh-messages";
import { sshArgs } from "./ssh-args";

export * from "./ssh-messages";
export { fastKexOptions, sshArgs } from "./ssh-args";

/** A private 0700 temp dir holding the key (0600) and the pinned known_hosts; the caller removes it. */
function writeCredentials(conn: SshConnectionInput): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-ssh-"));
    try {
        fs.chmodSync(dir, 0o700);
        const key = conn.privateKey.endsWith("\n") ? conn.privateKey : conn.privateKey + "\n";
        fs.writeFileSync(path.join(dir, "key"), key, { mode: 0o600 });
        const lines = [`pinhole-node ${normaliseHostKey(conn.hostKey)}`];
        if (conn.bastion) lines.push(`pinhole-bastion ${normaliseHostKey(conn.bastion.hostKey)}`);
        fs.writeFileSync(path.join(dir, "known_hosts"), lines.join("\n") + "\n", { mode: 0o600 });
        return dir;
    } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
    }
}

/** Runs `fn` with a private temp dir holding the key and the pinned known_hosts. */
export async function withCredentials<T>(conn: SshConnectionInput, fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = writeCredentials(conn);
    try {
        return await fn(dir);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

export interface RunOptions {
    timeoutMs?: number;
    /** Run the script as root (sudo -n when the login user isn't root). Default true. */
    privileged?: boolean;
    /** The session carries no secret either way: curve25519 first in its key exchange (fastKexOptions). Default false. */
    noSecrets?: boolean;
}

/** The remote command of a session: a shell reading its commands from stdin (as root through sudo when needed). */
function remoteShell(conn: SshConnectionInput, privileged: boolean): string {
    // sudo resets the environment: hand the SSH client address (the management pre-check needs it) through.
    return privileged && conn.sudo && conn.user !== "root"
        ? `sudo -n env PINHOLE_SSH_CLIENT="$SSH_CLIENT" /bin/sh -s`
        : "/bin/sh -s";
}

/**
 * What one script of a session is sent as: the script as a here-document to its own /bin/sh (its `set -e`
 * and `exit` end it, not the session), then its exit code and an end mark on stdout and on stderr. The
 * delimiter and the mark carry a random token, so no script text can end or fake them.
 */
export function sessionChunk(script: string, token: string): string {
    const body = script.endsWith("\n") ? script : script + "\n";
    return (
        `/bin/sh <<'PINHOLE_SCRIPT_${token}'\n${body}PINHOLE_SCRIPT_${token}\n` +
        `printf '\\n%s %s\\n' PINHOLE-END-${token} "$?"; printf '\\n%s\\n' PINHOLE-END-${token} >&2\n`
    );
}

/** Splits a session's output stream at the end marks: the text of each finished script and what is left. */
export function splitAtMarks(
    buffer: string,
    token: string,
    withCode: boolean,
): { parts: { text: string; code?: number }[]; rest: string } {
    const re = withCode
        ? new RegExp(`\\nPINHOLE-END-${token} (\\d+)\\n`, "g")
        : new RegExp(`\\nPINHOLE-END-${token}\\n`, "g");
    const parts: { text: string; code?: number }[] = [];
    let at = 0;
    for (const m of buffer.matchAll(re)) {
        parts.push({ text: buffer.slice(at, m.index), ...(withCode ? { code: Number(m[1]) } : {}) });
        at = m.index! + m[0].length;
    }
    return { parts, rest: buffer.slice(at) };
}

interface Pending {
    resolve: (r: RunResult) => void;
    stdout?: string;
    code?: number;
    stderr?: string;
    timer?: NodeJS.Timeout;
}

/**
 * One SSH connection (one `ssh` process, one login) that runs several scripts in turn, each with its own exit
 * code and output. A node's steps that belong together share a session: the firewall's other-manager check
 * and its apply; the reads of one node's resources that arrive together (readScript).
 */
export class SshSession {
    private readonly token = randomBytes(8).toString("hex");
    private readonly child: ChildProcessWithoutNullStreams;
    private readonly dir: string;
    private readonly queue: Pending[] = [];
    private stdoutQueue: Pending[] = [];
    private stderrQueue: Pending[] = [];
    private out = "";
    private err = "";
    private allErr = "";
    private exited = false;
    private ending = false;
    readonly closed: Promise<void>;

    constructor(
        readonly conn: SshConnectionInput,
        privileged = true,
        noSecrets = false,
    ) {
        this.dir = writeCredentials(conn);
        countSession(conn);
        this.child = spawn("ssh", [...sshArgs(conn, this.dir, noSecrets), remoteShell(conn, privileged)], {
            stdio: ["pipe", "pipe", "pipe"],
        });
        this.closed = new Promise((resolve) => {
            const done = (code: number, extra = "") => {
                if (this.exited) return;
                this.exited = true;
                fs.rmSync(this.dir, { recursive: true, force: true });
                const stderr = this.allErr + extra;
                this.queue.splice(0).forEach((p, i) => {
                    clearTimeout(p.timer);
                    // The script did not finish: the session's failure (ssh's 255, sudo's refusal) is its result.
                    p.resolve({
                        code: code === 0 ? 255 : code,
                        stdout: p.stdout ?? (i === 0 ? this.out : ""),
                        stderr: p.stderr ?? (stderr || "(pinhole: the SSH session ended before the script finished)"),
                    });
                });
                resolve();
            };
            this.child.on("error", (e) => done(255, `cannot run ssh: ${e.message} (install openssh-client)`));
            this.child.on("close", (code, signal) => done(code ?? (signal ? 255 : 1)));
        });
        this.child.stdout.setEncoding("utf8");
        this.child.stderr.setEncoding("utf8");
        this.child.stdout.on("data", (d: string) => {
            const { parts, rest } = splitAtMarks(this.out + d, this.token, true);
            this.out = rest;
            for (const part of parts) {
                const p = this.stdoutQueue.shift();
                if (p) {
                    p.stdout = part.text;
                    p.code = part.code;
                    this.settle(p);
                }
            }
        });
        this.child.stderr.on("data", (d: string) => {
            this.allErr += d;
            const { parts, rest } = splitAtMarks(this.err + d, this.token, false);
            this.err = rest;
            for (const part of parts) {
                const p = this.stderrQueue.shift();
                if (p) {
                    p.stderr = part.text;
                    this.allErr = rest;
                    this.settle(p);
                }
            }
        });
        this.child.stdin.on("error", () => undefined); // the remote may exit before reading everything
    }

    /** Scripts sent and not yet finished. */
    get busy(): number {
        return this.queue.length;
    }
    /** False once close() was called or the connection ended: run() would fail. */
    get open(): boolean {
        return !this.ending && !this.exited;
    }

    /** Runs `script` with /bin/sh on the node after the scripts sent before it. */
    run(script: string, timeoutMs = 120_000): Promise<RunResult> {
        if (!this.open)
            return Promise.reject(
                new SshError(`${describe(this.conn)}: internal: script sent to a closed SSH session`),
            );
        return new Promise((resolve) => {
            const p: Pending = { resolve };
            p.timer = setTimeout(() => {
                this.allErr += `\n(pinhole: ssh killed after ${timeoutMs} ms)`;
                this.child.kill("SIGKILL");
                // a process the remote command left behind must not keep the session waiting on its pipes
                this.child.stdout.destroy();
                this.child.stderr.destroy();
            }, timeoutMs);
            this.queue.push(p);
            this.stdoutQueue.push(p);
            this.stderrQueue.push(p);
            this.child.stdin.write(sessionChunk(script, this.token));
        });
    }

    private settle(p: Pending): void {
        if (p.stdout === undefined || p.stderr === undefined) return;
        clearTimeout(p.timer);
        const i = this.queue.indexOf(p);
        if (i >= 0) this.queue.splice(i, 1);
        p.resolve({ code: p.code ?? 255, stdout: p.stdout, stderr: p.stderr });
        this.onSettled?.();
    }

    /** Called after each finished script (readScript closes idle shared sessions with it). */
    onSettled?: () => void;

    /** No more scripts: the remote shell ends after the last one; resolves when the connection is gone. */
    close(): Promise<void> {
        if (!this.ending) {
            this.ending = true;
            if (!this.exited) this.child.stdin.end();
        }
        return this.closed;
    }
}

/**
 * PINHOLE_SSH_LOG=FILE: every SSH session the provider opens appends one JSON line {node, host, pid} to FILE
 * (the benchmark and the session tests count a command's sessions per node with it). Nothing secret is written.
 */
function countSession(conn: SshConnectionInput): void {
    const file = process.env.PINHOLE_SSH_LOG;
    if (!file) return;
    try {
        fs.appendFileSync(
            file,
            JSON.stringify({ node: conn.node ?? "", host: conn.host, port: conn.port, pid: process.pid }) + "\n",
        );
    } catch {
        /* counting must never fail a command */
    }
}

/** Runs `script` with /bin/sh on the node in a session of its own (script on stdin). Resolves with exit code and output. */
export async function runScript(conn: SshConnectionInput, script: string, opts: RunOptions = {}): Promise<RunResult> {
    const s = new SshSession(conn, opts.privileged ?? true, opts.noSecrets ?? false);
    try {
        return await s.run(script, opts.timeoutMs ?? 120_000);
    } finally {
        await s.close();
    }
}

/** Runs `fn` with one session to the node, closed afterwards. */
export async function withSession<T>(
    conn: SshConnectionInput,
    fn: (s: SshSession) => Promise<T>,
    opts: { privileged?: boolean; noSecrets?: boolean } = {},
): Promise<T> {
    const s = new SshSession(conn, opts.privileged ?? true, opts.noSecrets ?? false);
    try {
        return await fn(s);
    } finally {
        await s.close();
    }
}

const shared = new Map<string, SshSession>();
/** How long a shared read session waits for another read of the same node after its last one finished. */
export const READ_LINGER_MS = 1000;

function sessionKey(conn: SshConnectionInput, privileged: boolean, noSecrets: boolean): string {
    const b = conn.bastion;
    return createHash("sha256")
        .update(
            JSON.stringify([
                conn.host,
                conn.port,
                conn.user,
                conn.hostKey,
                conn.privateKey,
                conn.sudo,
                privileged,
                noSecrets,
                b ? [b.host, b.port, b.user, b.hostKey] : null,
            ]),
        )
        .digest("hex");
}

/**
 * Runs a READ-ONLY script, sharing the SSH session with the other reads of the same node that arrive while
 * one is open (a refresh reads a node's Firewall and WebServer at once: one login, not two). Never for a
 * step that changes a node or that must be a fresh connection (the firewall's confirmation).
 */
export function readScript(conn: SshConnectionInput, script: string, opts: RunOptions = {}): Promise<RunResult> {
    const privileged = opts.privileged ?? true;
    // A read that may return a secret (an imported key) never joins, nor opens, a session without the default exchange.
    const noSecrets = opts.noSecrets ?? false;
    const key = sessionKey(conn, privileged, noSecrets);
    let s = shared.get(key);
    if (!s || !s.open) {
        const session = new SshSession(conn, privileged, noSecrets);
        s = session;
        shared.set(key, session);
        let linger: NodeJS.Timeout | undefined;
        const drop = () => {
            if (shared.get(key) === session) shared.delete(key);
            void session.close();
        };
        session.onSettled = () => {
            clearTimeout(linger);
            if (session.busy === 0)
                linger = setTimeout(() => {
                    if (session.busy === 0) drop();
                }, READ_LINGER_MS);
        };
        void session.closed.then(() => {
            clearTimeout(linger);
            if (shared.get(key) === session) shared.delete(key);
        });
    }
    return s.run(script, opts.timeoutMs ?? 120_000);
}

/** runScript that throws SshError on ssh failure or non-zero exit, with `what` in the message. */
export async function mustRun(
    conn: SshConnectionInput,
    what: string,
    script: string,
    opts: RunOptions = {},
): Promise<RunResult> {
    const r = await runScript(conn, script, opts);
    if (r.code === 255) throw new SshError(`${what}: ${explainSshFailure(conn, r)}`, r);
    if (/sudo: a password is required|sudo: a terminal is required/.test(r.stderr)) {
        throw new SshError(`${what}: ${explainSshFailure(conn, r)}`, r);
    }
    if (r.code !== 0) {
        const detail = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-6).join("\n  ");
        throw new SshError(`${what} failed on ${describe(conn)} (exit ${r.code}):\n  ${detail}`, r);
    }
    return r;
}
