// npm start: the pure parts (arguments, progress lines from engine events, the final summary).
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { countFindings, reportOk, VerifyReport } from "../verify/report";
import { START_MODELS, START_USAGE, StartModel } from "../common/usage";
import { boolFlag, choiceFlag, FlagSpec, intFlag, parseCommand, stringFlag, UsageError } from "../common/args";

export { START_MODELS, START_USAGE, StartModel };

export interface StartArgs {
    model: StartModel;
    verbose: boolean;
    parallel?: number;
    probes: boolean;
    backend?: string;
}

/** State backends the CLI serves (`pulumi login`): a URL with one of these schemes. */
export const BACKEND_SCHEMES = ["file", "s3", "azblob", "gs", "https", "http"];

const START_FLAGS: FlagSpec = {
    model: { type: "string" },
    verbose: { type: "boolean", short: "v" },
    "no-probes": { type: "boolean" },
    backend: { type: "string" },
    parallel: { type: "string" },
};

export function parseStartArgs(argv: string[]): StartArgs | string {
    return parseCommand(argv, START_FLAGS, START_USAGE, (v) => {
        const a: StartArgs = {
            model: choiceFlag(v, "model", START_MODELS) ?? "modular",
            verbose: boolFlag(v, "verbose"),
            probes: !boolFlag(v, "no-probes"),
        };
        const backend = stringFlag(v, "backend");
        if (backend !== undefined) {
            const scheme = /^([a-z0-9]+):\/\/./.exec(backend)?.[1];
            if (!scheme || !BACKEND_SCHEMES.includes(scheme))
                throw new UsageError(
                    `--backend needs a backend URL (${BACKEND_SCHEMES.map((s) => `${s}://...`).join(", ")}); got "${backend}"`,
                );
            a.backend = backend;
        }
        const parallel = intFlag(v, "parallel", 1, 100_000, "a positive integer");
        if (parallel !== undefined) a.parallel = parallel;
        return a;
    });
}

export function duration(ms: number): string {
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(1)} s`;
    return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** One line per resource step from the engine's event stream (components and no-op steps are counted, not printed). */
export class Progress {
    private started = new Map<string, number>();
    done = 0;
    same = 0;
    refreshed = 0;
    failed = 0;
    constructor(
        private readonly t0: number,
        private readonly write: (line: string) => void,
        private readonly now: () => number = Date.now,
    ) {}

    private stamp(): string {
        return `[${((this.now() - this.t0) / 1000).toFixed(1).padStart(6)} s]`;
    }

    private static label(urn: string, type: string): string {
        return `${type.replace(/^pinhole:/, "")} ${urn.split("::").pop()}`;
    }

    on(e: EngineEvent): void {
        if (e.resourcePreEvent) {
            const m = e.resourcePreEvent.metadata;
            if (m.op === "same") {
                this.same++;
                return;
            }
            if (m.op === "refresh") {
                this.refreshed++;
                return;
            }
            if (m.type.startsWith("pulumi:") || (!m.new?.custom && !m.old?.custom)) return;
            this.started.set(m.urn, this.now());
            this.write(`${this.stamp()} ${verb(m.op, false).padEnd(10)} ${Progress.label(m.urn, m.type)}`);
        } else if (e.resOutputsEvent) {
            const m = e.resOutputsEvent.metadata;
            const t = this.started.get(m.urn);
            if (t === undefined) return;
            this.started.delete(m.urn);
            this.done++;
            this.write(
                `${this.stamp()} ${verb(m.op, true).padEnd(10)} ${Progress.label(m.urn, m.type)} (${((this.now() - t) / 1000).toFixed(1)} s)`,
            );
        } else if (e.resOpFailedEvent) {
            const m = e.resOpFailedEvent.metadata;
            this.failed++;
            this.started.delete(m.urn);
            this.write(`${this.stamp()} FAILED     ${Progress.label(m.urn, m.type)}`);
        } else if (e.diagnosticEvent) {
            const d = e.diagnosticEvent;
            if (d.severity === "warning" || d.severity === "error") {
                const where = d.urn ? ` ${d.urn.split("::").pop()}` : "";
                const text = d.message.replace(/\x1b\[[0-9;]*m/g, "").trim();
                if (text)
                    this.write(`${this.stamp()} ${d.severity}${where}: ${text.split("\n").join("\n           ")}`);
            }
        }
    }
}

function verb(op: string, done: boolean): string {
    const table: Record<string, [string, string]> = {
        create: ["creating", "created"],
        update: ["updating", "updated"],
        delete: ["deleting", "deleted"],
        replace: ["replacing", "replaced"],
        "create-replacement": ["creating", "created"],
        "delete-replaced": ["deleting", "deleted"],
        refresh: ["reading", "read"],
        read: ["reading", "read"],
    };
    return (table[op] ?? [op, op])[done ? 1 : 0];
}

// ------------------------------------------------------------------------------------------ summary

export interface NodeOutput {
    role: string;
    site: string;
    address: string;
    advertisedAddress?: string;
    fqdn: string;
    /** Reason lines (one per port, reason and section); `openings` counts the openings themselves. */
    inbound: string[];
    outbound: string[];
    openings?: { inbound: number; outbound: number };
    certificate?: { mode: string; notAfter: string; fingerprintSha256?: string; pending?: boolean };
}

export interface SummaryInput {
    model: string;
    stack: string;
    nodes: Record<string, NodeOutput>;
    flows?: number;
    verify?: VerifyReport;
    /** Phase name → ms. */
    phases: [string, number][];
    upOk: boolean;
    now?: Date;
    /** Lab hints: ssh key, known_hosts, a node to log into. */
    lab?: { sshKey: string; knownHosts: string; example?: { user: string; host: string } };
}

function table(rows: string[][]): string[] {
    const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
    return rows.map((r) =>
        r
            .map((c, i) => (c ?? "").padEnd(w[i]))
            .join("  ")
            .trimEnd(),
    );
}

const rel = (p: string, root: string) => (p.startsWith(root + "/") ? p.slice(root.length + 1) : p);

/** The final summary of npm start. */
export function formatSummary(s: SummaryInput, root = process.cwd()): string {
    const ok = s.upOk && (!s.verify || reportOk(s.verify));
    const total = s.phases.reduce((a, [, ms]) => a + ms, 0);
    return (
        [
            "",
            "=".repeat(100),
            `pinhole ${ok ? "is up and verified" : "FAILED"} on the ${s.model} lab (stack ${s.stack}) — ${s.phases.map(([n, ms]) => `${n} ${duration(ms)}`).join(", ")}; total ${duration(total)}`,
            "",
            ...nodesSummary(s),
            ...verifySummary(s),
            ...nextCommands(s, root),
        ].join("\n") + "\n"
    );
}

/** The table of nodes (openings, certificate) and its totals. */
function nodesSummary(s: SummaryInput): string[] {
    const now = (s.now ?? new Date()).getTime();
    const L: string[] = [];
    const names = Object.keys(s.nodes);
    const rows = [["NODE", "ROLE", "SITE", "ADDRESS", "ADVERTISED", "OPENINGS in/out", "CERTIFICATE"]];
    let inb = 0,
        outb = 0;
    const modes = new Map<string, number>();
    for (const name of names) {
        const n = s.nodes[name];
        // Stacks written before the reason lines were grouped have no counts: a line was an opening then.
        const count = n.openings ?? { inbound: n.inbound.length, outbound: n.outbound.length };
        inb += count.inbound;
        outb += count.outbound;
        let cert = "-";
        if (n.certificate) {
            const days = Math.floor((Date.parse(n.certificate.notAfter) - now) / 86_400_000);
            cert = `${n.certificate.mode}${n.certificate.pending ? " (csr pending)" : ""}, expires ${n.certificate.notAfter.slice(0, 10)} (${days} d)`;
            modes.set(n.certificate.mode, (modes.get(n.certificate.mode) ?? 0) + 1);
        }
        rows.push([
            name,
            n.role,
            n.site,
            n.address,
            n.advertisedAddress ?? "-",
            `${count.inbound} / ${count.outbound}`,
            cert,
        ]);
    }
    L.push(...table(rows));
    L.push("");
    const certs = [...modes.values()].reduce((a, b) => a + b, 0);
    L.push(
        `${names.length} nodes; ${inb + outb} openings (${inb} inbound, ${outb} outbound)${s.flows !== undefined ? `, ${s.flows} flows in the port matrix` : ""}; ` +
            `${certs} web certificate(s)${certs ? ` (${[...modes].map(([m, n]) => `${n} ${m}`).join(", ")})` : ""}`,
    );
    return L;
}

function verifySummary(s: SummaryInput): string[] {
    const L: string[] = [];
    if (s.verify) {
        const c = countFindings(s.verify);
        const parts = Object.entries(c.byCheck)
            .filter(([, v]) => v.pass + v.fail > 0)
            .map(([k, v]) => `${k} ${v.pass}/${v.pass + v.fail}`);
        L.push(
            `verified: ${reportOk(s.verify) ? "PASS" : "FAIL"} — ${c.pass} passed, ${c.fail} failed${c.warnings ? `, ${c.warnings} warning(s)` : ""} (${parts.join(", ")})`,
        );
        L.push(
            "  state: the config's ruleset is the one applied; firewall: live nftables table == state; certificate: the file nginx",
        );
        L.push(
            "  serves == state, name and expiry; probe: TCP from every node to its peers (required open, sampled forbidden dropped)",
        );
        if (!reportOk(s.verify))
            for (const f of s.verify.findings.filter((x) => !x.ok).slice(0, 20))
                L.push(`  FAIL ${f.node}: ${f.message}`);
    } else {
        L.push("verified: not run");
    }
    return L;
}

/** What to run next: look around, and how to remove it all. */
function nextCommands(s: SummaryInput, root: string): string[] {
    const L: string[] = [];
    L.push("", "Look around (the lab stays up):");
    const cmds: [string, string][] = [
        ["npm run lab -- status", "nodes, addresses, pinned host keys"],
        ["npm run lab -- probe", "measured reachability from every node and vantage"],
        [`npm run verify -- --stack ${s.stack}`, "check live tables, certificates and probes again"],
        [`npm run matrix -- --stack ${s.stack}`, "the port matrix for the network team"],
        [
            `npm run -s pulumi -- stack output --stack ${s.stack} nodes --json`,
            "per node: openings with reasons, certificate",
        ],
        [`npm run pulumi -- preview --diff --stack ${s.stack}`, "what a config change would do"],
    ];
    const w = Math.max(...cmds.map(([c]) => c.length));
    for (const [c, what] of cmds) L.push(`  ${c.padEnd(w)}  # ${what}`);
    if (s.lab?.example) {
        L.push(
            `  ssh -i ${rel(s.lab.sshKey, root)} -o UserKnownHostsFile=${rel(s.lab.knownHosts, root)} ${s.lab.example.user}@${s.lab.example.host} sudo -n nft list table inet pinhole`,
        );
    }
    L.push("Remove it:");
    const rm: [string, string][] = [
        [`npm run pulumi -- destroy --yes --stack ${s.stack}`, "optional: gives the nodes back open"],
        ["npm run lab -- down", "removes the lab (namespaces, processes, the pinhole user)"],
    ];
    const rw = Math.max(...rm.map(([c]) => c.length));
    for (const [c, what] of rm) L.push(`  ${c.padEnd(rw)}  # ${what}`);
    return L;
}
