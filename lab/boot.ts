// The booted tier: each node is a systemd-nspawn container that boots systemd as its PID 1 inside the node's
// network namespace, from the cached Debian image (lab/boot-image.ts) on a copy-on-write overlay per node.
// The node's files (host key, nginx config and certificate, /etc/pinhole, sudoers, /etc/hosts) are the
// process tier's (lab/node.ts prepareNode), bind-mounted in, so the address plan, pinned keys, stack and probe
// are the same on both tiers.
import * as fs from "fs";
import * as path from "path";
import { bootedSshdConfig, LISTENER_UNIT, listenerUnit, nspawnArgs, supervisorScript } from "./boot-render";
import { BootImage, ensureBootImage } from "./boot-image";
import type { BootResult, FirewallAtBoot } from "./node";
import { nodeHealth } from "./node";
import { checkInotify, killNetnsProcesses, labPids, sweepStrayContainers } from "./procs";
import type { LabNode, LabPlan } from "./shapes";
import { planNamespaces, SUDO_USER } from "./shapes";
import { bootFailureHint } from "./strays";
import { AUTHORIZED_KEYS, BIN_DIR, nodeDir, NODES_DIR } from "./state";
import { listeningPorts, readPid, run, RunResult, sleep, spawnDetached, which } from "./sys";

const bootDir = (node: LabNode | string) => path.join(nodeDir(typeof node === "string" ? node : node.name), "boot");
const rootOf = (node: LabNode | string) => path.join(bootDir(node), "root");

/** Throws a clear message where this machine cannot run the booted tier. */
export function checkBootPrerequisites(): void {
    const missing = [
        ["systemd-nspawn", "systemd-container"],
        ["mmdebstrap", "mmdebstrap"],
        ["nsenter", "util-linux"],
    ]
        .filter(([bin]) => !which(bin))
        .map(([bin, pkg]) => `${bin} (Debian package ${pkg})`);
    if (missing.length) {
        throw new Error(
            `the booted tier (--boot) needs ${missing.join(", ")}: run \`npm run setup\` (it installs them; note that systemd-container upgrades the machine's systemd packages to its version) or apt-get install systemd-container mmdebstrap`,
        );
    }
    const fsTypes = fs.readFileSync("/proc/filesystems", "utf8");
    if (!/\toverlay$/m.test(fsTypes))
        throw new Error(
            "the booted tier needs overlayfs (each node is a copy-on-write overlay of the image): this kernel has none (modprobe overlay)",
        );
    if (!fs.existsSync("/sys/fs/cgroup"))
        throw new Error(
            "the booted tier needs cgroups mounted at /sys/fs/cgroup (systemd in the containers runs in them)",
        );
}

function isMounted(dir: string): boolean {
    return fs
        .readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .some((l) => l.split(" ")[4] === dir);
}

function writeIfChanged(file: string, text: string, mode = 0o644): boolean {
    try {
        if (fs.readFileSync(file, "utf8") === text) return false;
    } catch {
        /* new */
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode });
    fs.chmodSync(file, mode);
    return true;
}

/**
 * Mounts the node's copy-on-write overlay of the image; a changed image means a reimaged node, so its old upper
 * layer goes first. Returns true when the node was reimaged.
 */
async function mountOverlay(image: BootImage, B: string, root: string): Promise<boolean> {
    let reimaged = false;
    const imageFile = path.join(B, "image");
    const current = fs.existsSync(imageFile) ? fs.readFileSync(imageFile, "utf8").trim() : "";
    if (current !== image.key) {
        if (isMounted(root)) await run("umount", [root]);
        fs.rmSync(B, { recursive: true, force: true });
        reimaged = true;
    }
    for (const d of ["upper", "work", "root"]) fs.mkdirSync(path.join(B, d), { recursive: true });
    fs.writeFileSync(imageFile, `${image.key}\n`);
    if (!isMounted(root)) {
        await run("mount", [
            "-t",
            "overlay",
            "pinhole-lab-boot",
            "-o",
            `lowerdir=${image.rootfs},upperdir=${B}/upper,workdir=${B}/work`,
            root,
        ]);
    }
    return reimaged;
}

/** The node's own system files in its overlay (sshd config, hostname); true when one changed. */
function writeSystemFiles(node: LabNode, root: string): boolean {
    let changed = false;
    changed = writeIfChanged(path.join(root, "etc/ssh/sshd_config"), bootedSshdConfig(node)) || changed;
    changed = writeIfChanged(path.join(root, "etc/hostname"), `${node.name}\n`) || changed;
    return changed;
}

/** The listener's systemd unit, enabled for multi-user.target; true when the unit changed. */
function installListenerUnit(root: string): boolean {
    const changed = writeIfChanged(path.join(root, "etc/systemd/system", LISTENER_UNIT), listenerUnit());
    const wants = path.join(root, "etc/systemd/system/multi-user.target.wants", LISTENER_UNIT);
    // a link to a path inside the node: lstat, not exists (which follows it on the host)
    if (!fs.lstatSync(wants, { throwIfNoEntry: false })) {
        fs.mkdirSync(path.dirname(wants), { recursive: true });
        fs.symlinkSync(`/etc/systemd/system/${LISTENER_UNIT}`, wants);
    }
    return changed;
}

/** The sudo user's account inside the node, once; the same uid as the host's account. */
async function addSudoAccount(root: string, sudoIds?: { uid: number; gid: number }): Promise<void> {
    if (!sudoIds || fs.readFileSync(path.join(root, "etc/passwd"), "utf8").includes(`\n${SUDO_USER}:`)) return;
    // the same uid as the host's account: /home/pinhole is the node directory's, owned by it
    await run("chroot", [root, "groupadd", "-g", String(sudoIds.gid), SUDO_USER], { allowFail: true });
    await run("chroot", [
        root,
        "useradd",
        "-u",
        String(sudoIds.uid),
        "-g",
        String(sudoIds.gid),
        "-M",
        "-d",
        `/home/${SUDO_USER}`,
        "-s",
        "/bin/bash",
        "-p",
        "*",
        "-c",
        "pinhole lab",
        SUDO_USER,
    ]);
}

/** The supervisor script that runs (and reboots) the node's container; true when it changed. */
function writeSupervisor(node: LabNode, B: string, root: string): boolean {
    const args = nspawnArgs({
        node,
        root,
        nodeDir: nodeDir(node.name),
        labBin: BIN_DIR,
        authorizedKeys: AUTHORIZED_KEYS,
    });
    return writeIfChanged(path.join(B, "supervise.sh"), supervisorScript(node, args), 0o755);
}

/**
 * Mounts the node's overlay (a fresh upper layer when the image changed: a reimaged node) and writes the
 * node's own system files into it. Returns true when something the running node reads at boot changed.
 */
export async function prepareBootedNode(
    node: LabNode,
    image: BootImage,
    sudoIds?: { uid: number; gid: number },
): Promise<boolean> {
    const B = bootDir(node);
    const root = rootOf(node);
    let changed = await mountOverlay(image, B, root);
    changed = writeSystemFiles(node, root) || changed;
    changed = installListenerUnit(root) || changed;
    await addSudoAccount(root, sudoIds);
    changed = writeSupervisor(node, B, root) || changed;
    return changed;
}

function childrenOf(pid: number): number[] {
    try {
        return fs
            .readdirSync(`/proc/${pid}/task`)
            .flatMap((t) =>
                fs
                    .readFileSync(`/proc/${pid}/task/${t}/children`, "utf8")
                    .trim()
                    .split(/\s+/)
                    .filter(Boolean)
                    .map(Number),
            );
    } catch {
        return [];
    }
}

const alive = (pid?: number) =>
    !!pid && fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(safeRead(`/proc/${pid}/status`));
function safeRead(f: string): string {
    try {
        return fs.readFileSync(f, "utf8");
    } catch {
        return "";
    }
}

/** The container's PID 1 (systemd) as the host sees it: the node's process whose innermost pid is 1. */
export function containerLeader(node: LabNode): number | undefined {
    for (const p of labPids([node.netns], false)) {
        const m = /^NSpid:\s+(.*)$/m.exec(safeRead(`/proc/${p}/status`));
        if (m && m[1].trim().split(/\s+/).slice(-1)[0] === "1" && m[1].trim().split(/\s+/).length > 1) return p;
    }
    return undefined;
}

/** Runs a command inside the booted node (its mount, PID, UTS, IPC and network namespaces). */
export function execInNode(
    node: LabNode,
    cmd: string[],
    opts: { allowFail?: boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
    const leader = containerLeader(node);
    if (!leader) throw new Error(`lab: ${node.name} is not running (no systemd in its namespace)`);
    return run("nsenter", ["-t", String(leader), "-m", "-u", "-i", "-n", "-p", "--", ...cmd], {
        allowFail: opts.allowFail ?? true,
        timeoutMs: opts.timeoutMs ?? 20_000,
    });
}

export function bootedSupervisor(node: LabNode): number | undefined {
    const pid = readPid(path.join(bootDir(node), "supervisor.pid"));
    return alive(pid) ? pid : undefined;
}

function tail(file: string, lines = 20): string {
    const text = safeRead(file).trimEnd();
    const hint = bootFailureHint(text);
    return (text.split("\n").slice(-lines).join("\n") || "(no log)") + (hint ? `\n${hint}` : "");
}

/**
 * Before a booted `up`: stops stray booted containers (a killed run's, any checkout's; not this lab's own
 * nodes), checks that the nodes still to boot get their inotify instances, then builds or finds the image.
 */
export async function prepareBootTier(plan: LabPlan, log: (m: string) => void): Promise<BootImage> {
    const strays = await sweepStrayContainers(log, planNamespaces(plan));
    await checkInotify(plan.nodes.filter((n) => !bootedSupervisor(n)).length, strays);
    return ensureBootImage(log);
}

async function waitReady(node: LabNode, since: number, deadline: number, leaderBefore?: number): Promise<void> {
    const log = path.join(bootDir(node), "console.log");
    for (;;) {
        const leader = containerLeader(node);
        const h = nodeHealth(node);
        if (leader && leader !== leaderBefore && h.healthy && h.listener && listeningPorts(h.listener).has("8443/tcp"))
            return;
        if (!bootedSupervisor(node))
            throw new Error(`lab: ${node.name} did not boot (the container exited):\n${tail(log)}`);
        if (Date.now() > deadline)
            throw new Error(`lab: ${node.name} did not reach ssh within ${deadline - since} ms:\n${tail(log)}`);
        await sleep(50);
    }
}

/** What systemd did with pinhole's unit at this boot. */
async function firewallAtBoot(node: LabNode): Promise<FirewallAtBoot> {
    const r = await execInNode(node, [
        "systemctl",
        "show",
        "-p",
        "LoadState,ActiveState,Result",
        "pinhole-firewall.service",
    ]);
    if (/LoadState=not-found/.test(r.stdout)) return "none";
    if (/ActiveState=active/.test(r.stdout)) return "loaded";
    if (/ActiveState=failed|Result=exit-code/.test(r.stdout)) return "failed";
    return "unknown";
}

/** Boots a halted booted node (starts its supervisor) and waits for sshd, nginx and the listener. */
export async function bootBootedNode(node: LabNode, timeoutMs = 60_000): Promise<BootResult> {
    const t0 = Date.now();
    const B = bootDir(node);
    const log = path.join(B, "console.log");
    fs.writeFileSync(log, "");
    const pid = spawnDetached("/bin/sh", [path.join(B, "supervise.sh")], log);
    fs.writeFileSync(path.join(B, "supervisor.pid"), `${pid}\n`);
    await waitReady(node, t0, t0 + timeoutMs);
    return finishBoot(node, pid, t0);
}

async function finishBoot(node: LabNode, pid: number, t0: number): Promise<BootResult> {
    const warnings: string[] = [];
    if (!listeningPorts(nodeHealth(node).sshd!).has("443/tcp"))
        warnings.push(`${node.name}: nginx is not listening on 443`);
    const firewall = await firewallAtBoot(node);
    if (firewall === "failed")
        warnings.push(
            `${node.name}: pinhole-firewall.service failed at boot (see journalctl -u pinhole-firewall inside the node)`,
        );
    return { node: node.name, pid, firewall, warnings, ms: Date.now() - t0 };
}

/** `systemctl reboot` inside the node: the container exits with 133 and its supervisor boots it again. */
export async function rebootBootedNode(node: LabNode, timeoutMs = 60_000): Promise<BootResult> {
    const t0 = Date.now();
    const before = containerLeader(node);
    const sup = bootedSupervisor(node);
    if (!before || !sup) throw new Error(`lab: ${node.name} is not running: run up again`);
    await execInNode(node, ["systemctl", "reboot"]);
    await waitReady(node, t0, t0 + timeoutMs, before);
    return finishBoot(node, sup, t0);
}

/** Stops a booted node at once (like pulling the plug): supervisor first, so nothing boots it again. */
export async function haltBootedNode(node: LabNode | string, netns?: string): Promise<void> {
    const B = bootDir(node);
    const sup = readPid(path.join(B, "supervisor.pid"));
    if (alive(sup)) {
        const kids = childrenOf(sup!);
        try {
            process.kill(sup!, "SIGKILL");
        } catch {
            /* gone */
        }
        for (const k of kids) {
            try {
                process.kill(k, "SIGKILL");
            } catch {
                /* gone */
            }
        }
        for (let i = 0; i < 200 && kids.some(alive); i++) await sleep(25);
    }
    fs.rmSync(path.join(B, "supervisor.pid"), { force: true });
    const ns = netns ?? (typeof node === "string" ? undefined : node.netns);
    if (ns) {
        await killNetnsProcesses([ns]);
        await run("ip", ["netns", "exec", ns, "nft", "flush", "ruleset"], { allowFail: true });
    }
}

/**
 * Halts every booted node found under .lab/nodes and unmounts its overlay (down, or a tier change), then stops
 * stray booted containers of any checkout (lab/strays.ts). Returns how many of this checkout's nodes it halted.
 */
export async function removeBootedNodes(log: (m: string) => void): Promise<number> {
    let n = 0;
    for (const name of fs.existsSync(NODES_DIR) ? fs.readdirSync(NODES_DIR) : []) {
        const B = bootDir(name);
        if (!fs.existsSync(B)) continue;
        await haltBootedNode(name);
        const root = rootOf(name);
        if (isMounted(root))
            await run("umount", [root], { allowFail: true }).then((r) =>
                r.code === 0 ? r : run("umount", ["-l", root], { allowFail: true }),
            );
        n++;
    }
    await sweepStrayContainers(log);
    return n;
}
