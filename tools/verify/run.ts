// `npm run verify`: the I/O part (stack config, state and secret through the Automation API; SSH to every
// node with pinned host keys through remote/ssh.ts). The decisions are in the pure modules next to it (state,
// firewall-check, certificate-check, findings, report) and in model/probes.ts.
import * as path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { formatProblems } from "../../model/config";
import { readStack } from "../common/stack-file";
import { buildClusterPolicy } from "../../model/policy";
import { probePlan, ProbeResultRow, ProbeTarget } from "../../model/probes";
import { ClusterModel } from "../../model/types";
import { sshConnectionOf } from "../../remote/connection";
import { probeFromNode } from "../../remote/probes";
import { readFirewall } from "../../provider/firewall";
import { explainSshFailure, readScript, runScript, SshConnectionInput } from "../../remote/ssh";
import { LISTENING_COMMAND, parseListening } from "../../remote/ss";
import { auditListening, NodeListening } from "../../model/listening";
import { nodeAddresses } from "../../model/flows";
import { dropLogScript, NodeDrops, parseDropLog, topDrops } from "../../remote/drop-log";
import { pool } from "../../lab/sys";
import { inspectScript as webInspectScript } from "../../remote/webserver-scripts";
import { PLATFORM_OWNER } from "../../remote/webserver-platform-scripts";
import { shellQuote } from "../../render/escape";
import { CERT_PATH } from "../../render/nginx";
import { PROJECT_ROOT, usePulumiEnv } from "../common/pulumi-env";
import { checkCertificate, parseWebInspect } from "./certificate-check";
import { checkFirewall } from "./firewall-check";
import { Finding, probeFindings } from "./findings";
import type { VerifyReport } from "./report";
import { expectationsFor, NodeExpectation } from "./state";

export class VerifyConfigError extends Error {}

export interface VerifyOptions {
    stack: string;
    /** Directory of Pulumi.<stack>.yaml (default <project>/stacks). */
    stacksDir?: string;
    /** SSH private key (PEM/OpenSSH). Default: the stack's secret pinhole:sshPrivateKey. */
    privateKey?: string;
    /** Forbidden ports sampled per (from, to) pair (default 3). */
    forbiddenPerPeer?: number;
    /** Seconds before a probe counts as filtered (default 2). */
    probeTimeoutSeconds?: number;
    /** Nodes checked at once (default 16). */
    concurrency?: number;
    /** Skip the probes (state, firewall tables and certificates only). */
    probes?: boolean;
    /** Also read each node's drop log since this time (the top dropped peer/port pairs). */
    drops?: { since: Date; top?: number };
    log?: (m: string) => void;
    now?: Date;
}

/** The model the stack's config file describes (every problem at once, or a VerifyConfigError). */
export function loadModel(stack: string, stacksDir = path.join(PROJECT_ROOT, "stacks")): ClusterModel {
    let parsed;
    try {
        parsed = readStack(stack, { dir: stacksDir });
    } catch (e) {
        throw new VerifyConfigError((e as Error).message);
    }
    if (!parsed.model)
        throw new VerifyConfigError(
            `${parsed.file}: ${parsed.errors.length} problem(s):\n${formatProblems(parsed.errors)}`,
        );
    return parsed.model;
}

const firstLine = (s: string) => s.trim().split("\n").slice(-3).join(" | ");

/**
 * The certificate part of verify on one node: what the state's WebServer installed (whole-site: pinhole's
 * files; certificate-only: the certificate and key at the paths its plan found in the platform's nginx, its
 * TLS drop-in and the platform files it patched, read with the platform owner marker) against the node.
 */
export async function verifyWeb(
    e: Pick<NodeExpectation, "node" | "web">,
    conn: SshConnectionInput,
    opts: { renewBeforeDays: number; renewBeforeExplicit?: boolean; now?: Date },
): Promise<Finding[]> {
    const name = e.node.name;
    if (!e.web) return [];
    const paths = e.web.paths ?? { certificate: CERT_PATH, key: "", site: "" };
    const extra =
        e.web.frontEnd === "certificate-only"
            ? { ownerFile: PLATFORM_OWNER, files: (e.web.files ?? []).map((f) => f.path) }
            : {};
    const r = await runScript(
        conn,
        `${webInspectScript(e.node.fqdn, e.web.paths, extra)}echo "--- cert"\ncat ${shellQuote(paths.certificate)} 2>/dev/null || true\n`,
        { timeoutMs: 30_000 },
    );
    if (r.code === 255)
        return [
            {
                node: name,
                check: "ssh",
                ok: false,
                message: `cannot read the web front end: ${explainSshFailure(conn, r)}`,
            },
        ];
    if (r.code !== 0)
        return [
            {
                node: name,
                check: "certificate",
                ok: false,
                message: `cannot read the web front end (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`,
            },
        ];
    return checkCertificate(e, parseWebInspect(r.stdout), opts);
}

/** Connects to one node: live table, installed certificate, probes to its peers. */
async function verifyNode(
    e: NodeExpectation,
    conn: SshConnectionInput,
    model: ClusterModel,
    targets: ProbeTarget[],
    opts: VerifyOptions,
): Promise<{ findings: Finding[]; probes: ProbeResultRow[]; listening: NodeListening; drops?: NodeDrops }> {
    const name = e.node.name;
    const findings: Finding[] = [];
    const firewall = (async () => {
        try {
            const live = await readFirewall({ node: name, connection: conn, privateKey: conn.privateKey });
            findings.push(...checkFirewall(e, live));
            return true;
        } catch (err) {
            findings.push({
                node: name,
                check: "ssh",
                ok: false,
                message: `cannot read the firewall: ${(err as Error).message}`,
            });
            return false;
        }
    })();
    const web = (async () => {
        findings.push(
            ...(await verifyWeb(e, conn, {
                renewBeforeDays: model.certificates.renewBeforeDays,
                renewBeforeExplicit: model.certificates.renewBeforeExplicit,
                now: opts.now,
            })),
        );
    })();
    const probes = (async (): Promise<ProbeResultRow[]> => {
        const r = await probeFromNode(conn, targets, opts.probeTimeoutSeconds ?? 2);
        if (r.error) findings.push({ node: name, check: "ssh", ok: false, message: r.error });
        return r.rows;
    })();
    const [fwOk, , rows, listening, drops] = await Promise.all([
        firewall,
        web,
        probes,
        readListening(e, conn),
        opts.drops ? readDrops(e, conn, opts.drops) : undefined,
    ]);
    findings.push(...probeFindings(rows));
    if (fwOk)
        findings.push({
            node: name,
            check: "ssh",
            ok: true,
            message: `SSH ${conn.user}@${conn.host}:${conn.port} with the pinned host key`,
        });
    return { findings, probes: rows, listening, ...(drops ? { drops } : {}) };
}

/** The node's drop log since the time (journal or kernel ring buffer), as top peer/port pairs. */
async function readDrops(
    e: NodeExpectation,
    conn: SshConnectionInput,
    d: NonNullable<VerifyOptions["drops"]>,
): Promise<NodeDrops> {
    const node = e.node.name;
    const none = { node, source: "none" as const, total: 0, pairs: [] };
    try {
        const r = await readScript(conn, dropLogScript(d.since.getTime() / 1000), { timeoutMs: 60_000 });
        if (r.code !== 0)
            return {
                ...none,
                error: r.code === 255 ? explainSshFailure(conn, r) : `drop log: exit ${r.code}: ${firstLine(r.stderr)}`,
            };
        const log = parseDropLog(r.stdout);
        if (log.note) return { ...none, error: log.note };
        const addresses = [...nodeAddresses(e.node), ...(e.node.advertisedAddress ? [e.node.advertisedAddress] : [])];
        const top = topDrops(log.lines, { since: d.since.getTime(), addresses, top: d.top });
        return { node, source: log.source, ...top };
    } catch (err) {
        return { ...none, error: (err as Error).message };
    }
}

/** The node's listening sockets against its openings; `ss` runs in the read session the firewall read opened. */
async function readListening(e: NodeExpectation, conn: SshConnectionInput): Promise<NodeListening> {
    const node = e.node.name;
    try {
        const r = await readScript(conn, `${LISTENING_COMMAND}\n`, { timeoutMs: 30_000 });
        if (r.code === 0) return auditListening(e.policy, parseListening(r.stdout));
        const why =
            r.code === 255
                ? explainSshFailure(conn, r)
                : `${LISTENING_COMMAND}: exit ${r.code}: ${firstLine(r.stderr)}`;
        return { node, rows: [], loopback: 0, error: why };
    } catch (err) {
        return { node, rows: [], loopback: 0, error: (err as Error).message };
    }
}

/**
 * Verifies a stack's nodes against its state and config. Throws VerifyConfigError for a bad config or a stack
 * that cannot be read; everything found on the nodes is in the report (reportOk(report) says pass/fail).
 */
export async function runVerify(opts: VerifyOptions): Promise<VerifyReport> {
    const t0 = Date.now();
    const log = opts.log ?? (() => undefined);
    const model = loadModel(opts.stack, opts.stacksDir);
    const env = usePulumiEnv();
    log(`reading the state and secrets of stack ${opts.stack}`);
    let exported: unknown;
    let privateKey = opts.privateKey;
    try {
        const stack = await LocalWorkspace.selectStack(
            { stackName: opts.stack, workDir: PROJECT_ROOT },
            { envVars: env },
        );
        const [deployment, key] = await Promise.all([
            stack.exportStack(),
            privateKey ? Promise.resolve(undefined) : stack.getConfig("pinhole:sshPrivateKey"),
        ]);
        exported = deployment;
        privateKey = privateKey ?? key?.value;
    } catch (e) {
        throw new VerifyConfigError(
            `cannot read stack ${opts.stack} (state / pinhole:sshPrivateKey): ${(e as Error).message.split("\n").filter(Boolean).slice(-3).join(" | ")}`,
        );
    }
    if (!privateKey)
        throw new VerifyConfigError(
            `stack ${opts.stack} has no pinhole:sshPrivateKey (pulumi config set --secret sshPrivateKey < key), and no --ssh-key was given`,
        );

    const policy = buildClusterPolicy(model);
    const exp = expectationsFor(model, exported, policy.nodes);
    const targets =
        opts.probes === false
            ? []
            : probePlan(model, policy.flows, { forbiddenPerPeer: opts.forbiddenPerPeer }, policy.nodes);
    log(`checking ${model.nodes.length} node(s) over SSH${targets.length ? `, ${targets.length} probes` : ""}`);
    const results = await pool(exp.nodes, opts.concurrency ?? 16, (e) =>
        verifyNode(
            e,
            sshConnectionOf(e.node, privateKey!),
            model,
            targets.filter((t) => t.from === e.node.name),
            opts,
        ),
    );
    return {
        stack: opts.stack,
        checkedAt: (opts.now ?? new Date()).toISOString(),
        nodes: model.nodes.map((n) => n.name),
        findings: [...exp.findings, ...results.flatMap((r) => r.findings)],
        probes: results.flatMap((r) => r.probes),
        listening: results.map((r) => r.listening),
        ...(opts.drops
            ? { drops: { since: opts.drops.since.toISOString(), nodes: results.flatMap((r) => r.drops ?? []) } }
            : {}),
        ms: Date.now() - t0,
    };
}
