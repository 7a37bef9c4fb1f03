// The checks of an operator's certificate bundle before anything is installed on a node (components at preview,
// the provider again in its check): it parses, names the node, matches the key, chains to a CA, is within validity.
// Pure (Node's crypto only).
import { createPrivateKey, createPublicKey, KeyObject, X509Certificate } from "crypto";
import {
    CertificateDetails,
    detailsOf,
    dn,
    expiryNotice,
    joinPemBundle,
    lifetimeDays,
    NOTICE_DAYS,
    noticeWindowDays,
    parseCert,
    platformTime,
    safeVerify,
    spkiOf,
    splitPemBundle,
} from "./certificates";

export interface BundleCheckInput {
    /** Node name (messages start with it). */
    node: string;
    /** The network name the certificate must match (NodeSpec.fqdn). */
    fqdn: string;
    /** The node's addresses (address, advertisedAddress): missing ones are a warning, not an error. */
    addresses: string[];
    /** The PEM bundle: server certificate first, then intermediates up to a CA. */
    bundlePem: string;
    /** external mode: the operator's private key (PEM). */
    privateKeyPem?: string;
    /** csr mode: the public key of pinhole's key that the CSR was made with. */
    publicKeyPem?: string;
    /** Where the bundle came from, for messages ("pinhole:proxy1Cert"). */
    source?: string;
    /** Where the key came from, for messages. */
    keySource?: string;
    /** Warn when the certificate expires within this many days (default 30; a third of the lifetime when shorter, unless explicit). */
    renewBeforeDays?: number;
    renewBeforeExplicit?: boolean;
    now?: Date;
}

export type CertificateProblemKind = "parse" | "name" | "key" | "chain" | "not-yet-valid" | "expired";

export interface CertificateProblem {
    kind: CertificateProblemKind;
    message: string;
}

export interface BundleCheckResult {
    /** Reasons to reject the bundle (nothing may be installed while there is one). */
    problems: CertificateProblem[];
    warnings: string[];
    /** The leaf's details, when it could be parsed. */
    details?: CertificateDetails;
    /** The bundle normalised (certificates only, in order). */
    bundlePem?: string;
}

/**
 * Everything that must hold before a CA-signed bundle is installed on a node: parses; the first
 * certificate names the node (fqdn in subjectAltName, wildcards allowed); it matches the key; each
 * certificate is signed by the next and every certificate after the first is a CA; the chain reaches a CA
 * (the bundle does not stop at a server certificate issued by someone absent); all are within validity.
 */
export function checkCertificateBundle(i: BundleCheckInput): BundleCheckResult {
    const now = i.now ?? new Date();
    const src = i.source ? ` (${i.source})` : "";
    const pems = splitPemBundle(i.bundlePem ?? "");
    if (pems.length === 0) return { problems: [noCertificate(i.bundlePem ?? "", src)], warnings: [] };
    const problems: CertificateProblem[] = [];
    if (/PRIVATE KEY-----/.test(i.bundlePem)) {
        problems.push({
            kind: "parse",
            message: `the certificate bundle${src} also contains a private key: keep the key in its own secret config key, the bundle is certificates only`,
        });
    }
    const certs = parseAll(pems, src, problems);
    if (certs.length !== pems.length) return { problems, warnings: [] };
    const leaf = certs[0];
    const details = detailsOf(leaf);
    const name = nameFindings(i, leaf, details);
    problems.push(...keyProblems(i, certs), ...name.problems, ...chainProblems(certs), ...validityProblems(certs, now));
    const warnings = [...name.warnings];
    const notice = expiryNotice(
        details.notAfter,
        noticeWindowDays(
            lifetimeDays(details.notBefore, details.notAfter),
            i.renewBeforeDays ?? NOTICE_DAYS,
            i.renewBeforeExplicit,
        ),
        now,
    );
    if (notice && !notice.expired) warnings.push(notice.text);
    return { problems, warnings, details, bundlePem: joinPemBundle(pems) };
}

function noCertificate(bundlePem: string, src: string): CertificateProblem {
    const hint = /PRIVATE KEY-----/.test(bundlePem)
        ? ": it holds a private key instead (swapped certificate and key config keys?)"
        : "";
    return {
        kind: "parse",
        message: `the certificate bundle${src} holds no PEM certificate (-----BEGIN CERTIFICATE-----)${hint}`,
    };
}

/** The certificates that parse; a problem for each one that does not. */
function parseAll(pems: string[], src: string, problems: CertificateProblem[]): X509Certificate[] {
    const certs: X509Certificate[] = [];
    for (const [n, pem] of pems.entries()) {
        try {
            certs.push(parseCert(pem));
        } catch (e) {
            problems.push({
                kind: "parse",
                message: `certificate #${n + 1} of the bundle${src} cannot be parsed: ${(e as Error).message}`,
            });
        }
    }
    return certs;
}

const label = (c: X509Certificate, n: number) =>
    `${n === 0 ? "the server certificate" : `chain certificate #${n + 1}`} (${dn(c.subject)})`;

/** The key (external: the operator's private key; csr: pinhole's public key) must be the server certificate's. */
function keyProblems(i: BundleCheckInput, certs: X509Certificate[]): CertificateProblem[] {
    const keyName = `the private key${i.keySource ? ` (${i.keySource})` : ""}`;
    let key: KeyObject | undefined;
    if (i.privateKeyPem !== undefined) {
        try {
            key = createPrivateKey(i.privateKeyPem);
        } catch {
            // Never quote the value: it is (meant to be) a private key.
            const why = /ENCRYPTED/.test(i.privateKeyPem)
                ? "it is encrypted (nginx would ask for a passphrase): supply it unencrypted, e.g. `openssl pkey -in key.pem`"
                : "it is not a PEM private key";
            return [{ kind: "key", message: `${keyName} cannot be used: ${why}` }];
        }
    } else if (i.publicKeyPem !== undefined) {
        key = createPublicKey(i.publicKeyPem);
    }
    if (!key) return [];
    const want = spkiOf(key);
    const at = certs.findIndex((c) => spkiOf(c.publicKey).equals(want));
    if (at < 0) {
        const whose =
            i.privateKeyPem !== undefined ? keyName : "pinhole's key for this node (the one the CSR was made with)";
        return [{ kind: "key", message: `the certificate does not match ${whose}: it was issued for another key` }];
    }
    if (at > 0) {
        return [
            {
                kind: "chain",
                message: `the bundle is out of order: the server certificate is #${at + 1}; put it first, then its issuer, up to the CA`,
            },
        ];
    }
    return [];
}

/** The node's network name must be in the leaf's subjectAltName; its addresses missing there are a warning. */
function nameFindings(
    i: BundleCheckInput,
    leaf: X509Certificate,
    details: CertificateDetails,
): { problems: CertificateProblem[]; warnings: string[] } {
    const fqdn = i.fqdn.toLowerCase();
    if (leaf.checkHost(fqdn, { subject: "never" }) === undefined) {
        const cnOnly = details.commonName.toLowerCase() === fqdn && details.dnsNames.length === 0;
        const names = [...details.dnsNames.map((d) => `DNS:${d}`), ...details.ipAddresses.map((a) => `IP:${a}`)];
        const message = cnOnly
            ? `the certificate carries the node's name ${i.fqdn} only in its subject CN; clients require it in subjectAltName (DNS:${i.fqdn})`
            : `the certificate does not match the node's network name ${i.fqdn}: it is for CN=${details.commonName || "(none)"}${names.length ? `, ${names.join(", ")}` : " (no subjectAltName)"}`;
        return { problems: [{ kind: "name", message }], warnings: [] };
    }
    const missingIps = i.addresses.filter((a) => leaf.checkIP(a) === undefined);
    const warnings = missingIps.length
        ? [
              `the certificate does not list ${missingIps.join(", ")} (IP subjectAltName): clients that connect by address will not accept it`,
          ]
        : [];
    return { problems: [], warnings };
}

/** Each certificate is issued (and signed) by the next, which is a CA; the last is a CA or self-signed. */
function chainProblems(certs: X509Certificate[]): CertificateProblem[] {
    const problems: CertificateProblem[] = [];
    for (let n = 0; n + 1 < certs.length; n++) {
        const c = certs[n];
        const next = certs[n + 1];
        if (!next.ca) {
            problems.push({
                kind: "chain",
                message: `${label(next, n + 1)} is not a CA certificate, so it cannot have issued ${label(c, n)}; the bundle must be the server certificate first, then intermediates up to a CA`,
            });
            continue;
        }
        if (!c.checkIssued(next) || !safeVerify(c, next.publicKey)) {
            problems.push({
                kind: "chain",
                message: `broken chain: ${label(c, n)} is issued by ${dn(c.issuer)}, but the next certificate is ${dn(next.subject)}${c.checkIssued(next) ? " and its signature does not verify with that CA's key" : ""}`,
            });
        }
    }
    const last = certs[certs.length - 1];
    const lastSelfSigned = last.subject === last.issuer && safeVerify(last, last.publicKey);
    if (!last.ca && !lastSelfSigned) {
        problems.push({
            kind: "chain",
            message: `incomplete chain: ${label(last, certs.length - 1)} is issued by ${dn(last.issuer)}, which is not in the bundle; append the intermediate certificate(s) up to the CA (single concatenated PEM file: server certificate first)`,
        });
    }
    return problems;
}

function validityProblems(certs: X509Certificate[], now: Date): CertificateProblem[] {
    const problems: CertificateProblem[] = [];
    for (const [n, c] of certs.entries()) {
        const from = Date.parse(c.validFrom);
        const to = Date.parse(c.validTo);
        if (from > now.getTime()) {
            problems.push({
                kind: "not-yet-valid",
                message: `${label(c, n)} is not yet valid: valid from ${platformTime(new Date(from).toISOString())} UTC`,
            });
        }
        if (to <= now.getTime()) {
            problems.push({
                kind: "expired",
                message: `${label(c, n)} has expired: WEB CERT EXPIRED AT: ${platformTime(new Date(to).toISOString())} UTC`,
            });
        }
    }
    return problems;
}

/** "node proxy-1: certificate rejected (pinhole:proxy1Cert): a; b" — one line per node. */
export function formatBundleProblems(node: string, problems: CertificateProblem[], source?: string): string {
    return (
        `node ${node}: web certificate${source ? ` from ${source}` : ""} rejected, nothing was installed:\n` +
        problems.map((p) => `  - ${p.message}`).join("\n")
    );
}
