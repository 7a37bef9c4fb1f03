// npm run bench: the comparison with what a user would pick instead — an Ansible play doing the same job
// (bench/ansible/firewall.yml: template pinhole's rendered ruleset, `nft -c`, `nft -f` when changed; forks =
// nodes, no facts, pipelining) — and the process memory of the engine, the program and the provider.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { fastKexOptions } from "../../remote/ssh-args";

export interface AnsibleHost {
    name: string;
    host: string;
    port: number;
    user: string;
    hostKey: string;
    sudo: boolean;
    /** The nft transaction to load (render/nftables replaceTableTransaction of the node's ruleset). */
    transaction: string;
}

/** Inventory (YAML) and known_hosts for the play: each host pinned by its own alias, like pinhole does. */
export function ansibleInventory(
    hosts: AnsibleHost[],
    keyFile: string,
    knownHostsFile: string,
): { inventory: string; knownHosts: string } {
    const entries = Object.fromEntries(
        hosts.map((h) => [
            h.name,
            {
                ansible_host: h.host,
                ansible_port: h.port,
                ansible_user: h.user,
                ansible_ssh_extra_args: `-o HostKeyAlias=${h.name}`,
                ...(h.sudo && h.user !== "root" ? { ansible_become: true } : {}),
                pinhole_transaction: h.transaction,
            },
        ]),
    );
    const inventory = yaml.dump(
        {
            all: {
                vars: {
                    ansible_ssh_private_key_file: keyFile,
                    // The key exchange pinhole's firewall sessions use (remote/ssh-args.ts): the same handshake cost.
                    ansible_ssh_common_args: [
                        `-o UserKnownHostsFile=${knownHostsFile} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`,
                        ...fastKexOptions(),
                    ].join(" "),
                },
                hosts: entries,
            },
        },
        { lineWidth: -1 },
    );
    const knownHosts =
        hosts.map((h) => `${h.name} ${h.hostKey.trim().split(/\s+/).slice(0, 2).join(" ")}`).join("\n") + "\n";
    return { inventory, knownHosts };
}

/** `ok=2 changed=1 unreachable=0 failed=0` per host from PLAY RECAP → hosts with changes, and failures. */
export function parseRecap(stdout: string): { changed: string[]; failed: string[] } {
    const changed: string[] = [];
    const failed: string[] = [];
    for (const m of stdout.matchAll(/^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
        if (Number(m[2]) > 0) changed.push(m[1]);
        if (Number(m[3]) + Number(m[4]) > 0) failed.push(m[1]);
    }
    return { changed: changed.sort(), failed: failed.sort() };
}

/** ansible-playbook, from Debian's ansible-core package: installed here when missing (root). */
export function ensureAnsible(log: (m: string) => void): string {
    const found = spawnSync("sh", ["-c", "command -v ansible-playbook"], { encoding: "utf8" }).stdout.trim();
    if (found) return found;
    if (process.getuid?.() !== 0)
        throw new Error(
            "ansible-playbook is missing: apt-get install ansible-core (the benchmark installs it when run as root)",
        );
    log("installing Debian's ansible-core (apt-get) for the comparison ...");
    const r = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "ansible-core"], {
        encoding: "utf8",
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (r.status !== 0) {
        spawnSync("apt-get", ["update", "-qq"], { encoding: "utf8" });
        const again = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "ansible-core"], {
            encoding: "utf8",
            env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        });
        if (again.status !== 0)
            throw new Error(
                `apt-get install ansible-core failed: ${(again.stderr || again.stdout).trim().split("\n").slice(-3).join(" | ")}`,
            );
    }
    return spawnSync("sh", ["-c", "command -v ansible-playbook"], { encoding: "utf8" }).stdout.trim();
}

export interface AnsibleRun {
    ms: number;
    changed: string[];
}

/** Runs the play once (check: --check --diff, Ansible's preview) with forks = hosts; throws on any failure. */
export async function runPlay(
    root: string,
    dir: string,
    hosts: AnsibleHost[],
    keyFile: string,
    opts: { check?: boolean } = {},
): Promise<AnsibleRun> {
    fs.mkdirSync(dir, { recursive: true });
    const kh = path.join(dir, "known_hosts");
    const inv = path.join(dir, "inventory.yml");
    const { inventory, knownHosts } = ansibleInventory(hosts, keyFile, kh);
    fs.writeFileSync(kh, knownHosts);
    fs.writeFileSync(inv, inventory, { mode: 0o600 });
    const play = path.join(root, "bench", "ansible", "firewall.yml");
    const args = ["-i", inv, "-f", String(hosts.length), play, ...(opts.check ? ["--check", "--diff"] : [])];
    const t = Date.now();
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
        const p = spawn("ansible-playbook", args, {
            env: {
                ...process.env,
                ANSIBLE_CONFIG: path.join(root, "bench", "ansible", "ansible.cfg"),
                ANSIBLE_NOCOLOR: "1",
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        p.stderr.on("data", (d) => (out += d));
        p.on("close", (code) => resolve({ code: code ?? 1, out }));
    });
    const ms = Date.now() - t;
    const recap = parseRecap(r.out);
    if (r.code !== 0 || recap.failed.length)
        throw new Error(
            `ansible-playbook failed (exit ${r.code}; ${recap.failed.join(", ")}):\n${r.out
                .split("\n")
                .filter((l) => /fatal|FAILED|ERROR/.test(l))
                .slice(0, 6)
                .join("\n")}`,
        );
    return { ms, changed: recap.changed };
}

// ------------------------------------------------------------------------------------------ memory

export interface PeakMemory {
    engineMiB: number;
    languageHostMiB: number;
    programMiB: number;
    providerMiB: number;
}

/** Which of pulumi's processes a command line is (undefined: none of them). */
export function processKind(cmdline: string): keyof PeakMemory | undefined {
    const argv = cmdline.split("\0").filter(Boolean);
    const exe = path.basename(argv[0] ?? "");
    if (exe === "pulumi") return "engineMiB";
    if (exe === "pulumi-language-nodejs") return "languageHostMiB";
    if (/node$/.test(exe) && argv.some((a) => /@pulumi[/\\]pulumi[/\\]cmd[/\\]run/.test(a))) return "programMiB";
    if (/node$/.test(exe) && argv.some((a) => /dist[/\\]provider[/\\]main\.js$/.test(a))) return "providerMiB";
    return undefined;
}

/**
 * Samples the peak resident memory (VmHWM) of the engine, language host, program and provider processes
 * under this process, every `everyMs`, while `fn` runs.
 */
export async function peakMemory<T>(fn: () => Promise<T>, everyMs = 200): Promise<{ value: T; peak: PeakMemory }> {
    const peak: PeakMemory = { engineMiB: 0, languageHostMiB: 0, programMiB: 0, providerMiB: 0 };
    const sample = () => {
        const parents = new Map<number, number>();
        const kinds = new Map<number, { kind: keyof PeakMemory; hwmKiB: number }>();
        for (const d of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(d)) continue;
            try {
                const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
                parents.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
                const kind = processKind(fs.readFileSync(`/proc/${d}/cmdline`, "utf8"));
                if (!kind) continue;
                const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d}/status`, "utf8"))?.[1];
                if (hwm) kinds.set(Number(d), { kind, hwmKiB: Number(hwm) });
            } catch {
                /* gone */
            }
        }
        const mine = (pid: number) => {
            for (let p = pid, i = 0; p > 1 && i < 50; p = parents.get(p) ?? 0, i++) if (p === process.pid) return true;
            return false;
        };
        for (const [pid, k] of kinds) if (mine(pid)) peak[k.kind] = Math.max(peak[k.kind], Math.round(k.hwmKiB / 1024));
    };
    const timer = setInterval(sample, everyMs);
    try {
        const value = await fn();
        return { value, peak };
    } finally {
        clearInterval(timer);
    }
}
