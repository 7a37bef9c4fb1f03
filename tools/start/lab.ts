// The lab is one thing per machine (namespaces phlab-*). Its session lease is machine-wide now
// (/run/pinhole-lab, lab/state.ts), but checkouts of pinhole from before that keep theirs in <checkout>/.lab/:
// npm start, the benchmark and the verify test also wait for live lab holders there before touching the lab.
import * as fs from "fs";
import * as path from "path";
import { PROJECT_ROOT } from "../common/pulumi-env";

export interface ForeignHolder {
    root: string;
    pid: number;
    what: string;
    file: string;
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** Checkout roots (other than this one) that running processes use a lab from. */
export function otherLabRoots(self = PROJECT_ROOT): string[] {
    const roots = new Set<string>();
    let pids: string[] = [];
    try {
        pids = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d));
    } catch {
        return [];
    }
    for (const pid of pids) {
        let cmd = "";
        try {
            cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
        } catch {
            continue;
        }
        for (const m of cmd.matchAll(/(\/[^\s'"]+?)\/\.lab\//g)) roots.add(m[1]);
        if (/mocha|lab\/cli\.ts|scripts\/(start|bench)\.ts/.test(cmd)) {
            try {
                roots.add(fs.readlinkSync(`/proc/${pid}/cwd`));
            } catch {
                /* gone */
            }
        }
    }
    const me = path.resolve(self);
    return [...roots].map((r) => path.resolve(r)).filter((r) => r !== me && fs.existsSync(path.join(r, ".lab")));
}

/** Live lease or lock holders of the lab in other checkouts (older checkouts keep them in <checkout>/.lab/). */
export function foreignLabHolders(self = PROJECT_ROOT): ForeignHolder[] {
    const out: ForeignHolder[] = [];
    for (const root of otherLabRoots(self)) {
        const lease = path.join(root, ".lab", "lease");
        try {
            const l = JSON.parse(fs.readFileSync(lease, "utf8")) as { pid: number; what: string };
            if (l.pid !== process.pid && alive(l.pid)) out.push({ root, pid: l.pid, what: l.what, file: lease });
        } catch {
            /* none */
        }
        const lock = path.join(root, ".lab", "lock");
        try {
            const [pid, ...what] = fs.readFileSync(lock, "utf8").trim().split(" ");
            if (Number(pid) !== process.pid && alive(Number(pid)))
                out.push({ root, pid: Number(pid), what: what.join(" "), file: lock });
        } catch {
            /* none */
        }
    }
    return out;
}

/** Waits until no other checkout holds the lab (or throws after waitMs). */
export async function waitForForeignLabHolders(log: (m: string) => void, waitMs = 30 * 60_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    let told = "";
    let quiet = 0;
    for (;;) {
        const h = foreignLabHolders();
        // Two quiet looks in a row: a test between two lab sessions has no lease for a moment.
        if (h.length === 0 && ++quiet >= 2) return;
        if (h.length === 0) {
            await new Promise((r) => setTimeout(r, 1500));
            continue;
        }
        quiet = 0;
        const pids = [...new Set(h.map((x) => x.pid))].sort().join(",");
        const who = [...new Map(h.map((x) => [x.pid, `pid ${x.pid} (${x.what}) in ${x.root}`])).values()].join(", ");
        if (Date.now() > deadline) throw new Error(`the lab is still in use by ${who}; try again later`);
        if (pids !== told) {
            log(`the lab is in use by another checkout: ${who}; waiting until it is done ...`);
            told = pids;
        }
        await new Promise((r) => setTimeout(r, 2000));
    }
}
