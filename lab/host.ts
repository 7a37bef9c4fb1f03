// What the lab keeps on this host outside the namespaces: its SSH key and known_hosts, the labnet binary, the
// sudo node's user account; and the teardown that removes all the lab made.
import * as fs from "fs";
import * as path from "path";
import { removeBootedNodes } from "./boot";
import { hostKeyOf } from "./node";
import { cleanupNetnsMount, deleteNamespaces, listLabNamespaces, removeLabLinks } from "./net";
import { killNetnsProcesses } from "./procs";
import { LabPlan, SUDO_USER } from "./shapes";
import {
    AUTHORIZED_KEYS,
    BIN_DIR,
    KNOWN_HOSTS,
    LAB_DIR,
    LABNET_BIN,
    LABNET_SRC,
    NODES_DIR,
    SSH_DIR,
    SSH_KEY,
    STATE_FILE,
    VANTAGES_DIR,
} from "./state";
import { run } from "./sys";

import type { Logger } from "./status";

export function ensureLabFiles(log: Logger): Promise<void> {
    return (async () => {
        fs.mkdirSync(LAB_DIR, { recursive: true });
        fs.chmodSync(LAB_DIR, 0o755);
        fs.mkdirSync(SSH_DIR, { recursive: true });
        fs.chmodSync(SSH_DIR, 0o755);
        if (!fs.existsSync(SSH_KEY) || !fs.existsSync(`${SSH_KEY}.pub`)) {
            for (const f of [SSH_KEY, `${SSH_KEY}.pub`]) fs.rmSync(f, { force: true });
            log("generating the lab SSH keypair (.lab/ssh/id_ed25519)");
            await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "pinhole-lab", "-f", SSH_KEY]);
        }
        fs.chmodSync(SSH_KEY, 0o600);
        fs.writeFileSync(AUTHORIZED_KEYS, fs.readFileSync(`${SSH_KEY}.pub`, "utf8"), { mode: 0o644 });
        fs.chmodSync(AUTHORIZED_KEYS, 0o644);
        fs.mkdirSync(BIN_DIR, { recursive: true });
        const stale = !fs.existsSync(LABNET_BIN) || fs.statSync(LABNET_BIN).mtimeMs < fs.statSync(LABNET_SRC).mtimeMs;
        if (stale) {
            log("building the port listener/prober (lab/native/labnet.c → .lab/bin/labnet)");
            const tmp = `${LABNET_BIN}.${process.pid}`;
            try {
                await run("cc", ["-O2", "-Wall", "-o", tmp, LABNET_SRC]);
            } catch (e) {
                throw new Error(
                    `building labnet failed (needs the Debian packages gcc and libc6-dev): ${(e as Error).message}`,
                );
            }
            fs.renameSync(tmp, LABNET_BIN);
        }
    })();
}

const USER_MARK = "pinhole lab";

async function userEntry(): Promise<string[] | undefined> {
    const r = await run("getent", ["passwd", SUDO_USER], { allowFail: true });
    return r.code === 0 ? r.stdout.trim().split(":") : undefined;
}

export async function ensureUser(log: Logger): Promise<{ uid: number; gid: number }> {
    let e = await userEntry();
    if (e && e[4] !== USER_MARK) {
        throw new Error(
            `a user "${SUDO_USER}" exists that the lab did not create (GECOS "${e[4]}"); the lab needs that name for its sudo node: remove the account or run the lab with --sudo-user none`,
        );
    }
    if (!e) {
        log(`creating the unprivileged user "${SUDO_USER}" (passwordless sudo only inside the sudo node's view)`);
        await run("useradd", [
            "-c",
            USER_MARK,
            "-d",
            `/home/${SUDO_USER}`,
            "-M",
            "-s",
            "/bin/bash",
            "-U",
            "-p",
            "*",
            SUDO_USER,
        ]);
        e = await userEntry();
        if (!e) throw new Error(`useradd ${SUDO_USER} did not create the account`);
    }
    return { uid: Number(e[2]), gid: Number(e[3]) };
}

export async function removeUser(log: Logger): Promise<void> {
    const e = await userEntry();
    if (!e || e[4] !== USER_MARK) return;
    log(`removing the user "${SUDO_USER}"`);
    await run("userdel", [SUDO_USER], { allowFail: true });
    if ((await run("getent", ["group", SUDO_USER], { allowFail: true })).code === 0)
        await run("groupdel", [SUDO_USER], { allowFail: true });
}

/** Removes every namespace, process, link and the user; keeps .lab/ssh and .lab/bin unless purge. */
export async function teardown(log: Logger, purge: boolean): Promise<void> {
    const booted = await removeBootedNodes(log);
    if (booted) log(`stopped ${booted} booted nodes and unmounted their overlays`);
    const namespaces = await listLabNamespaces();
    if (namespaces.length) log(`stopping ${namespaces.length} namespaces' processes`);
    await killNetnsProcesses(namespaces, true);
    if (namespaces.length) log(`deleting ${namespaces.length} namespaces`);
    await deleteNamespaces(namespaces);
    await removeLabLinks();
    await removeUser(log);
    cleanupNetnsMount();
    for (const p of [NODES_DIR, VANTAGES_DIR, STATE_FILE, KNOWN_HOSTS]) fs.rmSync(p, { recursive: true, force: true });
    if (purge) {
        for (const e of fs.existsSync(LAB_DIR) ? fs.readdirSync(LAB_DIR) : [])
            fs.rmSync(path.join(LAB_DIR, e), { recursive: true, force: true });
    }
}

export function writeKnownHosts(plan: LabPlan): void {
    const lines = plan.nodes.map((n) => `${n.sshHost} ${hostKeyOf(n)}`);
    fs.writeFileSync(KNOWN_HOSTS, lines.join("\n") + "\n");
}

export function elapsed(t0: number): string {
    return `${((Date.now() - t0) / 1000).toFixed(1)}s`;
}
