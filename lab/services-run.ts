// Starts the real service of an external host (lab/services.ts says which and how), inside the host's network
// namespace only. Its files live in .lab/vantages/<host>/service/ (rewritten at every start); `down` ends it
// with every other process of the lab's namespaces.
import * as fs from "fs";
import * as path from "path";
import type { LabVantage } from "./shapes";
import {
    backupSshdConfig,
    BACKUP_USER,
    chronyConf,
    chronydArgs,
    ldapEntries,
    notifyNginxConf,
    RealService,
    serviceOf,
    SERVICE_PROGRAMS,
    slapdArgs,
    slapdConf,
    snmptrapdArgs,
    snmptrapdConf,
} from "./services";
import { AUTHORIZED_KEYS, vantageDir } from "./state";
import { checkPrerequisites, labSelfSigned, listeningPorts, run, sleep, spawnDetached } from "./sys";

/** Where a host's service keeps its files. */
export const serviceDir = (v: { name: string }) => path.join(vantageDir(v.name), "service");

async function labCertificate(v: LabVantage, dir: string): Promise<void> {
    const crt = path.join(dir, "tls.crt");
    const key = path.join(dir, "tls.key");
    if (fs.existsSync(crt) && fs.existsSync(key)) return;
    const san = [`DNS:${v.name}.lab.pinhole.test`, `IP:${v.address}`, ...(v.address6 ? [`IP:${v.address6}`] : [])];
    await labSelfSigned(key, crt, `${v.name}.lab.pinhole.test`, san);
}

/** Writes the service's files and returns the command that runs it (in the foreground) inside the namespace. */
async function prepare(s: RealService, v: LabVantage, dir: string): Promise<string[]> {
    const write = (f: string, text: string, mode = 0o644) => fs.writeFileSync(path.join(dir, f), text, { mode });
    switch (s.daemon) {
        case "chronyd":
            write("chrony.conf", chronyConf(v, dir));
            return ["chronyd", ...chronydArgs(path.join(dir, "chrony.conf"))];
        case "slapd": {
            await labCertificate(v, dir);
            write("slapd.conf", slapdConf(dir));
            write("entries.ldif", ldapEntries());
            fs.rmSync(path.join(dir, "db"), { recursive: true, force: true });
            fs.mkdirSync(path.join(dir, "db"), { mode: 0o700 });
            await run("slapadd", ["-q", "-f", path.join(dir, "slapd.conf"), "-l", path.join(dir, "entries.ldif")]);
            return ["/usr/sbin/slapd", ...slapdArgs(dir, v)];
        }
        case "sshd":
            return prepareBackupSshd(v, dir, write);
        case "snmptrapd":
            write("snmptrapd.conf", snmptrapdConf());
            fs.mkdirSync(path.join(dir, "persist"), { recursive: true });
            fs.writeFileSync(path.join(dir, "traps.log"), "");
            return ["env", `SNMP_PERSISTENT_DIR=${dir}/persist`, "snmptrapd", ...snmptrapdArgs(v, dir)];
        case "nginx":
            await labCertificate(v, dir);
            for (const t of ["body", "proxy", "fastcgi", "uwsgi", "scgi"])
                fs.mkdirSync(path.join(dir, "tmp", t), { recursive: true });
            write("nginx.conf", notifyNginxConf(v, dir));
            fs.writeFileSync(path.join(dir, "notifications.log"), "");
            return ["nginx", "-e", path.join(dir, "error.log"), "-c", path.join(dir, "nginx.conf")];
    }
}

/** The backup host's sshd: host key, config, known_hosts, and its own /srv with the backup user's directory. */
async function prepareBackupSshd(
    v: LabVantage,
    dir: string,
    write: (f: string, text: string, mode?: number) => void,
): Promise<string[]> {
    const hostKey = path.join(dir, "ssh_host_ed25519_key");
    if (!fs.existsSync(hostKey))
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "pinhole-lab-backup", "-f", hostKey]);
    write("sshd_config", backupSshdConfig(v, dir));
    // for clients that pin the host key (ssh -o UserKnownHostsFile=service/known_hosts)
    const pub = fs.readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    write("known_hosts", [v.address, ...(v.address6 ? [v.address6] : [])].map((a) => `${a} ${pub}\n`).join(""));
    // its /srv: root-owned, the lab's key readable, backups/ writable by the backup user only
    const srv = path.join(dir, "srv");
    fs.mkdirSync(path.join(srv, "backups"), { recursive: true });
    fs.chmodSync(srv, 0o755);
    fs.copyFileSync(AUTHORIZED_KEYS, path.join(srv, "authorized_keys"));
    fs.chmodSync(path.join(srv, "authorized_keys"), 0o644);
    const id = (await run("id", ["-u", BACKUP_USER], { allowFail: true })).stdout.trim();
    if (!/^\d+$/.test(id))
        throw new Error(`lab services: the backup host needs the system user "${BACKUP_USER}" (Debian's base-passwd)`);
    const gid = Number((await run("id", ["-g", BACKUP_USER])).stdout.trim());
    fs.chownSync(path.join(srv, "backups"), Number(id), gid);
    fs.chmodSync(path.join(srv, "backups"), 0o755);
    // a private mount namespace: its /srv is ours, /run a tmpfs (sshd's privilege-separation directory)
    const script = [
        "set -eu",
        `mount --bind ${srv} /srv`,
        "mount -t tmpfs -o mode=755 tmpfs /run",
        "mkdir -p /run/sshd",
        `exec /usr/sbin/sshd -D -e -f ${dir}/sshd_config`,
    ].join("\n");
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script];
}

/**
 * Starts the host's real service (none for hosts without one) and waits until it listens on its ports.
 * Call before labnet starts (labnet leaves those ports to it).
 */
export async function startService(v: LabVantage, timeoutMs = 15_000): Promise<void> {
    const s = serviceOf(v.vantage);
    if (!s) return;
    checkPrerequisites(SERVICE_PROGRAMS);
    const dir = serviceDir(v);
    fs.mkdirSync(dir, { recursive: true });
    const argv = await prepare(s, v, dir);
    const log = path.join(dir, `${s.daemon}.log`);
    fs.writeFileSync(log, "");
    const pid = spawnDetached("ip", ["netns", "exec", v.netns, ...argv], log);
    const deadline = Date.now() + timeoutMs;
    const want = s.ports.map((p) => `${p.port}/${p.protocol}`);
    for (;;) {
        const listening = listeningPorts(pid);
        if (want.every((p) => listening.has(p))) return;
        if (!fs.existsSync(`/proc/${pid}`) || Date.now() > deadline) {
            const tail = fs.readFileSync(log, "utf8").trimEnd().split("\n").slice(-8).join("\n");
            throw new Error(
                `lab services: ${s.daemon} on ${v.name} did not come up on ${want.join(", ")} (${path.relative(process.cwd(), log)}):\n${tail}`,
            );
        }
        await sleep(50);
    }
}
