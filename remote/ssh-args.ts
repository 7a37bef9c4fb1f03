// The argv of pinhole's `ssh`: pinned host key, the key of the stack only, no agent, no config file, no
// multiplexing; a bastion as a ProxyCommand with the same options; the key exchange of sessions without secrets.
import * as path from "path";
import { shellQuote } from "../render/escape";
import { SshConnectionInput } from "./ssh-messages";

function commonOptions(dir: string, alias: string): string[] {
    return [
        "-i",
        path.join(dir, "key"),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        `HostKeyAlias=${alias}`,
        "-o",
        "CheckHostIP=no",
        "-o",
        "ConnectTimeout=8",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
        "-o",
        "LogLevel=ERROR",
        "-F",
        "/dev/null",
    ];
}

/**
 * Key exchange of a session that carries no secret: curve25519 ahead of OpenSSH's default list. The default's first
 * choice on Debian 12 (OpenSSH 9.2), the post-quantum hybrid sntrup761x25519, costs ~140 ms of CPU per login on each
 * side (measured: 20 logins 2.80 s of client CPU against 0.35 s), and a no-op `up` or `preview` logs into every node.
 * Reads (a table listing, file fingerprints), a firewall's apply (the ruleset) and its confirmation carry nothing a
 * recorded session must keep from a future quantum computer (the login key never crosses the wire), so they give up
 * the hybrid's protection of recorded traffic; sessions that carry a secret (a web node's private key) keep the
 * default. PINHOLE_SSH_KEX=default keeps the default for every session.
 */
export function fastKexOptions(env: NodeJS.ProcessEnv = process.env): string[] {
    return env.PINHOLE_SSH_KEX === "default" ? [] : ["-o", "KexAlgorithms=^curve25519-sha256"];
}

/** The argv for `ssh` (without the remote command), given a prepared temp dir; `noSecrets`: fastKexOptions. */
export function sshArgs(conn: SshConnectionInput, dir: string, noSecrets = false): string[] {
    const args = [...commonOptions(dir, "pinhole-node"), ...(noSecrets ? fastKexOptions() : [])];
    if (conn.bastion) {
        const b = conn.bastion;
        const jump = [
            "ssh",
            ...commonOptions(dir, "pinhole-bastion"),
            "-p",
            String(b.port),
            "-W",
            "%h:%p",
            `${b.user}@${b.host}`,
        ];
        args.push("-o", `ProxyCommand=${jump.map(shellQuote).join(" ")}`);
    }
    args.push("-p", String(conn.port), `${conn.user}@${conn.host}`);
    return args;
}
