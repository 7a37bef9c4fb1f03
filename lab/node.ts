// A lab node's files (keys, certificate, configs, private directories) and its boot / kill / health.
import * as fs from "fs";
import * as path from "path";
import { LabNode, LabPlan, LabVantage, SUDO_USER } from "./shapes";
import {
    bootScript,
    hostsFile,
    MIME_TYPES_FALLBACK,
    nginxConf,
    nginxDefaultServer,
    PRIVATE_BINDS,
    PRIVATE_OVERLAYS,
    sshdConfig,
} from "./render";
import { HOST_KEYS_DIR, LAB_DIR, LABNET_BIN, nodeDir, vantageDir } from "./state";
import { labSelfSigned, listeningPorts, pidInNetns, processName, readPid, run, sleep, spawnDetached } from "./sys";
import { killNetnsProcesses, labPids } from "./procs";
import { labnetPorts, snmpdConf } from "./services";
import { startService } from "./services-run";

function writeIfChanged(file: string, text: string, mode = 0o644): boolean {
    try {
        if (fs.readFileSync(file, "utf8") === text) {
            fs.chmodSync(file, mode);
            return false;
        }
    } catch {
        /* new */
    }
    fs.writeFileSync(file, text, { mode });
    fs.chmodSync(file, mode);
    return true;
}

export function hostKeyOf(node: LabNode): string | undefined {
    try {
        const [type, key] = fs
            .readFileSync(path.join(nodeDir(node.name), "ssh", "ssh_host_ed25519_key.pub"), "utf8")
            .trim()
            .split(/\s+/);
        return `${type} ${key}`;
    } catch {
        return undefined;
    }
}

/** root's own home on a node: Debian's default shell start-up files (base-files), not this machine's. */
function seedRootHome(home: string): void {
    fs.chmodSync(home, 0o700);
    for (const name of ["bashrc", "profile"]) {
        const src = [`/usr/share/base-files/dot.${name}`, `/etc/skel/.${name}`].find((f) => fs.existsSync(f));
        const dst = path.join(home, `.${name}`);
        if (src && !fs.existsSync(dst)) fs.copyFileSync(src, dst);
    }
}

/** The node's private directories (bind sources, overlay upper/work, ssh, run, nginx) with their modes. */
function makeNodeDirs(D: string): void {
    for (const [src] of PRIVATE_BINDS) fs.mkdirSync(path.join(D, src), { recursive: true });
    for (const [src] of PRIVATE_OVERLAYS) {
        fs.mkdirSync(path.join(D, src, "upper"), { recursive: true });
        fs.mkdirSync(path.join(D, src, "work"), { recursive: true });
    }
    for (const d of ["ssh", "run", "etc/nginx/conf.d", "etc/nginx/sites-enabled", "etc/nginx/ssl"])
        fs.mkdirSync(path.join(D, d), { recursive: true });
    fs.chmodSync(path.join(D, "tmp"), 0o1777);
    seedRootHome(path.join(D, "root"));
    fs.chmodSync(path.join(D, "etc/sudoers.d"), 0o755);
}

/**
 * The ssh host key: one per lab address, kept in .lab/ssh/hostkeys across up, down and model changes (like a
 * machine that keeps its host key when redeployed), so pinned keys stay valid; `down --purge` forgets them.
 */
async function installHostKey(node: LabNode, D: string): Promise<void> {
    const hostKey = path.join(D, "ssh", "ssh_host_ed25519_key");
    const stored = path.join(HOST_KEYS_DIR, node.sshHost, "ssh_host_ed25519_key");
    if (!fs.existsSync(stored) || !fs.existsSync(`${stored}.pub`)) {
        fs.mkdirSync(path.dirname(stored), { recursive: true, mode: 0o700 });
        for (const f of [stored, `${stored}.pub`]) fs.rmSync(f, { force: true });
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `pinhole-lab-${node.sshHost}`, "-f", stored]);
    }
    for (const [src, dst, mode] of [
        [stored, hostKey, 0o600],
        [`${stored}.pub`, `${hostKey}.pub`, 0o644],
    ] as const) {
        writeIfChanged(dst, fs.readFileSync(src, "utf8"), mode);
    }
}

/** nginx: seeded once from the lab's base config; later changes (pinhole's) are kept. */
function seedNginx(node: LabNode, ngx: string): void {
    if (fs.existsSync(path.join(ngx, "nginx.conf"))) return;
    fs.writeFileSync(path.join(ngx, "nginx.conf"), nginxConf());
    let mime = MIME_TYPES_FALLBACK;
    try {
        mime = fs.readFileSync("/etc/nginx/mime.types", "utf8");
    } catch {
        /* fallback */
    }
    fs.writeFileSync(path.join(ngx, "mime.types"), mime);
    fs.writeFileSync(path.join(ngx, "conf.d", "default.conf"), nginxDefaultServer(node));
}

/** nginx's self-signed certificate, made once (kept across `up`) for the node's names and addresses. */
async function ensureNodeCertificate(node: LabNode, ngx: string): Promise<void> {
    const crt = path.join(ngx, "ssl", "server.crt");
    const key = path.join(ngx, "ssl", "server.key");
    if (fs.existsSync(crt) && fs.existsSync(key)) return;
    const san = [
        `DNS:${node.fqdn}`,
        `DNS:${node.name}`,
        `IP:${node.address}`,
        ...(node.advertisedAddress ? [`IP:${node.advertisedAddress}`] : []),
    ];
    await labSelfSigned(key, crt, node.fqdn, san);
}

/** The sudo user's sudoers entry (only on nodes with `sudo`) and home directory (when its uid is known). */
function setUpSudoUser(node: LabNode, D: string, sudoUid?: { uid: number; gid: number }): void {
    const sudoers = path.join(D, "etc", "sudoers.d", "pinhole-lab");
    if (node.sudo)
        writeIfChanged(
            sudoers,
            `# pinhole lab: ${SUDO_USER} may run anything without a password on ${node.name} only\n${SUDO_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n`,
            0o440,
        );
    else fs.rmSync(sudoers, { force: true });
    const home = path.join(D, "home", SUDO_USER);
    if (sudoUid) {
        fs.mkdirSync(home, { recursive: true, mode: 0o755 });
        fs.chownSync(home, sudoUid.uid, sudoUid.gid);
    }
}

/** The generated configs the node reads at boot, rewritten each time; true when one of them changed. */
function writeBootConfigs(node: LabNode, plan: LabPlan, D: string): boolean {
    let changed = false;
    changed = writeIfChanged(path.join(D, "etc", "hosts"), hostsFile(node, plan)) || changed;
    changed = writeIfChanged(path.join(D, "sshd_config"), sshdConfig(node)) || changed;
    if (plan.services) changed = writeIfChanged(path.join(D, "snmpd.conf"), snmpdConf(node.name)) || changed;
    changed = writeIfChanged(path.join(D, "boot.sh"), bootScript(node, LAB_DIR, plan.services), 0o755) || changed;
    return changed;
}

/**
 * Creates (or completes) the node's directory. Existing keys, certificate and nginx/pinhole state are kept
 * (`up` twice leaves a node as it is); the generated configs are rewritten. Returns true when a file that the
 * running node reads at boot changed (the node then needs a reboot).
 */
export async function prepareNode(
    node: LabNode,
    plan: LabPlan,
    sudoUid?: { uid: number; gid: number },
): Promise<boolean> {
    const D = nodeDir(node.name);
    makeNodeDirs(D);
    await installHostKey(node, D);
    const ngx = path.join(D, "etc", "nginx");
    seedNginx(node, ngx);
    await ensureNodeCertificate(node, ngx);
    setUpSudoUser(node, D, sudoUid);
    return writeBootConfigs(node, plan, D);
}

export interface NodeHealth {
    sshd?: number;
    nginx?: number;
    listener?: number;
    /** sshd, nginx and the listener run in the node's namespace and sshd listens. */
    healthy: boolean;
}

export function nodeHealth(node: LabNode): NodeHealth {
    // nodes run in their own PID namespace: find their processes by network namespace and name
    const pids = labPids([node.netns], false);
    const byName = (name: string) => pids.filter((p) => processName(p) === name).sort((a, b) => a - b)[0];
    const sshd = byName("sshd");
    const nginx = byName("nginx");
    const listener = byName("labnet");
    const healthy = !!(sshd && nginx && listener && listeningPorts(sshd).has("22/tcp"));
    return { sshd, nginx, listener, healthy };
}

/** A node's private namespaces: mounts, hostname and PIDs (sshd ends up as the node's PID 1). */
export const UNSHARE = ["unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private"];

/** What the boot script said about the firewall: "loaded", "none" or "failed". */
export type FirewallAtBoot = "loaded" | "none" | "failed" | "unknown";

export interface BootResult {
    node: string;
    pid: number;
    firewall: FirewallAtBoot;
    warnings: string[];
    ms: number;
}

function tail(file: string, lines = 15): string {
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/**
 * Boots a node whose namespace has no processes: wipes its /run (a reboot clears it), starts the boot script
 * detached and waits until sshd and the listener listen (nginx: a warning if it did not come up).
 */
export async function bootNode(node: LabNode, timeoutMs = 20_000): Promise<BootResult> {
    const t0 = Date.now();
    const D = nodeDir(node.name);
    const runDir = path.join(D, "run");
    fs.rmSync(runDir, { recursive: true, force: true });
    fs.mkdirSync(runDir, { recursive: true, mode: 0o755 });
    const log = path.join(D, "boot.log");
    fs.writeFileSync(log, "");
    const pid = spawnDetached("ip", ["netns", "exec", node.netns, ...UNSHARE, "/bin/sh", path.join(D, "boot.sh")], log);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const ports = listeningPorts(pid);
        if (ports.has("22/tcp") && ports.has("8443/tcp")) break;
        if (!fs.existsSync(`/proc/${pid}`) || readZombie(pid))
            throw new Error(
                `lab: ${node.name} did not boot (boot script exited):\n${tail(log)}\n${tail(path.join(D, "sshd.log"), 5)}`,
            );
        if (Date.now() > deadline)
            throw new Error(`lab: ${node.name} did not boot within ${timeoutMs} ms:\n${tail(log)}`);
        await sleep(25);
    }
    const warnings: string[] = [];
    const nginxDeadline = Date.now() + 3000;
    while (!listeningPorts(pid).has("443/tcp") && Date.now() < nginxDeadline) await sleep(25);
    if (!listeningPorts(pid).has("443/tcp"))
        warnings.push(`${node.name}: nginx is not listening on 443: ${tail(log, 3)}`);
    const bootLog = fs.readFileSync(log, "utf8");
    const firewall: FirewallAtBoot = /boot: firewall loaded/.test(bootLog)
        ? "loaded"
        : /boot: firewall none/.test(bootLog)
          ? "none"
          : /firewall FAILED/.test(bootLog)
            ? "failed"
            : "unknown";
    if (firewall === "failed") {
        const errors = bootLog
            .split("\n")
            .filter((l) => /Error:/.test(l))
            .slice(0, 3)
            .join(" | ");
        warnings.push(`${node.name}: /etc/pinhole/firewall.nft did not load (the node booted without it): ${errors}`);
    }
    return { node: node.name, pid, firewall, warnings, ms: Date.now() - t0 };
}

function readZombie(pid: number): boolean {
    try {
        return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
        return true;
    }
}

/** Kills everything in the node's namespace and flushes its nftables (the kernel state a reboot loses). */
export async function haltNode(node: LabNode): Promise<void> {
    await killNetnsProcesses([node.netns]);
    await run("ip", ["netns", "exec", node.netns, "nft", "flush", "ruleset"], { allowFail: true });
}

// ------------------------------------------------------------------------------------------ vantages

export function vantageHealthy(v: LabVantage): number | undefined {
    if (!v.ports.length) return 0;
    const pid = readPid(path.join(vantageDir(v.name), "labnet.pid"));
    if (!pid || !pidInNetns(pid, v.netns)) return undefined;
    const ports = listeningPorts(pid);
    return v.ports.every((p) => ports.has(`${p.port}/${p.protocol}`)) ? pid : undefined;
}

/**
 * Starts an external service's listener (client/admin run nothing); with `services`, the host's real service first
 * (lab/services.ts), and labnet on the ports it leaves.
 */
export async function startVantage(v: LabVantage, services = false, timeoutMs = 10_000): Promise<void> {
    if (!v.ports.length) return;
    const dir = vantageDir(v.name);
    fs.mkdirSync(dir, { recursive: true });
    const pidFile = path.join(dir, "labnet.pid");
    fs.rmSync(pidFile, { force: true });
    if (services) await startService(v);
    const ports = labnetPorts(v.vantage, v.ports, services);
    const tcp = ports.filter((p) => p.protocol === "tcp").map((p) => p.port);
    const udp = ports.filter((p) => p.protocol === "udp").map((p) => p.port);
    const args = [
        "netns",
        "exec",
        v.netns,
        LABNET_BIN,
        "listen",
        ...(tcp.length ? ["--tcp", tcp.join(",")] : []),
        ...(udp.length ? ["--udp", udp.join(",")] : []),
        "--daemon",
        "--pidfile",
        pidFile,
    ];
    spawnDetached("ip", args, path.join(dir, "labnet.log"));
    const deadline = Date.now() + timeoutMs;
    while (!vantageHealthy(v)) {
        if (Date.now() > deadline)
            throw new Error(`lab: the ${v.name} listener did not start: ${tail(path.join(dir, "labnet.log"))}`);
        await sleep(20);
    }
}
