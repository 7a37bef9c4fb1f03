// Web certificate checks and details. Pure (Node's crypto only, no Pulumi): the components run these on
// operator-supplied bundles BEFORE anything is installed, so a wrong certificate fails `pulumi preview`
// with a message naming the node and what is wrong; the provider runs them again in its check.
//
//   splitPemBundle(text)                 → PEM certificates in file order
//   certificateDetails(pem)              → subject, SANs, issuer, validity, fingerprint (`web cert details`)
//   checkCertificateBundle(input)        → problems (reject) and warnings, per node
//   expiryNotice(node, notAfter, ...)    → "WEB CERT EXPIRES AT: ..." within the renewal window
import { createPrivateKey, createPublicKey, KeyObject, X509Certificate } from "crypto";
import { CertificateMode } from "./types";

export interface CertificateDetails {
    /** "CN=proxy-1.dc.example.com, O=Example" */
    subject: string;
    commonName: string;
    dnsNames: string[];
    ipAddresses: string[];
    issuer: string;
    notBefore: string;
    notAfter: string;
    /** SHA-256 of the DER certificate, "AB:CD:..." (what `openssl x509 -fingerprint -sha256` prints). */
    fingerprintSha256: string;
    serial: string;
    selfSigned: boolean;
    isCa: boolean;
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The PEM certificates in a bundle, in file order (other PEM blocks, e.g. a key pasted by mistake, are ignored here). */
export function splitPemBundle(text: string): string[] {
    return (text.match(PEM_CERT_RE) ?? []).map((p) => p.trim() + "\n");
}

/** Normalised bundle text: each certificate once, leaf first as given, one trailing newline each. */
export function joinPemBundle(pems: string[]): string {
    return pems.map((p) => p.trim() + "\n").join("");
}

function dn(text: string): string {
    return text.split("\n").filter(Boolean).join(", ");
}

function cnOf(text: string): string {
    return /(?:^|\n)CN=([^\n]*)/.exec(text)?.[1] ?? "";
}

/** "DNS:a, IP Address:10.0.0.1" → names (Node prints IPv6 expanded; kept as printed). */
export function parseSubjectAltName(san: string | undefined): { dnsNames: string[]; ipAddresses: string[] } {
    const dnsNames: string[] = [];
    const ipAddresses: string[] = [];
    for (const part of (san ?? "").split(/,\s*/)) {
        const m = /^(DNS|IP Address):(.*)$/.exec(part.trim());
        if (!m) continue;
        const value = m[2].replace(/^"(.*)"$/, "$1");
        (m[1] === "DNS" ? dnsNames : ipAddresses).push(value);
    }
    return { dnsNames, ipAddresses };
}

function parseCert(pem: string): X509Certificate {
    return new X509Certificate(pem);
}

export function detailsOf(cert: X509Certificate): CertificateDetails {
    const { dnsNames, ipAddresses } = parseSubjectAltName(cert.subjectAltName);
    return {
        subject: dn(cert.subject),
        commonName: cnOf(cert.subject),
        dnsNames,
        ipAddresses,
        issuer: dn(cert.issuer),
        notBefore: new Date(Date.parse(cert.validFrom)).toISOString(),
        notAfter: new Date(Date.parse(cert.validTo)).toISOString(),
        fingerprintSha256: cert.fingerprint256,
        serial: cert.serialNumber,
        selfSigned: cert.subject === cert.issuer && safeVerify(cert, cert.publicKey),
        isCa: cert.ca,
    };
}

/** Details of the first (leaf) certificate of a PEM bundle. Throws on text without a certificate. */
export function certificateDetails(pem: string): CertificateDetails {
    const first = splitPemBundle(pem)[0];
    if (!first) throw new Error("no PEM certificate (-----BEGIN CERTIFICATE-----) found");
    return detailsOf(parseCert(first));
}

function safeVerify(cert: X509Certificate, key: KeyObject): boolean {
    try {
        return cert.verify(key);
    } catch {
        return false;
    }
}

function spkiOf(key: KeyObject): Buffer {
    const pub = key.type === "private" ? createPublicKey(key) : key;
    return pub.export({ type: "spki", format: "der" }) as Buffer;
}

/** "2014-09-26 11:30:02" (the platform's notice format, UTC). */
export function platformTime(iso: string): string {
    return new Date(iso)
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d{3}Z$/, "");
}

// ------------------------------------------------------------------------------------------ checks

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
    const problems: CertificateProblem[] = [];
    const warnings: string[] = [];
    const now = i.now ?? new Date();
    const src = i.source ? ` (${i.source})` : "";
    const pems = splitPemBundle(i.bundlePem ?? "");
    if (pems.length === 0) {
        const hint = /PRIVATE KEY-----/.test(i.bundlePem ?? "")
            ? ": it holds a private key instead (swapped certificate and key config keys?)"
            : "";
        return {
            problems: [
                {
                    kind: "parse",
                    message: `the certificate bundle${src} holds no PEM certificate (-----BEGIN CERTIFICATE-----)${hint}`,
                },
            ],
            warnings,
        };
    }
    if (/PRIVATE KEY-----/.test(i.bundlePem)) {
        problems.push({
            kind: "parse",
            message: `the certificate bundle${src} also contains a private key: keep the key in its own secret config key, the bundle is certificates only`,
        });
    }
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
    if (certs.length !== pems.length) return { problems, warnings };
    const leaf = certs[0];
    const details = detailsOf(leaf);
    const label = (c: X509Certificate, n: number) =>
        `${n === 0 ? "the server certificate" : `chain certificate #${n + 1}`} (${dn(c.subject)})`;

    // --- key
    let key: KeyObject | undefined;
    if (i.privateKeyPem !== undefined) {
        try {
            key = createPrivateKey(i.privateKeyPem);
        } catch {
            // Never quote the value: it is (meant to be) a private key.
            const why = /ENCRYPTED/.test(i.privateKeyPem)
                ? "it is encrypted (nginx would ask for a passphrase): supply it unencrypted, e.g. `openssl pkey -in key.pem`"
                : "it is not a PEM private key";
            problems.push({
                kind: "key",
                message: `the private key${i.keySource ? ` (${i.keySource})` : ""} cannot be used: ${why}`,
            });
        }
    } else if (i.publicKeyPem !== undefined) {
        key = createPublicKey(i.publicKeyPem);
    }
    if (key) {
        const want = spkiOf(key);
        const at = certs.findIndex((c) => spkiOf(c.publicKey).equals(want));
        if (at < 0) {
            const whose =
                i.privateKeyPem !== undefined
                    ? `the private key${i.keySource ? ` (${i.keySource})` : ""}`
                    : "pinhole's key for this node (the one the CSR was made with)";
            problems.push({
                kind: "key",
                message: `the certificate does not match ${whose}: it was issued for another key`,
            });
        } else if (at > 0) {
            problems.push({
                kind: "chain",
                message: `the bundle is out of order: the server certificate is #${at + 1}; put it first, then its issuer, up to the CA`,
            });
        }
    }

    // --- name
    const fqdn = i.fqdn.toLowerCase();
    const sanMatch = leaf.checkHost(fqdn, { subject: "never" }) !== undefined;
    if (!sanMatch) {
        const cnOnly = details.commonName.toLowerCase() === fqdn && details.dnsNames.length === 0;
        const names = [...details.dnsNames.map((d) => `DNS:${d}`), ...details.ipAddresses.map((a) => `IP:${a}`)];
        problems.push({
            kind: "name",
            message: cnOnly
                ? `the certificate carries the node's name ${i.fqdn} only in its subject CN; clients require it in subjectAltName (DNS:${i.fqdn})`
                : `the certificate does not match the node's network name ${i.fqdn}: it is for CN=${details.commonName || "(none)"}${names.length ? `, ${names.join(", ")}` : " (no subjectAltName)"}`,
        });
    }
    const missingIps = i.addresses.filter((a) => leaf.checkIP(a) === undefined);
    if (sanMatch && missingIps.length) {
        warnings.push(
            `the certificate does not list ${missingIps.join(", ")} (IP subjectAltName): clients that connect by address will not accept it`,
        );
    }

    // --- chain
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

    // --- validity
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

/** "node proxy-1: certificate rejected (pinhole:proxy1Cert): a; b" — one line per node. */
export function formatBundleProblems(node: string, problems: CertificateProblem[], source?: string): string {
    return (
        `node ${node}: web certificate${source ? ` from ${source}` : ""} rejected, nothing was installed:\n` +
        problems.map((p) => `  - ${p.message}`).join("\n")
    );
}

export interface ExpiryNotice {
    expired: boolean;
    /** "WEB CERT EXPIRES AT: 2014-09-26 11:30:02 UTC (in 12 days)" */
    text: string;
    daysLeft: number;
}

/** The reference's notice: 30 days before expiry. */
export const NOTICE_DAYS = 30;
/** Short-lived certificates get their notice (and pinhole-issued ones their renewal) at this share of the lifetime left. */
export const SHORT_LIVED_SHARE = 1 / 3;

/**
 * The notice / renewal window of a certificate valid for `lifetimeDays`: the reference's 30 days (or the
 * configured renewBeforeDays) for long-lived certificates, a third of the lifetime for short ones (a 90-day
 * certificate at 30 days, a 47-day one at ~15.7, a 3-day one at 1). An explicitly configured window is kept as is.
 */
export function noticeWindowDays(lifetimeDays: number, renewBeforeDays = NOTICE_DAYS, explicit = false): number {
    return explicit ? renewBeforeDays : Math.min(renewBeforeDays, lifetimeDays * SHORT_LIVED_SHARE);
}

/** Lifetime in days of a certificate (notBefore → notAfter, ISO strings). */
export const lifetimeDays = (notBefore: string, notAfter: string) =>
    (Date.parse(notAfter) - Date.parse(notBefore)) / 86_400_000;

/** Expiry state of a certificate as the outputs show it (`certificates.<node>.expiry`). */
export interface ExpiryStatus {
    state: "ok" | "notice" | "expired";
    /** The notice window that applies (days before notAfter). */
    windowDays: number;
    daysLeft: number;
    /** "WEB CERT EXPIRES AT: ..." inside the window, "WEB CERT EXPIRED AT: ..." after; null otherwise. */
    notice: string | null;
}

export function expiryStatus(
    notBefore: string,
    notAfter: string,
    renewBeforeDays = NOTICE_DAYS,
    explicit = false,
    now = new Date(),
): ExpiryStatus {
    const windowDays = Number(
        noticeWindowDays(lifetimeDays(notBefore, notAfter), renewBeforeDays, explicit).toFixed(3),
    );
    const n = expiryNotice(notAfter, windowDays, now);
    return {
        state: !n ? "ok" : n.expired ? "expired" : "notice",
        windowDays,
        daysLeft: Math.floor((Date.parse(notAfter) - now.getTime()) / 86_400_000),
        notice: n?.text ?? null,
    };
}

/** The platform's status-display notice, from `renewBeforeDays` before expiry on. */
export function expiryNotice(notAfter: string, renewBeforeDays: number, now = new Date()): ExpiryNotice | undefined {
    const to = Date.parse(notAfter);
    const daysLeft = Math.floor((to - now.getTime()) / 86_400_000);
    if (to <= now.getTime())
        return { expired: true, daysLeft, text: `WEB CERT EXPIRED AT: ${platformTime(notAfter)} UTC` };
    if (to - renewBeforeDays * 86_400_000 <= now.getTime()) {
        return {
            expired: false,
            daysLeft,
            text: `WEB CERT EXPIRES AT: ${platformTime(notAfter)} UTC (in ${daysLeft} day${daysLeft === 1 ? "" : "s"})`,
        };
    }
    return undefined;
}

/** What a node's certificate summary (stack output) holds: `web cert details` plus the mode. */
export interface WebCertificateSummary extends CertificateDetails {
    mode: CertificateMode;
    /** The notice window and where the certificate stands (preview, outputs and verify show the same). */
    expiry: ExpiryStatus;
    /** csr mode: still on pinhole's self-signed certificate, waiting for the CA's reply. */
    pending?: boolean;
}
