// SSH transport: runs a shell script on a node with the system OpenSSH client.
// - the node's host key is pinned (StrictHostKeyChecking=yes against a one-line known_hosts);
// - the private key goes to a 0600 file in a 0700 temp dir that is removed afterwards;
// - the script (and any payload embedded in it, e.g. a certificate key) goes through stdin, never
//   through the command line, so it shows up neither in `ps` nor in logs;
// - privileged steps run with `sudo -n` for non-root users.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shellQuote } from "../render/escape";
import { ProviderError } from "./errors";

export interface SshEndpointInput {
    host: string;
    port: number;
    user: string;
    hostKey: string;
}

export interface SshConnectionInput extends SshEndpointInput {
    /** OpenSSH/PEM private key (secret). */
    privateKey: string;
    sudo: boolean;
    bastion?: SshEndpointInput;
    /** Node name, for messages. */
    node?: string;
}

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

export class SshError extends ProviderError {
    constructor(message: string, public readonly result?: RunResult) {
        super(message);
    }
}

/** "ssh-ed25519 AAAA... comment" → "ssh-ed25519 AAAA..." (validated shape). */
export function normaliseHostKey(hostKey: string): string {
    const parts = hostKey.trim().split(/\s+/);
    if (parts.length < 2 || !/^(ssh-|ecdsa-|sk-)/.test(parts[0]) || !/^[A-Za-z0-9+/=]+$/.test(parts[1])) {
        throw new SshError(`host key is not an OpenSSH public key ("<type> <base64>"): ${JSON.stringify(hostKey.slice(0, 40))}`);
    }
    return `${parts[0]} ${parts[1]}`;
}

export function describe(conn: SshEndpointInput & { node?: string }): string {
    return `${conn.node ? `node ${conn.node} ` : ""}(${conn.user}@${conn.host}:${conn.port})`;
}

function commonOptions(dir: string, alias: string): string[] {
    return [
        "-i", path.join(dir, "key"),
        "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
        "-o", "GlobalKnownHostsFile=/dev/null", "-o", `HostKeyAlias=${alias}`, "-o", "CheckHostIP=no",
        "-o", "ConnectTimeout=8", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
        "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "LogLevel=ERROR",
        "-F", "/dev/null",
    ];
}

/** The argv for `ssh` (without the remote command), given a prepared temp dir. */
export function sshArgs(conn: SshConnectionInput, dir: string): string[] {
    const args = commonOptions(dir, "pinhole-node");
    if (conn.bastion) {
        const b = conn.bastion;
        const jump = ["ssh", ...commonOptions(dir, "pinhole-bastion"), "-p", String(b.port), "-W", "%h:%p", `${b.user}@${b.host}`];
        args.push("-o", `ProxyCommand=${jump.map(shellQuote).join(" ")}`);
    }
    args.push("-p", String(conn.port), `${conn.user}@${conn.host}`);
    return args;
}


/** Runs `fn` with a private temp dir holding the key and the pinned known_hosts. */
export async function withCredentials<T>(conn: SshConnectionInput, fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-ssh-"));
    try {
        fs.chmodSync(dir, 0o700);
        const key = conn.privateKey.endsWith("\n") ? conn.privateKey : conn.privateKey + "\n";
        fs.writeFileSync(path.join(dir, "key"), key, { mode: 0o600 });
        const lines = [`pinhole-node ${normaliseHostKey(conn.hostKey)}`];
        if (conn.bastion) lines.push(`pinhole-bastion ${normaliseHostKey(conn.bastion.hostKey)}`);
        fs.writeFileSync(path.join(dir, "known_hosts"), lines.join("\n") + "\n", { mode: 0o600 });
        return await fn(dir);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

export interface RunOptions {
    timeoutMs?: number;
    /** Run the script as root (sudo -n when the login user isn't root). Default true. */
    privileged?: boolean;
}

/** Runs `script` with /bin/sh on the node (script on stdin). Resolves with exit code and output. */
export async function runScript(conn: SshConnectionInput, script: string, opts: RunOptions = {}): Promise<RunResult> {
    const privileged = opts.privileged ?? true;
    // sudo resets the environment: hand the SSH client address (the management pre-check needs it) through.
    const remote = privileged && conn.sudo && conn.user !== "root"
        ? `sudo -n env PINHOLE_SSH_CLIENT="$SSH_CLIENT" /bin/sh -s` : "/bin/sh -s";
    return withCredentials(conn, (dir) => spawnSsh([...sshArgs(conn, dir), remote], script, opts.timeoutMs ?? 120_000));
}

function spawnSsh(args: string[], stdin: string, timeoutMs: number): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            stderr += `\n(pinhole: ssh killed after ${timeoutMs} ms)`;
        }, timeoutMs);
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (e) => { clearTimeout(timer); reject(new SshError(`cannot run ssh: ${e.message} (install openssh-client)`)); });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? (signal ? 255 : 1), stdout, stderr });
        });
        child.stdin.on("error", () => undefined); // the remote may exit before reading everything
        child.stdin.end(stdin);
    });
}

/**
 * The message for a host key that is not the pinned one: nothing is trusted silently, and the operator is
 * told how to pin a rebuilt node's new key after checking it out of band.
 */
export function hostKeyRefusal(conn: SshConnectionInput, stderr: string): string {
    const presented = /key sent by the remote host is\s*(SHA256:[A-Za-z0-9+/=]+)/.exec(stderr)?.[1];
    const node = conn.node ?? conn.host;
    const port = conn.port === 22 ? "" : ` -p ${conn.port}`;
    return `${describe(conn)}: the host key it presented${presented ? ` (${presented})` : ""} is not the pinned ssh.hostKey — refusing to connect, nothing was changed on it. ` +
        `Either someone is in the middle, or the node was rebuilt with a new key. If it was rebuilt: compare the new key's fingerprint on the node's console ` +
        `(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) with ssh-keyscan -t ed25519${port} ${conn.host} | ssh-keygen -lf -, ` +
        `then pin it: set ssh.hostKey of node ${node} in pinhole:nodes (the stack's config file) to the "ssh-ed25519 AAAA..." part of ssh-keyscan's line, and run pulumi up again.`;
}

/** Turns an ssh-level failure (exit 255) into a message that says what to check. */
export function explainSshFailure(conn: SshConnectionInput, r: RunResult): string {
    const where = describe(conn);
    const err = r.stderr.trim();
    if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key for .* has changed/i.test(err)) {
        return hostKeyRefusal(conn, err);
    }
    if (/Permission denied/i.test(err)) return `${where}: SSH login refused for user ${conn.user} (check sshPrivateKey and the node's authorized_keys)`;
    if (/sudo: a password is required|sudo: a terminal is required|not in the sudoers/i.test(err)) {
        return `${where}: user ${conn.user} cannot run sudo -n without a password (grant NOPASSWD or set ssh.user: root)`;
    }
    if (/Connection timed out|timed out|killed after/i.test(err)) return `${where}: unreachable (SSH connection timed out) — is the node up and port ${conn.port} reachable from here?`;
    if (/Connection refused/i.test(err)) return `${where}: SSH connection refused — is sshd running on port ${conn.port}?`;
    if (/No route to host|Network is unreachable|Could not resolve/i.test(err)) return `${where}: unreachable: ${err.split("\n")[0]}`;
    return `${where}: SSH failed (exit ${r.code}): ${err.split("\n").slice(-3).join(" | ")}`;
}

/** runScript that throws SshError on ssh failure or non-zero exit, with `what` in the message. */
export async function mustRun(conn: SshConnectionInput, what: string, script: string, opts: RunOptions = {}): Promise<RunResult> {
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
