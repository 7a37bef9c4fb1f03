// `npm run lab -- <command>`: the local lab from the command line (see docs/lab.md).
import "../tools/common/help-gate";
import { formatTable, labDown, labStatus, labUp, probe, reboot, toJsonRows } from "./index";
import type { LabStatus } from "./index";
import { isLabModel, LAB_MODELS } from "./shapes";
import { LAB_USAGE as USAGE } from "../tools/common/usage";
import { runBench } from "./bench";

interface Args {
    cmd?: string;
    positional: string[];
    flags: Map<string, string | true>;
}

export function parseArgs(argv: string[]): Args {
    const out: Args = { positional: [], flags: new Map() };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a.startsWith("--")) {
            const [k, v] = a.slice(2).split("=", 2);
            if (v !== undefined) out.flags.set(k, v);
            else if (i + 1 < argv.length && !argv[i + 1].startsWith("--") && VALUE_FLAGS.has(k))
                out.flags.set(k, argv[++i]);
            else out.flags.set(k, true);
        } else if (!out.cmd) out.cmd = a;
        else out.positional.push(a);
    }
    return out;
}

const VALUE_FLAGS = new Set(["model", "nodes", "from", "to", "sudo-user", "sizes", "tcp-timeout", "udp-timeout"]);
const list = (v: string | true | undefined) =>
    typeof v === "string"
        ? v
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
        : undefined;

function num(v: string | true | undefined, flag: string): number | undefined {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v === true || !Number.isFinite(n) || n <= 0) throw new Error(`--${flag} needs a positive number`);
    return n;
}

function statusTable(s: LabStatus): string {
    if (!s.model) return "no lab is up (npm run lab -- up --model <model>)";
    const lines = [
        `lab ${s.model}${s.tier === "boot" ? " (booted tier)" : ""} (pinhole:model ${s.deployment}) ${s.up ? "is up" : "is NOT fully running"}; stack ${s.stack}${s.stackFile ? ` (${s.stackFile})` : ""}`,
        `provisioning host ${s.provisioner.address}; ssh key ${s.sshKey}; known_hosts ${s.knownHosts}`,
        "",
    ];
    const rows = [["NAME", "ROLE/VANTAGE", "SITE", "ADDRESS", "ADVERTISED", "NETNS", "SSH", "STATE", "PORTS/HOSTKEY"]];
    for (const n of s.nodes)
        rows.push([
            n.name,
            n.role,
            n.site,
            n.address,
            n.advertisedAddress ?? "-",
            n.netns,
            `${n.sshUser}${n.sudo ? "+sudo" : ""}@${n.sshHost}:${n.sshPort}`,
            n.running ? "running" : "DOWN",
            n.hostKey.slice(0, 40) + "…",
        ]);
    for (const v of s.vantages)
        rows.push([
            v.name,
            v.vantage,
            "-",
            v.address,
            "-",
            v.netns,
            "-",
            v.running ? "running" : "DOWN",
            v.ports.map((p) => `${p.port}/${p.protocol}`).join(",") || "-",
        ]);
    const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    lines.push(
        ...rows.map((r) =>
            r
                .map((c, i) => c.padEnd(w[i]))
                .join("  ")
                .trimEnd(),
        ),
    );
    if (s.router)
        lines.push(
            "",
            `router ${s.router.netns} ${s.router.address}: 1:1 NAT ${s.router.nat.map((n) => `${n.advertised}↔${n.internal}`).join(" ")}`,
        );
    return lines.join("\n");
}

/** --ipv6 / --ipv4-only → LabOptions.ipv6 (neither: the tier's default). */
export function ipv6Flag(flags: Map<string, string | true>): boolean | undefined {
    if (flags.has("ipv6") && flags.has("ipv4-only")) throw new Error("up: --ipv6 and --ipv4-only exclude each other");
    if (flags.has("ipv6-only") && flags.has("ipv4-only"))
        throw new Error("up: --ipv6-only and --ipv4-only exclude each other");
    return flags.has("ipv4-only") ? false : flags.has("ipv6") || undefined;
}

/** `up`: bare --sudo-user is true (the default nodes), "none" is false, else a list of nodes. */
async function upCommand(a: Args): Promise<number> {
    const model = a.flags.get("model");
    if (typeof model !== "string" || !isLabModel(model)) throw new Error(`up needs --model ${LAB_MODELS.join("|")}`);
    const su = a.flags.get("sudo-user");
    const sudoUser = su === undefined ? undefined : su === true ? true : su === "none" ? false : list(su);
    const s = await labUp({
        model,
        nodes: num(a.flags.get("nodes"), "nodes"),
        sudoUser,
        setSecret: !a.flags.has("no-secret"),
        writeStack: !a.flags.has("no-stack"),
        force: a.flags.has("force"),
        boot: a.flags.has("boot") || undefined,
        ipv6: ipv6Flag(a.flags),
        ipv6Only: a.flags.has("ipv6-only") || undefined,
        services: a.flags.has("services") || undefined,
    });
    process.stdout.write(statusTable(s) + "\n");
    return s.up ? 0 : 1;
}

/** `status`: the table, or JSON rows (nodes without their pids, then vantages). */
async function statusCommand(a: Args): Promise<number> {
    const s = await labStatus();
    if (a.flags.has("json")) {
        const rows = [...s.nodes.map(({ pids: _p, running, ...n }) => ({ ...n, running })), ...s.vantages];
        process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
    } else process.stdout.write(statusTable(s) + "\n");
    return 0;
}

/** `probe`: every pair's reachability, as a table (with the time it took) or JSON rows. */
async function probeCommand(a: Args): Promise<number> {
    const t0 = Date.now();
    const results = await probe({
        from: list(a.flags.get("from")),
        to: list(a.flags.get("to")),
        includeSelf: a.flags.has("self"),
        tcpTimeoutMs: num(a.flags.get("tcp-timeout"), "tcp-timeout"),
        udpTimeoutMs: num(a.flags.get("udp-timeout"), "udp-timeout"),
    });
    if (a.flags.has("json")) process.stdout.write(JSON.stringify(toJsonRows(results), null, 1) + "\n");
    else process.stdout.write(formatTable(results) + `\n(${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    return 0;
}

/** `reboot <node>`: the node name is the first positional argument. */
async function rebootCommand(a: Args): Promise<number> {
    const node = a.positional[0];
    if (!node) throw new Error("reboot needs a node name");
    const r = await reboot(node, {
        log: (m) => process.stderr.write(`[lab] ${m}\n`),
        force: a.flags.has("force"),
    });
    process.stdout.write(`${r.node} rebooted in ${r.ms} ms; firewall at boot: ${r.firewall}\n`);
    return 0;
}

/** `down`: --purge also forgets the lab keypair, host keys and build cache. */
async function downCommand(a: Args): Promise<number> {
    await labDown({ purge: a.flags.has("purge"), force: a.flags.has("force") });
    return 0;
}

/** `bench`: the unified model and sizes 6, 24, 48 unless given. */
async function benchCommand(a: Args): Promise<number> {
    const model = a.flags.get("model") ?? "unified";
    if (typeof model !== "string" || !isLabModel(model)) throw new Error(`--model ${LAB_MODELS.join("|")}`);
    const sizes = (list(a.flags.get("sizes")) ?? ["6", "24", "48"]).map((s) => num(s, "sizes")!);
    await runBench(model, sizes, a.flags.has("boot"));
    return 0;
}

/** Each command: the options it accepts (any other is an error) and what it runs. */
const COMMANDS: Record<string, { options: string[]; run: (a: Args) => Promise<number> }> = {
    up: {
        options: [
            "model",
            "nodes",
            "sudo-user",
            "no-secret",
            "no-stack",
            "force",
            "boot",
            "ipv6",
            "ipv4-only",
            "ipv6-only",
            "services",
        ],
        run: upCommand,
    },
    status: { options: ["json"], run: statusCommand },
    probe: { options: ["json", "from", "to", "self", "tcp-timeout", "udp-timeout"], run: probeCommand },
    reboot: { options: ["force"], run: rebootCommand },
    down: { options: ["purge", "force"], run: downCommand },
    bench: { options: ["model", "sizes", "boot"], run: benchCommand },
};

async function main(argv: string[]): Promise<number> {
    const a = parseArgs(argv);
    if (!a.cmd || a.flags.has("help") || a.cmd === "help") {
        process.stdout.write(USAGE);
        return a.cmd ? 0 : 2;
    }
    // own keys only: "constructor" or "toString" are unknown commands too, not Object's methods
    const command = Object.hasOwn(COMMANDS, a.cmd) ? COMMANDS[a.cmd] : undefined;
    if (!command) throw new Error(`unknown command "${a.cmd}"\n\n${USAGE}`);
    const bad = [...a.flags.keys()].filter((k) => !command.options.includes(k));
    if (bad.length) throw new Error(`${a.cmd}: unknown option ${bad.map((b) => `--${b}`).join(", ")}\n\n${USAGE}`);
    return command.run(a);
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (e: Error) => {
            process.stderr.write(`lab: ${e.message}\n`);
            process.exit(1);
        },
    );
}
