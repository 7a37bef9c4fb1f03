// pinhole:tls:AcmeCertificate — a certificate from an ACME CA, ordered by the provisioning host (provider/acme-client.ts):
// account, order, HTTP-01 (the key authorizations put into the node's nginx over SSH, remote/acme-scripts.ts),
// finalize with a CSR on the node's key, chain download. Renewed (replaced) inside the renewal window, like the
// certificates pinhole issues itself; a failed order changes nothing on the node (the WebServer keeps the old bundle).
import { createPublicKey, KeyObject, X509Certificate } from "crypto";
import { AcmeClient, AcmeError, authorizationProblem, keyAuthorization } from "./acme-client";
import { createCertificateRequest } from "./certs";
import { CheckFailure, inputDiff, ResourceHandler } from "./framework";
import { ACME_CERTIFICATE } from "./schema";
import type { CheckedInputsOf } from "./schema-types";
import { dueForRenewal, keepIssuedCertificate } from "./tls";
import { expiryNotice, lifetimeDays, noticeWindowDays, splitPemBundle } from "../model/certificates";
import { describe, explainSshFailure, runScript, SshConnectionInput } from "../remote/ssh";
import { Challenge, putChallengeScript, removeChallengeScript } from "../remote/acme-scripts";

export type AcmeInputs = CheckedInputsOf<typeof ACME_CERTIFICATE>;
type Json = Record<string, unknown>;

const conn = (i: AcmeInputs): SshConnectionInput => ({ ...i.connection, privateKey: i.privateKey, node: i.node });

/** The renewal window: the explicit renewBeforeDays, else the notice window of the issued lifetime. */
export function renewalWindowDays(i: { renewBeforeDays?: number }, notBefore: string, notAfter: string): number {
    return i.renewBeforeDays ?? noticeWindowDays(lifetimeDays(notBefore, notAfter));
}

async function onNode(i: AcmeInputs, script: string, what: string): Promise<void> {
    const c = conn(i);
    const r = await runScript(c, script, { timeoutMs: 60_000 });
    if (r.code === 255) throw new AcmeError(`${what}: ${explainSshFailure(c, r)}`);
    if (r.code !== 0)
        throw new AcmeError(
            `${what} on ${describe(c)} (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-6).join("; ")}`,
        );
}

const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");

/** The issued bundle, checked: for the node's key and names. */
function issued(bundle: string, i: AcmeInputs) {
    const certs = splitPemBundle(bundle);
    if (!certs.length) throw new AcmeError("the CA's certificate download holds no PEM certificate");
    const leaf = new X509Certificate(certs[0]);
    const der = (k: KeyObject) => k.export({ type: "spki", format: "der" });
    if (!der(leaf.publicKey).equals(der(createPublicKey(i.keyPem))))
        throw new AcmeError("the CA sent a certificate for another key than the CSR's");
    for (const n of i.dnsNames)
        if (!leaf.checkHost(n, { subject: "never", wildcards: false }))
            throw new AcmeError(`the CA's certificate does not carry ${n}`);
    return {
        certPem: certs.join(""),
        notBefore: new Date(Date.parse(leaf.validFrom)).toISOString(),
        notAfter: new Date(Date.parse(leaf.validTo)).toISOString(),
        serial: leaf.serialNumber.toLowerCase(),
        issuer: leaf.issuer.split("\n").join(", "),
    };
}

type Pending = { authzUrl: string; url: string; name: string; challenge: Challenge };

/** The order's authorizations that are not valid yet, each with its http-01 challenge and answer. */
async function pendingChallenges(client: AcmeClient, order: Json): Promise<Pending[]> {
    const pending: Pending[] = [];
    for (const authzUrl of (order.authorizations as string[] | undefined) ?? []) {
        const a = (await client.post(authzUrl, "", "authorization")).json;
        if (a.status === "valid") continue;
        const name = String((a.identifier as Json | undefined)?.value ?? authzUrl);
        const ch = ((a.challenges as Json[] | undefined) ?? []).find((c) => c.type === "http-01");
        if (!ch) throw new AcmeError(`the CA offers no http-01 challenge for ${name}`);
        const token = String(ch.token);
        pending.push({
            authzUrl,
            url: String(ch.url),
            name,
            challenge: { token, keyAuthorization: keyAuthorization(token, client.thumbprintJwk) },
        });
    }
    return pending;
}

/** Puts the answers on the node, tells the CA, waits for each authorization; the answers are removed whatever happens. */
async function answerChallenges(
    i: AcmeInputs,
    client: AcmeClient,
    pending: Pending[],
    deadline: number,
): Promise<void> {
    await onNode(
        i,
        putChallengeScript(
            pending.map((p) => p.challenge),
            i.dnsNames,
            i.ipv6,
        ),
        "cannot put the HTTP-01 answer into nginx",
    );
    try {
        for (const p of pending) await client.post(p.url, {}, `http-01 challenge of ${p.name}`);
        for (const p of pending) {
            const a = await client.poll(
                p.authzUrl,
                `authorization of ${p.name}`,
                (j) => j.status !== "pending",
                deadline,
            );
            if (a.status !== "valid")
                throw new AcmeError(
                    `the CA could not validate ${p.name} over HTTP-01 (${String(a.status)}): ${authorizationProblem(a)}`,
                );
        }
    } finally {
        await onNode(
            i,
            removeChallengeScript(pending.map((p) => p.challenge.token)),
            "cannot remove the HTTP-01 answer",
        ).catch(() => undefined);
    }
}

/** One whole order; the challenge files are removed from the node whatever happens. */
export async function orderCertificate(i: AcmeInputs) {
    const client = new AcmeClient({
        directoryUrl: i.directoryUrl,
        ca: i.directoryCaPem,
        accountKeyPem: i.accountKeyPem,
    });
    const accountUrl = await client.account(i.email);
    const { url: orderUrl, order } = await client.newOrder(i.dnsNames);
    const deadline = Date.now() + i.challengeSeconds * 1000;
    const pending = await pendingChallenges(client, order);
    if (pending.length) await answerChallenges(i, client, pending, deadline);
    let o = await client.poll(orderUrl, "order", (j) => j.status !== "pending", deadline);
    if (o.status === "ready") {
        const csr = await createCertificateRequest({
            privateKeyPem: i.keyPem,
            subject: { commonName: i.dnsNames[0] },
            dnsNames: i.dnsNames,
            ipAddresses: [],
        });
        await client.post(String(o.finalize), { csr: pemToDer(csr).toString("base64url") }, "finalize");
        o = await client.poll(orderUrl, "order", (j) => j.status === "valid" || j.status === "invalid", deadline);
    }
    if (o.status !== "valid" || typeof o.certificate !== "string")
        throw new AcmeError(`the order ended "${String(o.status)}"${o.error ? `: ${JSON.stringify(o.error)}` : ""}`);
    const cert = await client.post(o.certificate, "", "certificate download", "application/pem-certificate-chain");
    return { ...issued(cert.body, i), accountUrl, orderUrl, certificateUrl: o.certificate };
}

const INPUT_KEYS = Object.keys(ACME_CERTIFICATE.inputs);

export const acmeCertificateHandler: ResourceHandler<typeof ACME_CERTIFICATE> = {
    spec: ACME_CERTIFICATE,
    async check(news) {
        const failures: CheckFailure[] = [];
        if (news.dnsNames.length === 0)
            failures.push({ property: "dnsNames", reason: "must name at least one DNS identifier" });
        if (!/^https:\/\//.test(news.directoryUrl))
            failures.push({ property: "directoryUrl", reason: "must be an https:// URL" });
        return { failures };
    },
    async diff(olds, news) {
        const d = inputDiff(olds, news, INPUT_KEYS, ACME_CERTIFICATE.replaceOnChanges);
        const window = renewalWindowDays(news, olds.notBefore, olds.notAfter);
        if (dueForRenewal(olds.notAfter, window)) {
            d.detailedDiff.notAfter = "update-replace";
            d.replaces.push("notAfter");
            d.changes = true;
            const n = expiryNotice(olds.notAfter, window);
            if (n)
                d.warnings = [
                    `${news.dnsNames[0]}: ${n.text}: inside the renewal window (${window} days), pinhole orders a new certificate from ${news.directoryUrl} on this up`,
                ];
        }
        return d;
    },
    async create(inputs) {
        try {
            const outs = await orderCertificate(inputs);
            return { id: outs.serial, outs: { ...inputs, ...outs } };
        } catch (e) {
            throw new AcmeError(
                `ACME certificate NOT issued for ${inputs.dnsNames.join(", ")} (node ${inputs.node}, ${inputs.directoryUrl}): ${(e as Error).message}; nothing changed on the node: its web server keeps the certificate it serves`,
            );
        }
    },
    update: keepIssuedCertificate,
};
