// Key and certificate resources (in place of @pulumi/tls, see docs/toolchain.md): keys come from
// Node's crypto, certificates from @peculiar/x509 on Node's WebCrypto. Private keys only ever leave
// this module as secret outputs.
import type * as X509 from "@peculiar/x509";
import { x509 } from "./x509";
import {
    createHash,
    createPrivateKey,
    createPublicKey,
    generateKeyPairSync,
    KeyObject,
    randomBytes,
    webcrypto,
} from "crypto";
import { changedKeys, CheckFailure, DiffResult, inputDiff, ProviderError, ResourceHandler } from "./framework";
import { PRIVATE_KEY, SELF_SIGNED_CERTIFICATE } from "./schema";
import { expiryNotice } from "../model/certificates";
import { CertificateSubjectFields, SUBJECT_FIELDS } from "../model/types";

type WebKey = webcrypto.CryptoKey;
type SigningAlgorithm = webcrypto.Algorithm & { hash?: string };

export type KeyAlgorithm = "ECDSA" | "RSA";

export interface PrivateKeyInputs {
    algorithm: KeyAlgorithm;
    /** ECDSA only: P256 (default) or P384. */
    ecdsaCurve?: "P256" | "P384";
    /** RSA only: 2048 (default), 3072 or 4096. */
    rsaBits?: number;
}

export function generatePrivateKeyPem(inputs: PrivateKeyInputs): string {
    const key =
        inputs.algorithm === "RSA"
            ? generateKeyPairSync("rsa", { modulusLength: inputs.rsaBits ?? 2048 }).privateKey
            : generateKeyPairSync("ec", { namedCurve: inputs.ecdsaCurve === "P384" ? "P-384" : "P-256" }).privateKey;
    return key.export({ type: "pkcs8", format: "pem" }).toString();
}

export function publicKeyPemOf(privateKeyPem: string): string {
    return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "pem" }).toString();
}

export function fingerprintSha256(pem: string): string {
    const der = createPublicKey(pem).export({ type: "spki", format: "der" });
    return createHash("sha256").update(der).digest("hex");
}

/** WebCrypto keys + signing algorithm for a PEM private key (ECDSA P-256/P-384 or RSA). */
export async function signingKeys(privateKeyPem: string): Promise<{
    privateKey: WebKey;
    publicKey: WebKey;
    signingAlgorithm: SigningAlgorithm;
}> {
    const key: KeyObject = createPrivateKey(privateKeyPem);
    const pkcs8 = key.export({ type: "pkcs8", format: "der" });
    const spki = createPublicKey(key).export({ type: "spki", format: "der" });
    let alg: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
    let signingAlgorithm: SigningAlgorithm;
    if (key.asymmetricKeyType === "rsa") {
        alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
        signingAlgorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    } else if (key.asymmetricKeyType === "ec") {
        const curve = key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "P-384" : "P-256";
        alg = { name: "ECDSA", namedCurve: curve };
        signingAlgorithm = { name: "ECDSA", hash: curve === "P-384" ? "SHA-384" : "SHA-256" };
    } else {
        throw new ProviderError(`unsupported private key type ${key.asymmetricKeyType} (use ECDSA or RSA)`);
    }
    const subtle = webcrypto.subtle;
    return {
        privateKey: await subtle.importKey("pkcs8", pkcs8, alg, false, ["sign"]),
        publicKey: await subtle.importKey("spki", spki, alg, true, ["verify"]),
        signingAlgorithm,
    };
}

/** CN plus the subject fields of model/types.ts SUBJECT_FIELDS. */
export type Subject = { commonName: string } & CertificateSubjectFields;

/** "CN=..., O=..., OU=..., L=..., ST=..., C=..., E=..." (SUBJECT_FIELDS order; each value escaped for a DN). */
export function distinguishedName(s: Subject): string {
    const esc = (v: string) => v.replace(/([,+"\\<>;=])/g, "\\$1");
    const parts = [`CN=${esc(s.commonName)}`];
    for (const f of SUBJECT_FIELDS) {
        const v = s[f.key];
        if (v) parts.push(`${f.attribute}=${esc(v)}`);
    }
    return parts.join(", ");
}

export function sanExtension(dnsNames: string[], ipAddresses: string[]): X509.SubjectAlternativeNameExtension {
    const lib = x509();
    return new lib.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
    ]);
}

export function serialNumber(): string {
    const b = randomBytes(16);
    b[0] &= 0x7f; // positive
    return b.toString("hex");
}

export interface CertificateTimes {
    notBefore: string;
    notAfter: string;
}

/** True when the certificate is inside its renewal window (or expired) at `now`. */
export function dueForRenewal(notAfter: string | undefined, renewBeforeDays: number, now = Date.now()): boolean {
    if (!notAfter) return false;
    return Date.parse(notAfter) - renewBeforeDays * 86_400_000 <= now;
}

/**
 * The validity end a certificate's check puts in its inputs (the `notAfter` input): the old one while the
 * certificate is kept, a new one (now + validityDays, capped at `cap`, the CA's end) when it is first
 * issued, when a content key changes or when it is due for renewal. The engine stores it with the inputs,
 * so a renewal's diff shows the expiring date against the new one. A state from before this input
 * existed (old inputs without notAfter) keeps none until its next issue: the diff then decides from the
 * issued certificate alone.
 */
export function plannedNotAfter<N extends CertificateInputs & { notAfter?: string }>(
    news: N,
    olds: N | undefined,
    contentKeys: readonly string[],
    now = Date.now(),
    cap?: string,
): string | undefined {
    const fresh = () => {
        const end = now + news.validityDays * 86_400_000;
        const limit = cap ? Date.parse(cap) : NaN;
        return new Date(Number.isFinite(limit) && limit < end ? limit : end).toISOString();
    };
    if (!olds) return fresh();
    if (changedKeys(olds, news, contentKeys).length) return fresh();
    if (olds.notAfter === undefined) return undefined;
    return dueForRenewal(olds.notAfter, news.earlyRenewalDays, now) ? fresh() : olds.notAfter;
}

/** When an issue ends: the planned `notAfter` input if it is still ahead, else now + validityDays. */
export function issueEnd(i: { validityDays: number; notAfter?: string }, now: Date): Date {
    const planned = i.notAfter ? Date.parse(i.notAfter) : NaN;
    return Number.isFinite(planned) && planned > now.getTime()
        ? new Date(planned)
        : new Date(now.getTime() + i.validityDays * 86_400_000);
}

export interface SelfSignedInputs {
    privateKeyPem: string;
    subject: Subject;
    dnsNames: string[];
    ipAddresses: string[];
    validityDays: number;
    /** Replace the certificate this many days before it expires. */
    earlyRenewalDays: number;
    isCa: boolean;
    /** End of validity planned by the check (plannedNotAfter); now + validityDays without it. */
    notAfter?: string;
}

/** What an issue returns: the certificate and its times, as the resources' outputs hold them. */
export type IssuedCertificate = { certPem: string } & CertificateTimes & { serial: string };

/** The validity window and serial of a new certificate; `cap` bounds its end (a signing CA's own end). */
export function issueWindow(
    i: { validityDays: number; notAfter?: string },
    now: Date,
    cap?: Date,
): { notBefore: Date; notAfter: Date; serial: string } {
    const notBefore = new Date(now.getTime() - 5 * 60_000); // tolerate small clock skew between hosts
    const end = issueEnd(i, now);
    return { notBefore, notAfter: cap && end > cap ? cap : end, serial: serialNumber() };
}

/**
 * The extensions of a server or CA certificate: basic constraints (a CA's path length when given), key usage, the
 * subject key id, the authority key id when another key signs, server auth for a server, and the SANs.
 */
export async function certificateExtensions(c: {
    isCa: boolean;
    caPathLength?: number;
    subjectKey: X509.PublicKey | WebKey;
    authorityKey?: WebKey;
    dnsNames: string[];
    ipAddresses: string[];
}): Promise<X509.Extension[]> {
    const lib = x509();
    const extensions: X509.Extension[] = [
        new lib.BasicConstraintsExtension(c.isCa, c.isCa ? c.caPathLength : undefined, true),
        new lib.KeyUsagesExtension(
            c.isCa
                ? lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign | lib.KeyUsageFlags.digitalSignature
                : lib.KeyUsageFlags.digitalSignature | lib.KeyUsageFlags.keyEncipherment,
            true,
        ),
        await lib.SubjectKeyIdentifierExtension.create(c.subjectKey),
    ];
    if (c.authorityKey) extensions.push(await lib.AuthorityKeyIdentifierExtension.create(c.authorityKey));
    if (!c.isCa) extensions.push(new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth]));
    if (c.dnsNames.length + c.ipAddresses.length > 0) extensions.push(sanExtension(c.dnsNames, c.ipAddresses));
    return extensions;
}

/** An issued certificate as the outputs hold it. */
export function issued(
    cert: X509.X509Certificate,
    w: { notBefore: Date; notAfter: Date; serial: string },
): IssuedCertificate {
    return {
        certPem: cert.toString("pem") + "\n",
        notBefore: w.notBefore.toISOString(),
        notAfter: w.notAfter.toISOString(),
        serial: w.serial,
    };
}

export async function issueSelfSigned(i: SelfSignedInputs, now = new Date()): Promise<IssuedCertificate> {
    const lib = x509();
    const keys = await signingKeys(i.privateKeyPem);
    const w = issueWindow(i, now);
    const cert = await lib.X509CertificateGenerator.createSelfSigned({
        serialNumber: w.serial,
        name: distinguishedName(i.subject),
        notBefore: w.notBefore,
        notAfter: w.notAfter,
        signingAlgorithm: keys.signingAlgorithm,
        keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
        extensions: await certificateExtensions({ ...i, subjectKey: keys.publicKey }),
    });
    return issued(cert, w);
}

export const privateKeyHandler: ResourceHandler<typeof PRIVATE_KEY> = {
    spec: PRIVATE_KEY,
    async create(inputs) {
        const privateKeyPem = generatePrivateKeyPem(inputs);
        const publicKeyPem = publicKeyPemOf(privateKeyPem);
        const fp = fingerprintSha256(publicKeyPem);
        return {
            id: fp.slice(0, 32),
            outs: { ...inputs, privateKeyPem, publicKeyPem, publicKeyFingerprintSha256: fp },
        };
    },
};

type CertificateInputs = { validityDays: number; earlyRenewalDays: number };

/** Shared by the certificate types: the renewal window must fit in the validity (the schema has each bound alone). */
export function checkValidity(news: CertificateInputs): CheckFailure[] {
    return news.earlyRenewalDays < news.validityDays
        ? []
        : [
              {
                  property: "earlyRenewalDays",
                  reason: `must be less than validityDays (${news.validityDays}), not ${news.earlyRenewalDays}`,
              },
          ];
}

/**
 * Certificates are replaced when one of `contentKeys` changes or when they enter the renewal window
 * (a replacing change of notAfter: the issued certificate's end against the planned one, plannedNotAfter);
 * a change of earlyRenewalDays alone is an in-place update.
 */
export function certificateDiff<
    O extends CertificateInputs & { notAfter: string; subject?: { commonName?: string } },
    N extends CertificateInputs,
>(olds: O, news: N, contentKeys: readonly string[], now = new Date()): DiffResult {
    const d = inputDiff(olds, news, [...contentKeys, "earlyRenewalDays"], contentKeys);
    if (dueForRenewal(olds.notAfter, news.earlyRenewalDays, now.getTime())) {
        d.detailedDiff.notAfter = "update-replace";
        d.replaces.push("notAfter");
        d.changes = true;
        // The notice of the certificate now serving, shown while preview / up plan its renewal.
        const n = expiryNotice(olds.notAfter, news.earlyRenewalDays, now);
        if (n)
            d.warnings = [
                `${olds.subject?.commonName ? `${olds.subject.commonName}: ` : ""}${n.text}: inside the renewal window (${news.earlyRenewalDays} days), pinhole issues a new certificate on this up`,
            ];
    }
    return d;
}

/** The in-place update of a certificate resource: new inputs, same certificate. */
export async function keepIssuedCertificate<O extends CertificateTimes & { certPem: string; serial: string }, N>(
    _id: string,
    olds: O,
    news: N,
): Promise<{ outs: O & N }> {
    return {
        outs: {
            ...olds,
            ...news,
            certPem: olds.certPem,
            notBefore: olds.notBefore,
            notAfter: olds.notAfter,
            serial: olds.serial,
        },
    };
}

const SELF_SIGNED_KEYS = ["privateKeyPem", "subject", "dnsNames", "ipAddresses", "validityDays", "isCa"];

export const selfSignedCertificateHandler: ResourceHandler<typeof SELF_SIGNED_CERTIFICATE> = {
    spec: SELF_SIGNED_CERTIFICATE,
    async check(news, olds) {
        const failures = checkValidity(news);
        if (failures.length) return { failures };
        return { inputs: { ...news, notAfter: plannedNotAfter(news, olds, SELF_SIGNED_KEYS) }, failures };
    },
    async diff(olds, news) {
        // Like `web cert gen_selfsigned`: a new certificate when its content changes or it enters the renewal window.
        return certificateDiff(olds, news, SELF_SIGNED_KEYS);
    },
    async create(inputs) {
        const cert = await issueSelfSigned(inputs);
        return { id: cert.serial, outs: { ...inputs, ...cert } };
    },
    update: keepIssuedCertificate,
};
