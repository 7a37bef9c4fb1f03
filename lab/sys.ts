// Process and system helpers for the lab (root-only operations live in net.ts / node.ts).
import { spawn, SpawnOptions } from "child_process";
import * as fs from "fs";
import * as path from "path";

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface RunOptions {
    /** Written to the child's stdin (then closed). */
    input?: string;
    /** Don't throw on a non-zero exit. */
    allowFail?: boolean;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /** Kill the child after this many ms (throws unless allowFail). */
    timeoutMs?: number;
    /** Never put stdin/stdout in error messages (secrets). */
    secret?: boolean;
}

export class CommandError extends Error {
    constructor(
        message: string,
        readonly result: RunResult,
    ) {
        super(message);
    }
}

/** Runs a command (no shell) and collects its output. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, {
            env: opts.env ?? process.env,
            cwd: opts.cwd,
            stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        let timer: NodeJS.Timeout | undefined;
        let timedOut = false;
        if (opts.timeoutMs)
            timer = setTimeout(() => {
                timedOut = true;
                child.kill("SIGKILL");
            }, opts.timeoutMs);
        child.stdout!.setEncoding("utf8").on("data", (d: string) => {
            stdout += d;
        });
        child.stderr!.setEncoding("utf8").on("data", (d: string) => {
            stderr += d;
        });
        child.on("error", (err: NodeJS.ErrnoException) => {
            if (timer) clearTimeout(timer);
            reject(err.code === "ENOENT" ? new Error(`${cmd}: not found${hintFor(cmd)}`) : err);
        });
        child.on("close", (code, signal) => {
            if (timer) clearTimeout(timer);
            const res = { code: code ?? (signal ? 128 : 1), stdout, stderr };
            if (timedOut && !opts.allowFail)
                return reject(
                    new CommandError(
                        `${cmd} ${opts.secret ? "" : args.join(" ")}: timed out after ${opts.timeoutMs} ms`,
                        res,
                    ),
                );
            if (res.code !== 0 && !opts.allowFail) {
                const shown = opts.secret ? "" : args.join(" ");
                return reject(
                    new CommandError(
                        `${cmd} ${shown} exited ${res.code}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`,
                        res,
                    ),
                );
            }
            resolve(res);
        });
        child.stdin!.on("error", () => {
            /* child exited before reading stdin */
        });
        child.stdin!.end(opts.input ?? "");
    });
}

/** `ip netns exec <ns> <cmd...>` (or the command itself when ns is null: the root namespace). */
export function runIn(ns: string | null, cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return ns ? run("ip", ["netns", "exec", ns, cmd, ...args], opts) : run(cmd, args, opts);
}

/** Runs a shell snippet in a namespace. */
export function shIn(ns: string | null, script: string, opts: RunOptions = {}): Promise<RunResult> {
    return runIn(ns, "/bin/sh", ["-c", script], opts);
}

/** Starts a detached process whose output goes to `logFile`; returns its pid. */
export function spawnDetached(cmd: string, args: string[], logFile: string, extra: SpawnOptions = {}): number {
    const fd = fs.openSync(logFile, "a");
    try {
        const child = spawn(cmd, args, { ...extra, detached: true, stdio: ["ignore", fd, fd] });
        child.on("error", () => {
            /* reported by the readiness check */
        });
        child.unref();
        if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
        return child.pid;
    } finally {
        fs.closeSync(fd);
    }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs fn over items with at most `limit` at a time; rejects with the first error after all settle. */
export async function pool<T, R>(
    items: readonly T[],
    limit: number,
    fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
    const results: R[] = new Array(items.length);
    const errors: unknown[] = [];
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            try {
                results[i] = await fn(items[i], i);
            } catch (e) {
                errors.push(e);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    if (errors.length) throw errors[0];
    return results;
}

/** Binaries the lab needs, with the Debian package that ships each. */
export const REQUIRED_BINARIES: readonly { bin: string; pkg: string }[] = [
    { bin: "ip", pkg: "iproute2" },
    { bin: "nft", pkg: "nftables" },
    { bin: "sshd", pkg: "openssh-server" },
    { bin: "ssh", pkg: "openssh-client" },
    { bin: "ssh-keygen", pkg: "openssh-client" },
    { bin: "nginx", pkg: "nginx-light" },
    { bin: "unshare", pkg: "util-linux" },
    { bin: "openssl", pkg: "openssl" },
    { bin: "sudo", pkg: "sudo" },
    { bin: "useradd", pkg: "passwd" },
    { bin: "userdel", pkg: "passwd" },
    { bin: "sysctl", pkg: "procps" },
    { bin: "hostname", pkg: "hostname" },
    { bin: "cc", pkg: "gcc (with libc6-dev)" },
    { bin: "sslscan", pkg: "sslscan" },
];

const SEARCH_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

export function which(bin: string): string | undefined {
    const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...SEARCH_PATH];
    for (const d of dirs) {
        const p = path.join(d, bin);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            /* next */
        }
    }
    return undefined;
}

function hintFor(cmd: string): string {
    const b = REQUIRED_BINARIES.find((r) => r.bin === path.basename(cmd));
    return b ? ` (install the Debian package ${b.pkg}: apt-get install ${b.pkg.split(" ")[0]})` : "";
}

/** Throws a clear error unless running as root with every binary the lab needs. */
export function checkPrerequisites(bins: readonly { bin: string; pkg: string }[] = REQUIRED_BINARIES): void {
    if (typeof process.getuid === "function" && process.getuid() !== 0) {
        throw new Error(
            "the pinhole lab must run as root (it creates network namespaces, mounts and a user account): run it with sudo, e.g. `sudo npm run lab -- up --model unified`",
        );
    }
    const missing = bins.filter((b) => !which(b.bin));
    if (missing.length) {
        const pkgs = [...new Set(missing.map((m) => m.pkg.split(" ")[0]))];
        throw new Error(
            `missing programs: ${missing.map((m) => `${m.bin} (Debian package ${m.pkg})`).join(", ")}. Install them: apt-get install ${pkgs.join(" ")}${pkgs.includes("gcc") ? " libc6-dev" : ""}`,
        );
    }
}

/** Is pid alive and in the network namespace whose bind mount is /run/netns/<ns>? */
export function pidInNetns(pid: number, ns: string): boolean {
    try {
        const a = fs.statSync(`/proc/${pid}/ns/net`);
        const b = fs.statSync(`/run/netns/${ns}`);
        return a.ino === b.ino && a.dev === b.dev;
    } catch {
        return false;
    }
}

export function readPid(file: string): number | undefined {
    try {
        const n = parseInt(fs.readFileSync(file, "utf8").trim(), 10);
        return Number.isFinite(n) && n > 0 ? n : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Listening sockets seen from a process's network namespace (/proc/<pid>/net/{tcp,udp}{,6}): "22/tcp", "123/udp".
 * TCP: state LISTEN; UDP: bound (state 07). IPv6 sockets count too (an IPv6-only node's sshd has no other).
 */
export function listeningPorts(pid: number): Set<string> {
    const out = new Set<string>();
    for (const [file, proto, state] of [
        ["tcp", "tcp", "0A"],
        ["udp", "udp", "07"],
        ["tcp6", "tcp", "0A"],
        ["udp6", "udp", "07"],
    ] as const) {
        let text = "";
        try {
            text = fs.readFileSync(`/proc/${pid}/net/${file}`, "utf8");
        } catch {
            continue;
        }
        for (const line of text.split("\n").slice(1)) {
            const f = line.trim().split(/\s+/);
            if (f.length < 4 || f[3] !== state) continue;
            const port = parseInt(f[1].split(":")[1], 16);
            out.add(`${port}/${proto}`);
        }
    }
    return out;
}

/** Resident and proportional set size (KiB) of a process; zeros when it is gone. */
export function memoryOf(pid: number): { rssKiB: number; pssKiB: number } {
    let rssKiB = 0;
    let pssKiB = 0;
    try {
        const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        if (m) rssKiB = Number(m[1]);
    } catch {
        /* gone */
    }
    try {
        const m = /^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
        if (m) pssKiB = Number(m[1]);
    } catch {
        /* gone or no smaps_rollup */
    }
    return { rssKiB, pssKiB };
}

export function processName(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
        return "?";
    }
}

/** A lab TLS key (P-256) and self-signed certificate for `commonName` with these subjectAltNames; key mode 0600. */
export async function labSelfSigned(key: string, crt: string, commonName: string, san: string[]): Promise<void> {
    await run("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        crt,
        "-days",
        "397",
        "-subj",
        `/O=pinhole lab/CN=${commonName}`,
        "-addext",
        `subjectAltName=${san.join(",")}`,
    ]);
    fs.chmodSync(key, 0o600);
}
