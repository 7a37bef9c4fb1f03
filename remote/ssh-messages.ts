// SSH's vocabulary for every caller: the connection a node is reached by, a script's result, and the messages
// that turn an ssh failure into what the operator should check (host key, login, sudo, reachability).
import { ProviderError } from "../provider/errors";

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
    constructor(
        message: string,
        public readonly result?: RunResult,
    ) {
        super(message);
    }
}

/** "ssh-ed25519 AAAA... comment" → "ssh-ed25519 AAAA..." (validated shape). */
export function normaliseHostKey(hostKey: string): string {
    const parts = hostKey.trim().split(/\s+/);
    if (parts.length < 2 || !/^(ssh-|ecdsa-|sk-)/.test(parts[0]) || !/^[A-Za-z0-9+/=]+$/.test(parts[1])) {
        throw new SshError(
            `host key is not an OpenSSH public key ("<type> <base64>"): ${JSON.stringify(hostKey.slice(0, 40))}`,
        );
    }
    return `${parts[0]} ${parts[1]}`;
}

export function describe(conn: SshEndpointInput & { node?: string }): string {
    return `${conn.node ? `node ${conn.node} ` : ""}(${conn.user}@${conn.host}:${conn.port})`;
}

/**
 * The message for a host key that is not the pinned one: nothing is trusted silently, and the operator is
 * told how to pin a rebuilt node's new key after checking it out of band.
 */
export function hostKeyRefusal(conn: SshConnectionInput, stderr: string): string {
    const presented = /key sent by the remote host is\s*(SHA256:[A-Za-z0-9+/=]+)/.exec(stderr)?.[1];
    const node = conn.node ?? conn.host;
    const port = conn.port === 22 ? "" : ` -p ${conn.port}`;
    return (
        `${describe(conn)}: the host key it presented${presented ? ` (${presented})` : ""} is not the pinned ssh.hostKey — refusing to connect, nothing was changed on it. ` +
        `Either someone is in the middle, or the node was rebuilt with a new key. If it was rebuilt: compare the new key's fingerprint on the node's console ` +
        `(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) with ssh-keyscan -t ed25519${port} ${conn.host} | ssh-keygen -lf -, ` +
        `then pin it: set ssh.hostKey of node ${node} in pinhole:nodes (the stack's config file) to the "ssh-ed25519 AAAA..." part of ssh-keyscan's line, and run pulumi up again.`
    );
}

/** Turns an ssh-level failure (exit 255) into a message that says what to check. */
export function explainSshFailure(conn: SshConnectionInput, r: RunResult): string {
    const where = describe(conn);
    const err = r.stderr.trim();
    if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key for .* has changed/i.test(err)) {
        return hostKeyRefusal(conn, err);
    }
    if (/Permission denied/i.test(err))
        return `${where}: SSH login refused for user ${conn.user} (check sshPrivateKey and the node's authorized_keys)`;
    if (/sudo: a password is required|sudo: a terminal is required|not in the sudoers/i.test(err)) {
        return `${where}: user ${conn.user} cannot run sudo -n without a password (grant NOPASSWD or set ssh.user: root)`;
    }
    if (/Connection timed out|timed out|killed after/i.test(err))
        return `${where}: unreachable (SSH connection timed out) — is the node up and port ${conn.port} reachable from here?`;
    if (/Connection refused/i.test(err))
        return `${where}: SSH connection refused — is sshd running on port ${conn.port}?`;
    if (/No route to host|Network is unreachable|Could not resolve/i.test(err))
        return `${where}: unreachable: ${err.split("\n")[0]}`;
    return `${where}: SSH failed (exit ${r.code}): ${err.split("\n").slice(-3).join(" | ")}`;
}
