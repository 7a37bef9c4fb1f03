// The booted tier's root file system: a Debian tree that mmdebstrap builds from Debian's packages, cached
// under ~/.cache/pinhole/boot-images/<key>, where the key hashes the package list, the candidate version of
// each listed package and the build recipe (a new package version or a recipe change builds a new image;
// a second start reuses it in no time). Every node runs on a copy-on-write overlay of it (lab/boot.ts).
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { run } from "./sys";

/** Packages of every booted node (the firewall managers are installed but off unless a node enables one). */
export const BOOT_PACKAGES: readonly string[] = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "nginx-light",
    "nftables",
    "sudo",
    "iproute2",
    "procps",
    "iptables",
    "ufw",
    "firewalld",
];

export const BOOT_SUITE = "bookworm";
/** Bump when the customize steps below change (part of the cache key). */
const RECIPE_VERSION = 1;

/** Units the packages enable that a lab node must not start on its own (a node enables what it needs). */
export const UNITS_OFF_BY_DEFAULT: readonly string[] = ["firewalld.service", "ufw.service", "nftables.service"];

/**
 * Steps run in the new tree (as mmdebstrap customize hooks; "$1" is the tree): no image-wide host keys,
 * every firewall manager off, no getty on a console nobody reads, no remount of a root the lab mounted.
 */
export function customizeHooks(): string[] {
    return [
        'rm -f "$1"/etc/ssh/ssh_host_*',
        `chroot "$1" systemctl disable ${UNITS_OFF_BY_DEFAULT.join(" ")} >/dev/null 2>&1 || true`,
        // systemd-remount-fs: the lab mounts each node's root (an overlay) before nspawn starts; there is no fstab to
        // apply, and its remount of / failed at random under load (app-2 "degraded" at 07:05, the others running).
        'chroot "$1" systemctl mask console-getty.service getty@tty1.service systemd-networkd-wait-online.service systemd-remount-fs.service >/dev/null 2>&1 || true',
        'mkdir -p "$1"/opt/pinhole-lab/bin "$1"/etc/ssh/pinhole-lab',
        'touch "$1"/etc/ssh/pinhole_lab_authorized_keys',
        'echo "pinhole lab booted node" > "$1"/etc/pinhole-lab-image',
    ];
}

export function imageCacheDir(): string {
    const base =
        process.env.PINHOLE_CACHE_DIR ??
        path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "pinhole");
    return path.join(base, "boot-images");
}

/** The cache key: package list + candidate versions (from this machine's apt lists) + recipe. */
export function imageKey(versions: Record<string, string>): string {
    const h = crypto.createHash("sha256");
    h.update(
        JSON.stringify({
            suite: BOOT_SUITE,
            recipe: RECIPE_VERSION,
            hooks: customizeHooks(),
            packages: BOOT_PACKAGES.map((p) => [p, versions[p] ?? "?"]),
        }),
    );
    return `${BOOT_SUITE}-${h.digest("hex").slice(0, 16)}`;
}

/** Parses `apt-cache policy` output into package → candidate version. */
export function parseCandidates(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    let pkg = "";
    for (const line of text.split("\n")) {
        const m = /^(\S+):$/.exec(line);
        if (m) {
            pkg = m[1];
            continue;
        }
        const c = /^\s+Candidate:\s+(\S+)/.exec(line);
        if (c && pkg) out[pkg] = c[1];
    }
    return out;
}

async function candidateVersions(): Promise<Record<string, string>> {
    const r = await run("apt-cache", ["policy", ...BOOT_PACKAGES], { allowFail: true });
    const v = parseCandidates(r.stdout);
    const missing = BOOT_PACKAGES.filter((p) => !v[p] || v[p] === "(none)");
    if (missing.length)
        throw new Error(
            `the booted tier needs Debian packages this machine's apt cannot find: ${missing.join(", ")} (run apt-get update)`,
        );
    return v;
}

export interface BootImage {
    key: string;
    rootfs: string;
    built: boolean;
    ms: number;
}

/** Returns the cached image for the current package versions, building it first when there is none. */
export async function ensureBootImage(log: (m: string) => void): Promise<BootImage> {
    const t0 = Date.now();
    const key = imageKey(await candidateVersions());
    const dir = path.join(imageCacheDir(), key);
    const rootfs = path.join(dir, "rootfs");
    if (fs.existsSync(path.join(dir, "complete"))) return { key, rootfs, built: false, ms: Date.now() - t0 };
    fs.mkdirSync(imageCacheDir(), { recursive: true });
    const lock = path.join(imageCacheDir(), `${key}.lock`);
    await takeBuildLock(lock, log);
    try {
        if (fs.existsSync(path.join(dir, "complete"))) return { key, rootfs, built: false, ms: Date.now() - t0 };
        const tmp = path.join(imageCacheDir(), `${key}.building`);
        fs.rmSync(tmp, { recursive: true, force: true });
        fs.rmSync(dir, { recursive: true, force: true });
        log(
            `building the booted-node image ${key} with mmdebstrap (${BOOT_PACKAGES.length} packages and their dependencies; once per package versions, a few minutes)`,
        );
        const sources = fs.existsSync("/etc/apt/sources.list.d/debian.sources")
            ? "/etc/apt/sources.list.d/debian.sources"
            : "/etc/apt/sources.list";
        const args = [
            "--quiet",
            "--variant=apt",
            "--mode=root",
            "--format=directory",
            `--include=${BOOT_PACKAGES.join(",")}`,
            ...customizeHooks().map((h) => `--customize-hook=${h}`),
            BOOT_SUITE,
            tmp,
            sources,
        ];
        const r = await run("mmdebstrap", args, { allowFail: true, input: "" });
        if (r.code !== 0) {
            fs.rmSync(tmp, { recursive: true, force: true });
            throw new Error(
                `mmdebstrap failed (exit ${r.code}) building the booted-node image:\n${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}`,
            );
        }
        const manifest = await run("chroot", [tmp, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n"], {
            allowFail: true,
        });
        fs.mkdirSync(dir, { recursive: true });
        fs.renameSync(tmp, rootfs);
        fs.writeFileSync(path.join(dir, "packages.txt"), manifest.stdout);
        fs.writeFileSync(
            path.join(dir, "complete"),
            `${new Date().toISOString()} ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
        );
        log(`built the booted-node image in ${((Date.now() - t0) / 1000).toFixed(1)} s (${rootfs})`);
        return { key, rootfs, built: true, ms: Date.now() - t0 };
    } finally {
        fs.rmSync(lock, { force: true });
    }
}

async function takeBuildLock(lock: string, log: (m: string) => void): Promise<void> {
    let told = false;
    for (;;) {
        try {
            fs.writeFileSync(lock, `${process.pid}\n`, { flag: "wx" });
            return;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const holder = Number(fs.readFileSync(lock, "utf8").trim());
        let alive = false;
        try {
            process.kill(holder, 0);
            alive = true;
        } catch {
            /* dead */
        }
        if (!alive) {
            fs.rmSync(lock, { force: true });
            continue;
        }
        if (!told) {
            log(`waiting for pid ${holder}, which builds the same image`);
            told = true;
        }
        await new Promise((r) => setTimeout(r, 1000));
    }
}
