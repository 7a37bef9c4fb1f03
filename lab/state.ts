// Where the lab keeps its runtime files (.lab/, git-ignored) and its state record.
import * as fs from "fs";
import * as path from "path";
import { LabPlan } from "./shapes";

export const PROJECT_ROOT = path.resolve(__dirname, "..");
export const LAB_DIR = path.join(PROJECT_ROOT, ".lab");
export const SSH_DIR = path.join(LAB_DIR, "ssh");
export const SSH_KEY = path.join(SSH_DIR, "id_ed25519");
export const AUTHORIZED_KEYS = path.join(SSH_DIR, "authorized_keys");
export const KNOWN_HOSTS = path.join(SSH_DIR, "known_hosts");
/** Host keys by lab address (kept across down; removed by down --purge). */
export const HOST_KEYS_DIR = path.join(SSH_DIR, "hostkeys");
export const BIN_DIR = path.join(LAB_DIR, "bin");
export const LABNET_BIN = path.join(BIN_DIR, "labnet");
export const LABNET_SRC = path.join(PROJECT_ROOT, "lab", "native", "labnet.c");
export const NODES_DIR = path.join(LAB_DIR, "nodes");
export const VANTAGES_DIR = path.join(LAB_DIR, "vantages");
export const STATE_FILE = path.join(LAB_DIR, "state.json");
/**
 * Lab namespaces, links and the user account are machine-wide, so the lock and the lease are too (not per
 * checkout): two checkouts' test runs must not tear down each other's lab.
 */
export const COORD_DIR = "/run/pinhole-lab";
export const LOCK_FILE = path.join(COORD_DIR, "lock");
export const STACKS_DIR = path.join(PROJECT_ROOT, "stacks");

export const nodeDir = (name: string) => path.join(NODES_DIR, name);
export const vantageDir = (name: string) => path.join(VANTAGES_DIR, name);

export interface LabState {
    version: 1;
    plan: LabPlan;
    /** The options `up` was given (for messages). */
    createdAt: string;
    /** "up" finished: every node booted and the stack file written. */
    complete: boolean;
    stackFile?: string;
    /** Stack the lab's config was written for (default lab-<model>). */
    stack?: string;
    /** "boot": nodes are systemd-nspawn containers booting systemd (lab/boot.ts); absent: the process tier. */
    tier?: "boot";
}

export function readState(): LabState | undefined {
    try {
        const s = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as LabState;
        return s.version === 1 && s.plan ? s : undefined;
    } catch {
        return undefined;
    }
}

export function writeState(s: LabState): void {
    fs.mkdirSync(LAB_DIR, { recursive: true });
    const tmp = `${STATE_FILE}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + "\n");
    fs.renameSync(tmp, STATE_FILE);
}

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * Serializes lab operations (up, down, reboot) between processes: several people and test runs share this
 * checkout. A lock whose holder is dead is taken over.
 */
export async function withLabLock<T>(what: string, fn: () => Promise<T>, waitMs = 10 * 60_000): Promise<T> {
    fs.mkdirSync(COORD_DIR, { recursive: true, mode: 0o755 });
    const deadline = Date.now() + waitMs;
    let told = false;
    for (;;) {
        try {
            fs.writeFileSync(LOCK_FILE, `${process.pid} ${what}\n`, { flag: "wx" });
            break;
        } catch (e) {
            // the directory goes away when the last holder is done: make it again
            if ((e as NodeJS.ErrnoException).code === "ENOENT") {
                fs.mkdirSync(COORD_DIR, { recursive: true, mode: 0o755 });
                continue;
            }
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
            let holder = 0;
            let holderWhat = "";
            try {
                [holder, holderWhat] = ((s) => [parseInt(s[0], 10), s.slice(1).join(" ")] as [number, string])(
                    fs.readFileSync(LOCK_FILE, "utf8").trim().split(" "),
                );
            } catch {
                /* vanished */
            }
            if (holder === process.pid)
                throw new Error(`lab: ${what} called while this process already runs ${holderWhat} (nested lab call)`);
            if (!holder || !pidAlive(holder)) {
                try {
                    fs.unlinkSync(LOCK_FILE);
                } catch {
                    /* raced */
                }
                continue;
            }
            if (Date.now() > deadline)
                throw new Error(`lab: another lab operation (pid ${holder}: ${holderWhat}) holds ${LOCK_FILE}`);
            if (!told) {
                process.stderr.write(`[lab] waiting for pid ${holder} (${holderWhat}) to finish ...\n`);
                told = true;
            }
            await new Promise((r) => setTimeout(r, 250));
        }
    }
    try {
        return await fn();
    } finally {
        try {
            fs.unlinkSync(LOCK_FILE);
        } catch {
            /* already gone */
        }
        try {
            fs.rmdirSync(COORD_DIR);
        } catch {
            /* a lease is held, or another process waits */
        }
    }
}

export const LEASE_FILE = path.join(COORD_DIR, "lease");

interface Lease {
    pid: number;
    what: string;
    since: string;
    dir?: string;
}

function readLease(): Lease | undefined {
    try {
        return JSON.parse(fs.readFileSync(LEASE_FILE, "utf8")) as Lease;
    } catch {
        return undefined;
    }
}

/** The live process (other than this one) that holds the lab, if any. */
export function leaseHolder(): Lease | undefined {
    const l = readLease();
    return l && l.pid !== process.pid && pidAlive(l.pid) ? l : undefined;
}

/**
 * Runs a lab operation that changes the lab, as its session holder. A process that brought the lab up
 * holds it (the lease in .lab/lease) until it calls labDown or exits: another process's up/down/reboot waits
 * meanwhile, so two test runs in one checkout don't replace each other's lab mid-test. The CLI's `up`
 * exits right away, so it blocks nobody. `force` takes the lab from a live holder.
 */
export async function withLabSession<T>(
    what: string,
    fn: () => Promise<T>,
    opts: { keep: boolean; force?: boolean; waitMs?: number },
): Promise<T> {
    const deadline = Date.now() + (opts.waitMs ?? 30 * 60_000);
    let told = false;
    for (;;) {
        const busy = await withLabLock(what, async () => {
            const holder = opts.force ? undefined : leaseHolder();
            if (holder) return holder;
            const lease: Lease = { pid: process.pid, what, since: new Date().toISOString(), dir: LAB_DIR };
            fs.writeFileSync(LEASE_FILE, JSON.stringify(lease) + "\n");
            return undefined;
        });
        if (!busy) break;
        const who = `pid ${busy.pid} (${busy.what}, since ${busy.since}${busy.dir && busy.dir !== LAB_DIR ? `, checkout ${path.dirname(busy.dir)}` : ""})`;
        if (Date.now() > deadline) throw new Error(`lab: ${who} still holds the lab; try again later or use --force`);
        if (!told) {
            process.stderr.write(`[lab] the lab is in use by ${who}: waiting until it calls down or exits ...\n`);
            told = true;
        }
        await new Promise((r) => setTimeout(r, 1000));
    }
    return withLabLock(what, async () => {
        try {
            return await fn();
        } finally {
            if (!opts.keep && readLease()?.pid === process.pid) fs.rmSync(LEASE_FILE, { force: true });
        }
    });
}
