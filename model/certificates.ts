// Web certificate checks and details. Pure (Node's crypto only, no Pulumi): the components run these on
// operator-supplied bundles BEFORE anything is installed, so a wrong certificate fails `pulumi preview`
// with a message naming the node and what is wrong; the provider runs them again in its check.
//
//   splitPemBundle(text)                 → PEM certificates in file order
//   certificateDetails(pem)              → subject, SANs, issuer, validity, fingerprint (`web cert details`)
//   expiryNotice(node, notAfter, ...)    → "WEB CERT EXPIRES AT: ..." within the renewal window
// The checks of a bundle before it is installed are in certificate-bundle.ts.
import { createPublicKey, KeyObject, X509Certificate } from "crypto";
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

export function dn(text: string): string {
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

export function parseCert(pem: string): X509Certificate {
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

export function safeVerify(cert: X509Certificate, key: KeyObject): boolean {
    try {
        return cert.verify(key);
    } catch {
        return false;
    }
}

export function spkiOf(key: KeyObject): Buffer {
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
