// pinhole:node:WebServer — one node's nginx front end: certificate bundle, key and site config installed
// over SSH in one session (payloads on stdin), `nginx -t`, reload, served-certificate check, previous
// files restored on failure; delete gives the node its original front end back; read sees drift.
import { createHash, randomBytes, X509Certificate } from "crypto";
import { splitPemBundle } from "../model/certificates";
import { checkCertificateBundle } from "../model/certificate-bundle";
import { changedKeys, CheckFailure, inputDiff, ProviderError, ResourceHandler } from "./framework";
import { WEB_SERVER } from "./schema";
import { isUnknown } from "./schema-check";
import type { CheckedInputsOf, StateOf } from "./schema-types";
import { describe, explainSshFailure, readScript, runScript, SshConnectionInput, SshError } from "../remote/ssh";
import { inspectScript, installScript, removeScript, WEB_EXIT } from "../remote/webserver-scripts";
import {
    platformCheck,
    platformDelete,
    platformDrifted,
    platformInstall,
    platformRead,
    PLATFORM_INPUTS,
} from "./webserver-platform";
import { importWebServer } from "./webserver-import";

/** frontEnd "whole-site" (this file) or "certificate-only" (provider/webserver-platform.ts). */
const isPlatform = (i: { frontEnd?: string } | undefined) => i?.frontEnd === "certificate-only";

export type WebServerInputs = CheckedInputsOf<typeof WEB_SERVER>;
export type WebServerState = StateOf<typeof WEB_SERVER>;

const conn = (i: Pick<WebServerInputs, "connection" | "privateKey" | "node">): SshConnectionInput => ({
    ...i.connection,
    privateKey: i.privateKey,
    node: i.node,
});
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const field = (out: string, k: string) =>
    new RegExp(`^${k.replace(/\./g, "\\.")}=(.*)$`, "m").exec(out)?.[1]?.trim() ?? "";

export function leafFingerprint(bundle: string): { fingerprint: string; notAfter: string } {
    const leaf = splitPemBundle(bundle)[0];
    if (!leaf) throw new ProviderError("certificatePem holds no PEM certificate");
    const c = new X509Certificate(leaf);
    return { fingerprint: c.fingerprint256, notAfter: new Date(Date.parse(c.validTo)).toISOString() };
}

export class WebServerError extends ProviderError {}

async function install(i: WebServerInputs, owner: string): Promise<Omit<WebServerState, keyof WebServerInputs>> {
    const c = conn(i);
    const { fingerprint, notAfter } = leafFingerprint(i.certificatePem);
    const r = await runScript(
        c,
        installScript({
            token: `${Date.now().toString(36)}${randomBytes(4).toString("hex")}`,
            owner,
            certificatePem: i.certificatePem,
            keyPem: i.keyPem,
            siteConfig: i.siteConfig ?? "",
            replaces: i.replaces,
            fqdn: i.fqdn,
            fingerprint,
            verifySeconds: i.verifySeconds,
            paths: i.paths,
        }),
        { timeoutMs: 120_000 },
    );
    const detail = () => (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-8).join("\n  ");
    if (r.code === 255) throw new WebServerError(`web certificate not installed: ${explainSshFailure(c, r)}`);
    if (r.code === WEB_EXIT.noNginx)
        throw new WebServerError(`web certificate not installed on ${describe(c)}: ${r.stderr.trim()}`);
    if (r.code === WEB_EXIT.configRejected)
        throw new WebServerError(`web certificate not installed on ${describe(c)}: ${detail()}`);
    if (r.code === WEB_EXIT.notServed)
        throw new WebServerError(`web certificate not installed on ${describe(c)}: ${detail()}`);
    if (r.code !== 0)
        throw new WebServerError(`web certificate install failed on ${describe(c)} (exit ${r.code}): ${detail()}`);
    const served = field(r.stdout, "served");
    const applied = {
        certificateSha256: sha256(i.certificatePem),
        keySha256: sha256(i.keyPem),
        siteSha256: sha256(i.siteConfig ?? ""),
    };
    return {
        fingerprint,
        notAfter,
        ...applied,
        liveCertificateSha256: applied.certificateSha256,
        liveKeySha256: applied.keySha256,
        liveSiteSha256: applied.siteSha256,
        servedFingerprint: served,
        liveServedFingerprint: served,
        originals: field(r.stdout, "originals").split(/\s+/).filter(Boolean).sort(),
        appliedAt: new Date().toISOString(),
        installed: [],
        live: [],
    };
}

export async function inspectWebServer(
    i: Pick<WebServerInputs, "connection" | "privateKey" | "node" | "fqdn" | "paths">,
): Promise<{
    owner: string;
    cert: string;
    key: string;
    site: string;
    served: string;
    keyMode: string;
    originals: string[];
}> {
    const c = conn(i);
    // Hashes, modes and the owner mark only: no secret (shares the login with the Firewall's read on refresh).
    const r = await readScript(c, inspectScript(i.fqdn, i.paths), { timeoutMs: 30_000, noSecrets: true });
    if (r.code !== 0)
        throw new SshError(
            `cannot read the web front end of ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`,
            r,
        );
    return {
        owner: field(r.stdout, "owner"),
        cert: field(r.stdout, "sha.cert"),
        key: field(r.stdout, "sha.key"),
        site: field(r.stdout, "sha.site"),
        served: field(r.stdout, "served"),
        keyMode: field(r.stdout, "keymode"),
        originals: field(r.stdout, "originals").split(/\s+/).filter(Boolean).sort(),
    };
}

/** Inputs that change what is on the node; connection, key and the serving check's patience only change how. */
const INSTALLED = ["node", "frontEnd", "fqdn", "certificatePem", "keyPem", "siteConfig", "paths", "replaces"] as const;
const INPUTS = [...INSTALLED, "connection", "privateKey", "verifySeconds"] as const;

/** Drift seen by `pulumi refresh`: a file changed on the node, or nginx serves another certificate. */
function driftedProperties(olds: WebServerState): string[] {
    if (olds.liveCertificateSha256 === undefined) return [];
    const served = olds.liveServedFingerprint;
    return [
        olds.liveCertificateSha256 !== olds.certificateSha256 ? "liveCertificateSha256" : "",
        olds.liveKeySha256 !== olds.keySha256 ? "liveKeySha256" : "",
        olds.liveSiteSha256 !== olds.siteSha256 ? "liveSiteSha256" : "",
        served && served !== "no-openssl" && served !== olds.fingerprint ? "liveServedFingerprint" : "",
    ].filter(Boolean);
}

export const webServerHandler: ResourceHandler<typeof WEB_SERVER> = {
    spec: WEB_SERVER,
    async check(news) {
        const failures: CheckFailure[] = [];
        if (!isPlatform(news) && !news.siteConfig)
            failures.push({ property: "siteConfig", reason: "is required in whole-site mode" });
        // The components validate operator bundles before this; checked again so nothing wrong is ever installed.
        if (!isUnknown(news.certificatePem) && !isUnknown(news.keyPem) && !isUnknown(news.fqdn)) {
            const res = checkCertificateBundle({
                node: news.node,
                fqdn: news.fqdn,
                addresses: [],
                bundlePem: news.certificatePem,
                privateKeyPem: news.keyPem,
            });
            for (const p of res.problems)
                failures.push({
                    property: p.kind === "key" ? "keyPem" : "certificatePem",
                    reason: `node ${news.node}: ${p.message}`,
                });
        }
        if (isPlatform(news)) {
            const res = await platformCheck(news);
            return { inputs: res.inputs, failures: [...failures, ...res.failures] };
        }
        return { failures };
    },
    async diff(olds, news) {
        if (isPlatform(olds) || isPlatform(news)) {
            const d = inputDiff(olds, news, PLATFORM_INPUTS, WEB_SERVER.replaceOnChanges);
            if (isPlatform(olds) && platformDrifted(olds)) d.detailedDiff.live = "update";
            d.changes = Object.keys(d.detailedDiff).length > 0;
            // Switching the mode: the old front end goes first, so the new one starts from the node's own files.
            if (d.detailedDiff.frontEnd) d.deleteBeforeReplace = true;
            return d;
        }
        const d = inputDiff(olds, news, INPUTS, WEB_SERVER.replaceOnChanges);
        // A drifted file or served certificate shows as the live value the update puts right.
        for (const k of driftedProperties(olds)) d.detailedDiff[k] = "update";
        d.changes = Object.keys(d.detailedDiff).length > 0;
        return d;
    },
    async create(inputs) {
        const id = `${inputs.node}-web-${randomBytes(6).toString("hex")}`;
        if (isPlatform(inputs)) return { id, outs: await platformInstall(inputs, id) };
        const outs = await install(inputs, id);
        return { id, outs: { ...inputs, ...outs } };
    },
    async update(id, olds, news) {
        if (isPlatform(news)) return { outs: await platformInstall(news, id) };
        if (driftedProperties(olds).length || changedKeys(olds, news, INSTALLED).length)
            return { outs: { ...news, ...(await install(news, id)) } };
        // Only how the node is reached changed: check the new connection gets in; nginx is not touched.
        const live = await inspectWebServer(news);
        return { outs: { ...olds, ...news, ...liveOf(id, live) } };
    },
    async read(id, olds, urn) {
        // An import: the ID names the node, the rest comes from the stack config (provider/webserver-import.ts).
        if (!olds) return importWebServer(id, urn);
        if (isPlatform(olds)) return { id, props: await platformRead(id, olds) };
        return { id, props: { ...olds, ...liveOf(id, await inspectWebServer(olds)) } };
    },
    async delete(id, props) {
        if (isPlatform(props)) return platformDelete(id, props);
        const c = conn(props);
        const r = await runScript(c, removeScript(id, props.paths), { timeoutMs: 60_000 });
        if (r.code !== 0) {
            throw new SshError(
                `cannot remove pinhole's web front end from ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`,
                r,
            );
        }
    },
};

/** The live values of a read: a file of another resource's front end shows as drift, naming that owner. */
export function liveOf(
    id: string,
    live: Awaited<ReturnType<typeof inspectWebServer>>,
): Pick<WebServerState, "liveCertificateSha256" | "liveKeySha256" | "liveSiteSha256" | "liveServedFingerprint"> {
    const owned = !live.owner || live.owner === id;
    return {
        liveCertificateSha256: owned ? live.cert : `owned by ${live.owner}`,
        liveKeySha256: owned ? live.key : `owned by ${live.owner}`,
        liveSiteSha256: owned ? live.site : `owned by ${live.owner}`,
        liveServedFingerprint: live.served,
    };
}
