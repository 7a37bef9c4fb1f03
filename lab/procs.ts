// Finding and stopping lab processes: those of the lab's namespaces, strays of a crash (processes left in a
// namespace that was deleted, booted containers of a killed run) and the inotify instances left for booted nodes.
// What counts as a stray is decided in lab/strays.ts (pure); this file reads /proc.
import * as fs from "fs";
import { NETNS_PREFIX } from "./shapes";
import { LAB_DIR, LABNET_BIN } from "./state";
import {
    INOTIFY_PER_BOOTED_NODE,
    inotifyShortage,
    isStrayProcess,
    ProcView,
    strayContainers,
    SweepContext,
} from "./strays";
import { run, sleep } from "./sys";

/** A namespace's identity ("dev:inode" of its /proc file), "" when unreadable. */
export function nsId(file: string): string {
    try {
        const s = fs.statSync(file);
        return `${s.dev}:${s.ino}`;
    } catch {
        return "";
    }
}

const netnsInode = (ns: string): string => nsId(`/run/netns/${ns}`);
const inSandbox = () => process.env.PINHOLE_LAB_SANDBOX === "inside";

function read(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return "";
    }
}

function ancestors(): Set<number> {
    const out = new Set<number>([process.pid]);
    let pid = process.pid;
    for (let i = 0; i < 64 && pid > 1; i++) {
        const m = /^PPid:\s+(\d+)/m.exec(read(`/proc/${pid}/status`));
        if (!m) break;
        pid = Number(m[1]);
        out.add(pid);
    }
    return out;
}

/** Does a network namespace (seen through one of its processes) hold a lab address (10.77/16, 10.78/16)? */
function holdsLabAddress(pid: number): boolean {
    return /\|-- 10\.7[78]\.\d+\.\d+\n\s+\/32 host LOCAL/.test(read(`/proc/${pid}/net/fib_trie`));
}

function viewOf(pid: number): ProcView | undefined {
    const status = read(`/proc/${pid}/status`);
    if (!status) return undefined;
    const argv = read(`/proc/${pid}/cmdline`).split("\0");
    while (argv.length && argv[argv.length - 1] === "") argv.pop();
    const nsPid = (/^NSpid:\s+(.*)$/m.exec(status)?.[1] ?? String(pid)).trim().split(/\s+/).map(Number);
    return {
        pid,
        ppid: Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0),
        argv,
        net: nsId(`/proc/${pid}/ns/net`),
        pidNs: nsId(`/proc/${pid}/ns/pid`),
        nsPid,
    };
}

function procPids(): number[] {
    return fs
        .readdirSync("/proc")
        .filter((e) => /^\d+$/.test(e))
        .map(Number);
}

function selfView(): SweepContext["self"] {
    const depth = (/^NSpid:\s+(.*)$/m.exec(read("/proc/self/status"))?.[1] ?? "1").trim().split(/\s+/).length;
    return { pidNs: nsId("/proc/self/ns/pid"), depth, net: nsId("/proc/self/ns/net") };
}

/**
 * Pids that belong to the lab: every process in one of `namespaces`, plus (when `strays`) processes outside the
 * root network namespace that run from or mount something under this checkout's .lab/, or whose network
 * namespace holds a lab address (a node whose namespace was deleted while its processes lived on). A node's own
 * processes (sshd, nginx, labnet) are in the node's pid namespace, a child of ours: they count too; a process of
 * a pid namespace nested deeper, or of a sandbox's (scripts/lab-sandbox.sh), is another copy's lab: never ours.
 */
export function labPids(namespaces: string[], strays: boolean): number[] {
    const want = new Set(namespaces.map(netnsInode).filter((x): x is string => !!x));
    const self = selfView();
    const skip = ancestors();
    const views = procPids()
        .filter((p) => !skip.has(p))
        .map(viewOf)
        .filter((v): v is ProcView => !!v && !!v.net);
    // the init (innermost pid 1) of each pid namespace: is it a sandbox's?
    const sandboxNs = new Set(
        views
            .filter((v) => v.nsPid[v.nsPid.length - 1] === 1 && v.pidNs !== self.pidNs)
            .filter((v) => /(^|\0)PINHOLE_LAB_SANDBOX=inside(\0|$)/.test(read(`/proc/${v.pid}/environ`)))
            .map((v) => v.pidNs),
    );
    const labNet = new Map<string, boolean>();
    const out: number[] = [];
    for (const v of views) {
        if (want.has(v.net)) {
            out.push(v.pid);
            continue;
        }
        if (!strays || v.net === self.net) continue;
        const ownPidNs = v.pidNs === self.pidNs;
        const childPidNs = !ownPidNs && v.nsPid.length === self.depth + 1;
        if (!ownPidNs && !childPidNs) continue;
        const cmd = v.argv.join("\0");
        const refersToLab =
            cmd.includes(LABNET_BIN) ||
            cmd.includes(`${LAB_DIR}/`) ||
            read(`/proc/${v.pid}/mountinfo`).includes(`${LAB_DIR}/nodes/`);
        if (!labNet.has(v.net)) labNet.set(v.net, holdsLabAddress(v.pid));
        const facts = {
            ownPidNs,
            childPidNs,
            sandboxPidNs: sandboxNs.has(v.pidNs),
            refersToLab,
            labAddress: labNet.get(v.net)!,
        };
        if (isStrayProcess(facts, inSandbox())) out.push(v.pid);
    }
    return out;
}

/** SIGKILLs every process of the given namespaces (and stray lab processes) until none is left. */
export async function killNetnsProcesses(namespaces: string[], strays = false, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let killed = 0;
    for (;;) {
        const pids = labPids(namespaces, strays);
        if (!pids.length) return killed;
        killed += killAll(pids);
        if (Date.now() > deadline)
            throw new Error(`lab: processes survive SIGKILL in ${namespaces.join(", ")}: ${pids.join(" ")}`);
        await sleep(30);
    }
}

function killAll(pids: number[]): number {
    let n = 0;
    for (const p of pids) {
        try {
            process.kill(p, "SIGKILL");
            n++;
        } catch {
            /* gone */
        }
    }
    return n;
}

/** Kills lab processes that outlived a deleted namespace (not those of the namespaces in `live`). */
export function killOrphans(live: string[]): number {
    const inLive = new Set(labPids(live, false));
    return killAll(labPids([], true).filter((p) => !inLive.has(p)));
}

/** Named lab namespaces now, identity → name. */
function labNetnsIds(): Map<string, string> {
    let names: string[] = [];
    try {
        names = fs.readdirSync("/run/netns").filter((n) => n.startsWith(NETNS_PREFIX));
    } catch {
        /* none */
    }
    return new Map(names.map((n) => [netnsInode(n), n] as [string, string]).filter(([id]) => !!id));
}

/**
 * Stops booted lab containers that no lab keeps (of a killed run, of any checkout; `keep`: namespaces of the
 * booted lab being brought up): supervisor, nspawn, then the container's systemd. Returns how many.
 */
export async function sweepStrayContainers(log: (m: string) => void, keep: string[] = []): Promise<number> {
    const ctx: SweepContext = {
        self: selfView(),
        labNetns: labNetnsIds(),
        kept: new Set(keep.map(netnsInode).filter(Boolean)),
        labDir: LAB_DIR,
    };
    const views = procPids()
        .map(viewOf)
        .filter((v): v is ProcView => !!v);
    for (const v of views) if (v.argv.length === 1 && v.nsPid.length > 1) v.labAddress = holdsLabAddress(v.pid);
    const strays = strayContainers(views, ctx);
    for (const s of strays)
        log(
            `stopping a stray booted lab container: systemd pid ${s.pid}${s.netns ? ` (${s.netns})` : ""}, ${s.why}${s.checkout ? `, checkout ${s.checkout}` : ""}`,
        );
    for (const s of strays) killAll(s.stop);
    const deadline = Date.now() + 10_000;
    while (strays.some((s) => fs.existsSync(`/proc/${s.pid}`)) && Date.now() < deadline) await sleep(50);
    return strays.length;
}

/** How many inotify instances root can still create, at most `upTo` (measured with labnet: it opens and closes them). */
export async function inotifyFree(upTo: number): Promise<number> {
    const r = await run(LABNET_BIN, ["inotify", String(upTo)]);
    return Number(r.stdout.trim());
}

/**
 * Throws (naming the cause and the fix) when `nodes` booted nodes would not get their inotify instances. Asks for
 * no more than they need: holding every free instance, even for a moment, could fail someone else's.
 */
export async function checkInotify(nodes: number, strays: number): Promise<void> {
    const need = nodes * INOTIFY_PER_BOOTED_NODE;
    if (!need) return;
    const limit = Number(read("/proc/sys/fs/inotify/max_user_instances").trim()) || 128;
    const msg = inotifyShortage({ free: await inotifyFree(need), nodes, limit, strays, sandbox: inSandbox() });
    if (msg) throw new Error(msg);
}
