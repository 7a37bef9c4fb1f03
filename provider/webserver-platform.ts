// pinhole:node:WebServer with frontEnd "certificate-only": the certificate goes into an nginx pinhole did
// not write. check reads the node's `nginx -T` over SSH and plans (render/nginx-platform.ts) — the paths
// found, the files pinhole will own, the `web weight list` become inputs, so `pulumi preview --diff`
// shows them and a problem fails the preview before anything is applied. create/update re-read and
// install (remote/webserver-platform-scripts.ts); delete gives the node its exact original files back.
import { createHash, randomBytes, X509Certificate } from "crypto";
import { parseNginxDump, NginxDump } from "../render/nginx-conf";
import { planPlatformFrontEnd, PlatformPlan } from "../render/nginx-platform";
import { CheckFailure, ProviderError } from "./framework";
import { WEB_SERVER } from "./schema";
import type { CheckedInputsOf, StateOf } from "./schema-types";
import {
    describe,
    explainSshFailure,
    readScript,
    RunResult,
    runScript,
    SshConnectionInput,
    SshError,
    SshSession,
    withSession,
} from "../remote/ssh";
import {
    checkNodePath,
    discoverScript,
    PlatformFile,
    platformInspectScript,
    platformInstallScript,
    platformRemoveScript,
} from "../remote/webserver-platform-scripts";
import { WEB_EXIT } from "../remote/webserver-scripts";

type WebServerInputs = CheckedInputsOf<typeof WEB_SERVER>;
type WebServerState = StateOf<typeof WEB_SERVER>;
export type PlanSummary = NonNullable<WebServerInputs["plan"]>;

/** Inputs whose change re-installs (certificate-only); the plan stands for what check found on the node. */
export const PLATFORM_INPUTS = [
    "node",
    "frontEnd",
    "fqdn",
    "certificatePem",
    "keyPem",
    "tlsConfig",
    "tlsPath",
    "certificatePath",
    "keyPath",
    "upstream",
    "weights",
    "plan",
    "connection",
    "privateKey",
    "verifySeconds",
] as const;
const DEFAULT_TLS_PATH = "/etc/nginx/conf.d/pinhole-tls.conf";
const tlsPathOf = (i: WebServerInputs) => i.tlsPath || DEFAULT_TLS_PATH;

const conn = (i: WebServerInputs): SshConnectionInput => ({ ...i.connection, privateKey: i.privateKey, node: i.node });
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
const isUnknown = (v: unknown) => typeof v === "string" && v.startsWith("04da6b54-80e4-46f7-96ec-b56ff0331ba9");

interface Discovery {
    dump: NginxDump;
    kept: Map<string, string>;
    created: string[];
}

/** The node's nginx as the platform had it: the dump with pinhole's kept originals put back and its own files left out. */
async function discover(i: WebServerInputs, session?: SshSession): Promise<Discovery> {
    const c = conn(i);
    const r = session
        ? await session.run(discoverScript(), 60_000)
        : await readScript(c, discoverScript(), { timeoutMs: 60_000 });
    if (r.code === 255) throw new SshError(`cannot read nginx on ${describe(c)}: ${explainSshFailure(c, r)}`, r);
    if (r.code !== 0) throw new SshError(`cannot read nginx on ${describe(c)}: ${r.stderr.trim()}`, r);
    const kept = new Map<string, string>();
    const created: string[] = [];
    let dumpText = "";
    for (const line of r.stdout.split("\n")) {
        const [k, v = ""] = [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)];
        if (k === "dump") dumpText = b64(v);
        if (k === "kept") {
            const [p, content] = v.split(":");
            kept.set(b64(p), b64(content ?? ""));
        }
        if (k === "created") created.push(b64(v));
    }
    const dump = parseNginxDump(dumpText);
    for (const [p, content] of kept) if (dump.files.has(p)) dump.files.set(p, content);
    return { dump, kept, created };
}

function planOf(i: WebServerInputs, d: Discovery): PlatformPlan {
    return planPlatformFrontEnd({
        node: i.node,
        dump: d.dump,
        ownFiles: [tlsPathOf(i), ...d.created],
        tlsPath: tlsPathOf(i),
        certificatePath: i.certificatePath,
        keyPath: i.keyPath,
        upstream: i.upstream,
        weights: i.weights,
    });
}

function summaryOf(i: WebServerInputs, p: PlatformPlan): PlanSummary {
    return {
        certificatePath: p.certificatePath,
        keyPath: p.keyPath,
        ...(p.upstream ? { upstream: p.upstream } : {}),
        weightList: p.weightList.map((w) => ({
            server: w.server,
            ...(w.node ? { node: w.node } : {}),
            weight: w.weight,
            backup: w.backup,
            source: w.source,
        })),
        files: [...new Set([p.certificatePath, p.keyPath, tlsPathOf(i), ...Object.keys(p.patched)])].sort(),
        patched: Object.entries(p.patched)
            .map(([path, c]) => ({ path, sha256: sha256(c) }))
            .sort((a, b) => a.path.localeCompare(b.path)),
        warnings: p.warnings,
    };
}

export async function platformCheck(
    news: WebServerInputs,
): Promise<{ inputs: WebServerInputs; failures: CheckFailure[] }> {
    const failures: CheckFailure[] = [];
    const inputs: WebServerInputs = { ...news, tlsPath: tlsPathOf(news) };
    for (const k of ["tlsPath", "certificatePath", "keyPath"] as const) {
        const v = inputs[k];
        const why = v && !isUnknown(v) ? checkNodePath(v) : undefined;
        if (why) failures.push({ property: k, reason: `node ${news.node}: ${why}` });
    }
    if (!news.tlsConfig) failures.push({ property: "tlsConfig", reason: "is required" });
    const known =
        [
            news.node,
            news.privateKey,
            news.connection?.host,
            news.connection?.hostKey,
            news.tlsPath,
            news.certificatePath,
            news.keyPath,
            news.upstream,
        ].every((v) => v === undefined || !isUnknown(v)) &&
        !!news.privateKey &&
        !JSON.stringify(news.weights ?? []).includes("04da6b54-80e4-46f7-96ec-b56ff0331ba9");
    if (failures.length || !known) return { inputs, failures };
    let plan: PlatformPlan;
    try {
        plan = planOf(inputs, await discover(inputs));
    } catch (e) {
        // Nothing on the node was changed: whatever nginx served before (the previous certificate) still serves.
        return {
            inputs,
            failures: [
                {
                    property: "connection",
                    reason: `web certificate NOT installed on ${describe(conn(inputs))}; the previous certificate is still serving (nothing on the node was changed): ${(e as Error).message}`,
                },
            ],
        };
    }
    for (const p of plan.problems) failures.push({ property: "plan", reason: p });
    if (plan.certificatePath && plan.certificatePath === plan.keyPath)
        failures.push({
            property: "keyPath",
            reason: `node ${news.node}: certificate and key would both go to ${plan.keyPath}`,
        });
    for (const k of ["certificatePath", "keyPath"] as const) {
        const why = plan[k] ? checkNodePath(plan[k]) : undefined;
        if (why) failures.push({ property: k, reason: `node ${news.node}: nginx uses ${why}` });
    }
    return { inputs: { ...inputs, plan: summaryOf(inputs, plan) }, failures };
}

export class PlatformInstallError extends ProviderError {}

export function leafOf(bundle: string): { fingerprint: string; notAfter: string } {
    const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(bundle)?.[0];
    if (!leaf) throw new PlatformInstallError("certificatePem holds no PEM certificate");
    const x = new X509Certificate(leaf);
    return { fingerprint: x.fingerprint256, notAfter: new Date(Date.parse(x.validTo)).toISOString() };
}

/** Reads the node's nginx again, installs the plan, and returns the whole state (the whole-site outputs filled in too). */
export async function platformInstall(i: WebServerInputs, owner: string): Promise<WebServerState> {
    const c = conn(i);
    const { fingerprint, notAfter } = leafOf(i.certificatePem);
    // One session: the node's nginx read again, then the install.
    return withSession(c, (session) => platformInstallIn(session, i, owner, fingerprint, notAfter));
}

async function platformInstallIn(
    session: SshSession,
    i: WebServerInputs,
    owner: string,
    fingerprint: string,
    notAfter: string,
): Promise<WebServerState> {
    const c = conn(i);
    const d = await discover(i, session);
    const plan = planOf(i, d);
    if (plan.problems.length)
        throw new PlatformInstallError(
            `web certificate not installed on ${describe(c)}:\n  ${plan.problems.join("\n  ")}`,
        );
    const r = await session.run(
        platformInstallScript({
            token: `${Date.now().toString(36)}${randomBytes(4).toString("hex")}`,
            owner,
            files: installFiles(i, plan, d),
            fqdn: i.fqdn,
            fingerprint,
            verifySeconds: i.verifySeconds,
        }),
        120_000,
    );
    const failed = installFailure(c, r);
    if (failed) throw new PlatformInstallError(failed);
    return installedState(i, plan, d, r.stdout, { fingerprint, notAfter });
}

/** The files the install writes: certificate, key, pinhole's own TLS file, and the platform files the plan patches. */
function installFiles(i: WebServerInputs, plan: PlatformPlan, d: Discovery): PlatformFile[] {
    return [
        { path: plan.certificatePath, content: i.certificatePem, kind: "certificate" },
        { path: plan.keyPath, content: i.keyPem, kind: "key" },
        { path: tlsPathOf(i), content: i.tlsConfig ?? "", kind: "own" },
        ...Object.entries(plan.patched).map(([path, content]) => ({ path, content, kind: "platform" as const })),
        // A platform file patched before but not now goes back to the platform's version.
        ...[...d.kept]
            .filter(([p, content]) => d.dump.files.has(p) && !(p in plan.patched) && content !== "")
            .map(([path, content]) => ({ path, content, kind: "platform" as const })),
    ];
}

/** The message for an install that did not go through (by the install script's exit code); undefined when it did. */
function installFailure(c: SshConnectionInput, r: RunResult): string | undefined {
    const detail = () => (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-10).join("\n  ");
    if (r.code === 255) return `web certificate not installed: ${explainSshFailure(c, r)}`;
    if (r.code === WEB_EXIT.configRejected || r.code === WEB_EXIT.notServed)
        return `web certificate NOT installed on ${describe(c)}; the previous certificate is still serving:\n  ${detail()}`;
    if (r.code !== 0) return `web certificate install failed on ${describe(c)} (exit ${r.code}): ${detail()}`;
    return undefined;
}

/** The whole state after an install, from what the install script reported (the files' hashes, the served certificate). */
function installedState(
    i: WebServerInputs,
    plan: PlatformPlan,
    d: Discovery,
    stdout: string,
    leaf: { fingerprint: string; notAfter: string },
): WebServerState {
    const installed = [...stdout.matchAll(/^sha=([0-9a-f]{64}) (.+)$/gm)].map((m) => ({ path: m[2], sha256: m[1] }));
    const served = /^served=(.*)$/m.exec(stdout)?.[1]?.trim() ?? "";
    const shaOf = (p: string) => installed.find((f) => f.path === p)?.sha256 ?? "";
    const shas = {
        certificateSha256: shaOf(plan.certificatePath),
        keySha256: shaOf(plan.keyPath),
        siteSha256: shaOf(tlsPathOf(i)),
    };
    return {
        ...i,
        plan: summaryOf(i, plan),
        fingerprint: leaf.fingerprint,
        notAfter: leaf.notAfter,
        ...shas,
        liveCertificateSha256: shas.certificateSha256,
        liveKeySha256: shas.keySha256,
        liveSiteSha256: shas.siteSha256,
        servedFingerprint: served,
        liveServedFingerprint: served,
        installed,
        live: installed,
        originals: [
            ...d.kept.keys(),
            ...installed.map((f) => f.path).filter((p) => !d.kept.has(p) && !d.created.includes(p)),
        ].sort(),
        appliedAt: new Date().toISOString(),
    };
}

export async function platformRead(id: string, props: WebServerState): Promise<WebServerState> {
    const c = conn(props);
    // Hashes and the owner mark only: no secret (shares the login with the Firewall's read on refresh).
    const r = await readScript(c, platformInspectScript(props.fqdn), { timeoutMs: 30_000, noSecrets: true });
    if (r.code !== 0)
        throw new SshError(
            `cannot read the web front end of ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`,
            r,
        );
    const owner = /^owner=(.*)$/m.exec(r.stdout)?.[1]?.trim() ?? "";
    const ours = new Set((props.installed ?? []).map((f) => f.path));
    const live = [...r.stdout.matchAll(/^sha=(\S+) (.+)$/gm)]
        .filter((m) => ours.has(m[2]))
        .map((m) => ({ path: m[2], sha256: owner && owner !== id ? `owned by ${owner}` : m[1] }));
    return { ...props, live, liveServedFingerprint: /^served=(.*)$/m.exec(r.stdout)?.[1]?.trim() ?? "" };
}

/** Drift: a file pinhole wrote differs on the node, or nginx serves another certificate. */
export function platformDrifted(olds: WebServerState): boolean {
    if (!olds.installed || !olds.live) return false;
    const liveOf = (p: string) => olds.live.find((f) => f.path === p)?.sha256;
    return (
        olds.installed.some((f) => liveOf(f.path) !== f.sha256) ||
        (!!olds.liveServedFingerprint &&
            olds.liveServedFingerprint !== "no-openssl" &&
            olds.liveServedFingerprint !== olds.fingerprint)
    );
}

export async function platformDelete(id: string, props: WebServerState): Promise<void> {
    const c = conn(props);
    const r = await runScript(c, platformRemoveScript(id), { timeoutMs: 60_000 });
    if (r.code !== 0)
        throw new SshError(
            `cannot give ${describe(c)} its original nginx files back: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`,
            r,
        );
}
