// pinhole:node:WebServer — one node's nginx front end: certificate bundle, key and site config installed
// over SSH in one session (payloads on stdin), `nginx -t`, reload, served-certificate check, previous
// files restored on failure; delete gives the node its original front end back; read sees drift.
import { createHash, randomBytes, X509Certificate } from "crypto";
import { checkCertificateBundle, splitPemBundle } from "../model/certificates";
import { DEFAULT_REPLACES } from "../render/nginx";
import { changedKeys, CheckFailure, ResourceHandler } from "./framework";
import { describe, explainSshFailure, runScript, SshConnectionInput, SshError } from "./ssh";
import { inspectScript, installScript, removeScript, WEB_EXIT } from "./webserver-scripts";

export interface WebServerInputs {
    node: string;
    connection: Omit<SshConnectionInput, "privateKey" | "node">;
    /** SSH private key (secret). */
    privateKey: string;
    /** The node's network name (SNI of the serving check). */
    fqdn: string;
    /** Certificate file: server certificate first, then the chain. */
    certificatePem: string;
    /** The certificate's private key (secret). */
    keyPem: string;
    /** render/nginx.ts renderNginxSite output. */
    siteConfig: string;
    /** Original front-end files moved aside while pinhole owns the front end. */
    replaces: string[];
    /** Seconds to wait for nginx to serve the new certificate (0 = don't check). */
    verifySeconds: number;
}

export interface WebServerState extends WebServerInputs {
    /** SHA-256 fingerprint of the served certificate ("AB:CD:..."). */
    fingerprint: string;
    notAfter: string;
    certificateSha256: string;
    keySha256: string;
    siteSha256: string;
    /** As last read from the node (`pulumi refresh`); they differ from the above on drift. */
    liveCertificateSha256: string;
    liveKeySha256: string;
    liveSiteSha256: string;
    /** What nginx served on 127.0.0.1:443 right after install / at the last refresh. */
    servedFingerprint: string;
    liveServedFingerprint: string;
    /** Original files pinhole keeps aside (restored on delete). */
    originals: string[];
    appliedAt: string;
}

const conn = (i: WebServerInputs): SshConnectionInput => ({ ...i.connection, privateKey: i.privateKey, node: i.node });
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const field = (out: string, k: string) => new RegExp(`^${k.replace(/\./g, "\\.")}=(.*)$`, "m").exec(out)?.[1]?.trim() ?? "";
const isUnknown = (v: unknown) => typeof v !== "string" || v.startsWith("04da6b54-80e4-46f7-96ec-b56ff0331ba9");

export function leafFingerprint(bundle: string): { fingerprint: string; notAfter: string } {
    const leaf = splitPemBundle(bundle)[0];
    if (!leaf) throw new Error("certificatePem holds no PEM certificate");
    const c = new X509Certificate(leaf);
    return { fingerprint: c.fingerprint256, notAfter: new Date(Date.parse(c.validTo)).toISOString() };
}

export class WebServerError extends Error {}

async function install(i: WebServerInputs, owner: string): Promise<Omit<WebServerState, keyof WebServerInputs>> {
    const c = conn(i);
    const { fingerprint, notAfter } = leafFingerprint(i.certificatePem);
    const r = await runScript(c, installScript({
        token: `${Date.now().toString(36)}${randomBytes(4).toString("hex")}`, owner,
        certificatePem: i.certificatePem, keyPem: i.keyPem, siteConfig: i.siteConfig, replaces: i.replaces,
        fqdn: i.fqdn, fingerprint, verifySeconds: i.verifySeconds,
    }), { timeoutMs: 120_000 });
    const detail = () => (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-8).join("\n  ");
    if (r.code === 255) throw new WebServerError(`web certificate not installed: ${explainSshFailure(c, r)}`);
    if (r.code === WEB_EXIT.noNginx) throw new WebServerError(`web certificate not installed on ${describe(c)}: ${r.stderr.trim()}`);
    if (r.code === WEB_EXIT.configRejected) throw new WebServerError(`web certificate not installed on ${describe(c)}: ${detail()}`);
    if (r.code === WEB_EXIT.notServed) throw new WebServerError(`web certificate not installed on ${describe(c)}: ${detail()}`);
    if (r.code !== 0) throw new WebServerError(`web certificate install failed on ${describe(c)} (exit ${r.code}): ${detail()}`);
    const served = field(r.stdout, "served");
    const applied = { certificateSha256: sha256(i.certificatePem), keySha256: sha256(i.keyPem), siteSha256: sha256(i.siteConfig) };
    return {
        fingerprint, notAfter, ...applied,
        liveCertificateSha256: applied.certificateSha256, liveKeySha256: applied.keySha256, liveSiteSha256: applied.siteSha256,
        servedFingerprint: served, liveServedFingerprint: served,
        originals: field(r.stdout, "originals").split(/\s+/).filter(Boolean).sort(),
        appliedAt: new Date().toISOString(),
    };
}

export async function inspectWebServer(i: WebServerInputs): Promise<{ owner: string; cert: string; key: string; site: string; served: string; keyMode: string; originals: string[] }> {
    const c = conn(i);
    const r = await runScript(c, inspectScript(i.fqdn), { timeoutMs: 30_000 });
    if (r.code !== 0) throw new SshError(`cannot read the web front end of ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`, r);
    return {
        owner: field(r.stdout, "owner"), cert: field(r.stdout, "sha.cert"), key: field(r.stdout, "sha.key"), site: field(r.stdout, "sha.site"),
        served: field(r.stdout, "served"), keyMode: field(r.stdout, "keymode"),
        originals: field(r.stdout, "originals").split(/\s+/).filter(Boolean).sort(),
    };
}

const OUTPUTS = [
    "fingerprint", "notAfter", "certificateSha256", "keySha256", "siteSha256", "liveCertificateSha256", "liveKeySha256", "liveSiteSha256",
    "servedFingerprint", "liveServedFingerprint", "originals", "appliedAt",
];

export const webServerHandler: ResourceHandler = {
    outputOnly: OUTPUTS,
    replaceOnChanges: ["node"],
    secretOutputs: ["privateKey", "keyPem"],
    async check(news) {
        const failures: CheckFailure[] = [];
        for (const k of ["node", "fqdn", "siteConfig"]) if (!news[k]) failures.push({ property: k, reason: "is required" });
        for (const k of ["host", "user", "hostKey"]) if (!news.connection?.[k]) failures.push({ property: `connection.${k}`, reason: "is required" });
        if (!news.privateKey) failures.push({ property: "privateKey", reason: "is required (secret)" });
        if (!news.keyPem) failures.push({ property: "keyPem", reason: "is required (secret)" });
        if (!news.certificatePem) failures.push({ property: "certificatePem", reason: "is required" });
        // The components validate operator bundles before this; checked again so nothing wrong is ever installed.
        if (!isUnknown(news.certificatePem) && !isUnknown(news.keyPem) && !isUnknown(news.fqdn) && news.certificatePem && news.keyPem) {
            const res = checkCertificateBundle({ node: news.node, fqdn: news.fqdn, addresses: [], bundlePem: news.certificatePem, privateKeyPem: news.keyPem });
            for (const p of res.problems) failures.push({ property: p.kind === "key" ? "keyPem" : "certificatePem", reason: `node ${news.node}: ${p.message}` });
        }
        const verifySeconds = Number(news.verifySeconds ?? 10);
        if (!(verifySeconds >= 0 && verifySeconds <= 120)) failures.push({ property: "verifySeconds", reason: "must be between 0 and 120" });
        return { inputs: { ...news, replaces: Array.isArray(news.replaces) ? news.replaces : [...DEFAULT_REPLACES], verifySeconds }, failures };
    },
    async diff(olds: WebServerState, news: WebServerInputs) {
        const changed = changedKeys(olds as unknown as Record<string, unknown>, news as unknown as Record<string, unknown>, ["verifySeconds", ...OUTPUTS]);
        // Drift seen by `pulumi refresh`: a file changed on the node, or nginx serves another certificate.
        const drifted = olds.liveCertificateSha256 !== undefined && (
            olds.liveCertificateSha256 !== olds.certificateSha256 || olds.liveKeySha256 !== olds.keySha256 ||
            olds.liveSiteSha256 !== olds.siteSha256 ||
            (!!olds.liveServedFingerprint && olds.liveServedFingerprint !== "no-openssl" && olds.liveServedFingerprint !== olds.fingerprint));
        const replaces = changed.filter((k) => k === "node");
        return { changes: changed.length > 0 || drifted, replaces, deleteBeforeReplace: false };
    },
    async create(inputs: WebServerInputs) {
        const id = `${inputs.node}-web-${randomBytes(6).toString("hex")}`;
        const outs = await install(inputs, id);
        return { id, outs: { ...inputs, ...outs } };
    },
    async update(id, _olds: WebServerState, news: WebServerInputs) {
        const outs = await install(news, id);
        return { outs: { ...news, ...outs } };
    },
    async read(id, props: WebServerState) {
        const live = await inspectWebServer(props);
        const owned = !live.owner || live.owner === id;
        return {
            id,
            props: {
                ...props,
                liveCertificateSha256: owned ? live.cert : `owned by ${live.owner}`,
                liveKeySha256: owned ? live.key : `owned by ${live.owner}`,
                liveSiteSha256: owned ? live.site : `owned by ${live.owner}`,
                liveServedFingerprint: live.served,
            },
        };
    },
    async delete(id, props: WebServerState) {
        const c = conn(props);
        const r = await runScript(c, removeScript(id), { timeoutMs: 60_000 });
        if (r.code !== 0) {
            throw new SshError(`cannot remove pinhole's web front end from ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`, r);
        }
    },
};
