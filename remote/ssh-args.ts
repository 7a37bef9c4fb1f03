// The argv of pinhole's `ssh`: pinned host key, the key of the stack only, no agent, no config file, no
// multiplexing; a bastion as a ProxyCommand with the same options; read-only sessions' key exchange.
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
 * Key exchange of a read-only session: curve25519 ahead of OpenSSH's default list. The default's first choice on
 * Debian 12 (OpenSSH 9.2), the post-quantum hybrid sntrup761x25519, costs ~140 ms of CPU per login on each side
 * (measured: 20 logins 2.80 s of client CPU against 0.35 s), and a no-op `up` or `preview` logs into every node.
 * Reads carry no secret (a table listing, file fingerprints; the login key never crosses), so they trade the
 * hybrid's protection of recorded traffic for it; sessions that apply, install or confirm keep the default.
 * PINHOLE_SSH_READ_KEX=default keeps the default for reads too.
 */
export function readKexOptions(env: NodeJS.ProcessEnv = process.env): string[] {
    return env.PINHOLE_SSH_READ_KEX === "default" ? [] : ["-o", "KexAlgorithms=^curve25519-sha256"];
}

/** The argv for `ssh` (without the remote command), given a prepared temp dir; `readOnly` sessions: readKexOptions. */
export function sshArgs(conn: SshConnectionInput, dir: string, readOnly = false): string[] {
    const args = [...commonOptions(dir, "pinhole-node"), ...(readOnly ? readKexOptions() : [])];
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
