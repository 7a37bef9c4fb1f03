// Pure: which processes are booted lab containers (systemd-nspawn nodes) that no lab keeps, and which processes
// a stray sweep may take. The reading of /proc is in lab/procs.ts; this file does no I/O.
//
// A killed booted run leaves its containers running: systemd as PID 1 of its own pid namespace, in a lab
// network namespace (often one already deleted), each holding inotify instances (fs.inotify.max_user_instances
// is per user, machine-wide), so the next booted lab fails with "Failed to create inotify object". Another
// checkout's `down` does not know them (its .lab/ has no such node). The sweep finds them by what they are.

/** One process as the sweep sees it (from /proc). */
export interface ProcView {
    pid: number;
    ppid: number;
    /** /proc/<pid>/cmdline split at NUL (no trailing empty entry). */
    argv: string[];
    /** Identities ("dev:inode") of its network and pid namespaces; "" when unreadable. */
    net: string;
    pidNs: string;
    /** NSpid: its pid in each pid namespace from this /proc's down to its own (innermost last). */
    nsPid: number[];
    /** Its network namespace holds a lab address (10.77/16, 10.78/16). */
    labAddress?: boolean;
}

export interface SweepContext {
    /** The sweeping process: its pid namespace, its NSpid depth (1 on the host, 1 inside a sandbox) and root netns. */
    self: { pidNs: string; depth: number; net: string };
    /** Named lab network namespaces that exist now (phlab-*), identity → name. */
    labNetns: Map<string, string>;
    /** Identities of the namespaces this lab keeps (a booted `up` of the same shape): their containers stay. */
    kept: Set<string>;
    /** This checkout's .lab directory. */
    labDir: string;
}

export type ContainerVerdict =
    /** Not the PID 1 systemd of a container. */
    | { kind: "none" }
    /** systemd in our own pid namespace: the machine's (or the sandbox's) own init. Never touched. */
    | { kind: "host"; why: string }
    /** A container whose pid namespace is not a child of ours (another pid namespace's, e.g. a sandbox's lab). */
    | { kind: "foreign"; why: string }
    /** A container with nothing of the lab about it (not our business). */
    | { kind: "unrelated"; why: string }
    /** A node of the lab being brought up. */
    | { kind: "tracked"; netns: string }
    | { kind: "stray"; pid: number; netns?: string; checkout?: string; stop: number[]; why: string };

const INITS = new Set(["/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init"]);
const SUPERVISOR = /\/\.lab\/nodes\/[^/]+\/boot\/supervise\.sh$/;

const basename = (s: string) => s.slice(s.lastIndexOf("/") + 1);
const opt = (argv: string[], name: string) =>
    argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? undefined;

/** Is this process systemd running as a container's PID 1 (cmdline exactly the init, innermost pid 1)? */
export function isContainerInit(p: ProcView): boolean {
    return p.argv.length === 1 && INITS.has(p.argv[0]) && p.nsPid.length > 1 && p.nsPid[p.nsPid.length - 1] === 1;
}

/** The checkout a node's nspawn --directory (…/<checkout>/.lab/nodes/<node>/boot/root) belongs to. */
export function checkoutOf(directory: string | undefined): string | undefined {
    const i = directory?.indexOf("/.lab/nodes/") ?? -1;
    return i > 0 ? directory!.slice(0, i) : undefined;
}

/**
 * What a process is to the sweep. Only a container's PID 1 systemd whose pid namespace is a direct child of ours,
 * that is not in our root network namespace, and that shows the lab (a phlab- namespace, a lab address, or an
 * nspawn started for a lab node) can be a stray; a node of `kept` started from this checkout is tracked.
 */
export function classifyContainer(p: ProcView, procs: Map<number, ProcView>, ctx: SweepContext): ContainerVerdict {
    if (p.argv.length !== 1 || !INITS.has(p.argv[0])) return { kind: "none" };
    if (p.pidNs === ctx.self.pidNs || p.nsPid.length <= 1)
        return { kind: "host", why: `pid ${p.pid} is this pid namespace's own ${p.argv[0]}` };
    if (p.nsPid[p.nsPid.length - 1] !== 1) return { kind: "none" };
    if (p.nsPid.length !== ctx.self.depth + 1)
        return { kind: "foreign", why: `pid ${p.pid}'s pid namespace is nested in another one (a sandbox's lab)` };
    const parent = procs.get(p.ppid);
    const nspawn = parent && parent.pidNs === ctx.self.pidNs && basename(parent.argv[0] ?? "") === "systemd-nspawn";
    if (parent && parent.pidNs !== ctx.self.pidNs)
        return { kind: "foreign", why: `pid ${p.pid} was started from another pid namespace` };
    if (p.net === ctx.self.net) return { kind: "unrelated", why: `pid ${p.pid} shares our network namespace` };
    const args = nspawn ? parent.argv : [];
    const nsPath = opt(args, "network-namespace-path");
    const directory = opt(args, "directory");
    const named = ctx.labNetns.get(p.net);
    const evidence = named
        ? `in lab namespace ${named}`
        : nsPath?.startsWith("/run/netns/phlab-")
          ? `started for ${basename(nsPath)} (namespace since deleted)`
          : checkoutOf(directory)
            ? `booted from ${directory}`
            : p.labAddress
              ? "its network namespace holds a lab address"
              : undefined;
    if (!evidence) return { kind: "unrelated", why: `pid ${p.pid} shows nothing of the lab` };
    const checkout = checkoutOf(directory);
    if (named && ctx.kept.has(p.net) && nspawn && checkout === ctx.labDir.replace(/\/\.lab\/?$/, ""))
        return { kind: "tracked", netns: named };
    const stop: number[] = [];
    if (nspawn) {
        const sup = procs.get(parent.ppid);
        if (sup && sup.pidNs === ctx.self.pidNs && SUPERVISOR.test(sup.argv[sup.argv.length - 1] ?? ""))
            stop.push(sup.pid);
        stop.push(parent.pid);
    }
    stop.push(p.pid);
    return {
        kind: "stray",
        pid: p.pid,
        ...(named || nsPath ? { netns: named ?? basename(nsPath!) } : {}),
        ...(checkout ? { checkout } : {}),
        stop,
        why: evidence,
    };
}

/** The strays among `procs` (each with the processes to stop: its supervisor, nspawn, then its systemd). */
export function strayContainers(procs: ProcView[], ctx: SweepContext): Extract<ContainerVerdict, { kind: "stray" }>[] {
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    return procs
        .map((p) => classifyContainer(p, byPid, ctx))
        .filter((v): v is Extract<ContainerVerdict, { kind: "stray" }> => v.kind === "stray");
}

/** Inotify instances a booted node needs (its systemd, journald and friends): a floor, measured on Debian 12. */
export const INOTIFY_PER_BOOTED_NODE = 4;

/** The message when the machine cannot give the booted nodes the inotify instances they need; undefined when it can. */
export function inotifyShortage(a: {
    free: number;
    nodes: number;
    limit: number;
    strays: number;
    sandbox: boolean;
}): string | undefined {
    const need = a.nodes * INOTIFY_PER_BOOTED_NODE;
    if (a.free >= need) return undefined;
    return [
        `lab: only ${a.free} inotify instances are free for root (fs.inotify.max_user_instances = ${a.limit}, counted machine-wide per user) and ${a.nodes} booted nodes need about ${need}: their systemd would fail with "Failed to create inotify object: Too many open files".`,
        a.strays
            ? `${a.strays} stray booted lab containers were stopped and it is still not enough.`
            : "No stray booted lab container is visible from here.",
        a.sandbox
            ? "This runs in scripts/lab-sandbox.sh, which cannot see the machine's processes: stray containers of a killed booted run on the host use them up. On the host, `npm run lab -- down` (from any checkout) stops them;"
            : "Other booted labs or programs hold them (find them with: ls -l /proc/*/fd | grep inotify);",
        `or raise the limit: sysctl -w fs.inotify.max_user_instances=${Math.max(512, a.limit * 2)}`,
    ].join(" ");
}

/** What the sweep knows of a process outside the root network namespace and outside the lab's listed namespaces. */
export interface StrayFacts {
    /** In our own pid namespace. */
    ownPidNs: boolean;
    /** In a pid namespace that is a direct child of ours (a node's: sshd or systemd is its PID 1). */
    childPidNs: boolean;
    /** Its pid namespace's init runs scripts/lab-sandbox.sh (a sandbox's own processes). */
    sandboxPidNs: boolean;
    /** Its command line or mounts name this checkout's .lab/ (or labnet). */
    refersToLab: boolean;
    /** Its network namespace holds a lab address. */
    labAddress: boolean;
}

/**
 * Is such a process a stray of the lab? A process of our pid namespace or of a node's (a direct child) that refers
 * to this checkout's .lab/ or lives in a network namespace with a lab address. Never one of a pid namespace nested
 * deeper (another lab copy's nodes) or a sandbox's own (unless we run inside that sandbox, where its processes are ours).
 */
export function isStrayProcess(f: StrayFacts, selfInSandbox: boolean): boolean {
    if (!f.ownPidNs && !f.childPidNs) return false;
    if (f.childPidNs && f.sandboxPidNs && !selfInSandbox) return false;
    return f.refersToLab || f.labAddress;
}

/** What to tell when a booted node's console shows that its systemd ran out of inotify instances. */
export function bootFailureHint(consoleText: string): string | undefined {
    if (!/Failed to (create|allocate) inotify[^\n]*Too many open files/.test(consoleText)) return undefined;
    return "lab: the node's systemd ran out of inotify instances (fs.inotify.max_user_instances, counted per user, machine-wide): stray booted containers of a killed run usually hold them. On the host, `npm run lab -- down` (from any checkout) stops them; or raise the limit: sysctl -w fs.inotify.max_user_instances=512";
}
