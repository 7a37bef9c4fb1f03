// Key and certificate resources (in place of @pulumi/tls, see docs/toolchain.md): keys come from
// Node's crypto, certificates from @peculiar/x509 on Node's WebCrypto. Private keys only ever leave
// this module as secret outputs.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes, webcrypto } from "crypto";
import { CheckFailure, ResourceHandler } from "./framework";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

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
    const key = inputs.algorithm === "RSA"
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
    privateKey: WebKey; publicKey: WebKey; signingAlgorithm: SigningAlgorithm;
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
        throw new Error(`unsupported private key type ${key.asymmetricKeyType} (use ECDSA or RSA)`);
    }
    const subtle = webcrypto.subtle;
    return {
        privateKey: await subtle.importKey("pkcs8", pkcs8, alg, false, ["sign"]),
        publicKey: await subtle.importKey("spki", spki, alg, true, ["verify"]),
        signingAlgorithm,
    };
}

export interface Subject {
    commonName: string;
    organization?: string;
    organizationalUnit?: string;
    country?: string;
}

export function distinguishedName(s: Subject): string {
    const esc = (v: string) => v.replace(/([,+"\\<>;=])/g, "\\$1");
    const parts = [`CN=${esc(s.commonName)}`];
    if (s.organizationalUnit) parts.push(`OU=${esc(s.organizationalUnit)}`);
    if (s.organization) parts.push(`O=${esc(s.organization)}`);
    if (s.country) parts.push(`C=${esc(s.country)}`);
    return parts.join(", ");
}

export function sanExtension(dnsNames: string[], ipAddresses: string[]): x509.SubjectAlternativeNameExtension {
    return new x509.SubjectAlternativeNameExtension([
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

export interface SelfSignedInputs {
    privateKeyPem: string;
    subject: Subject;
    dnsNames: string[];
    ipAddresses: string[];
    validityDays: number;
    /** Replace the certificate this many days before it expires. */
    earlyRenewalDays: number;
    isCa: boolean;
}

export async function issueSelfSigned(i: SelfSignedInputs, now = new Date()): Promise<{ certPem: string } & CertificateTimes & { serial: string }> {
    const keys = await signingKeys(i.privateKeyPem);
    const notBefore = new Date(now.getTime() - 5 * 60_000); // tolerate small clock skew between hosts
    const notAfter = new Date(now.getTime() + i.validityDays * 86_400_000);
    const serial = serialNumber();
    const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(i.isCa, undefined, true),
        new x509.KeyUsagesExtension(i.isCa
            ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature
            : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ];
    if (!i.isCa) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]));
    if (i.dnsNames.length + i.ipAddresses.length > 0) extensions.push(sanExtension(i.dnsNames, i.ipAddresses));
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serial, name: distinguishedName(i.subject), notBefore, notAfter,
        signingAlgorithm: keys.signingAlgorithm, keys: { privateKey: keys.privateKey, publicKey: keys.publicKey }, extensions,
    });
    return { certPem: cert.toString("pem") + "\n", notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), serial };
}

const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

export const privateKeyHandler: ResourceHandler = {
    replaceOnChanges: ["algorithm", "ecdsaCurve", "rsaBits"],
    secretOutputs: ["privateKeyPem"],
    outputOnly: ["privateKeyPem", "publicKeyPem", "publicKeyFingerprintSha256"],
    async check(news) {
        const failures = [];
        const algorithm = news.algorithm ?? "ECDSA";
        if (!["ECDSA", "RSA"].includes(algorithm)) failures.push({ property: "algorithm", reason: `must be ECDSA or RSA, not ${algorithm}` });
        if (news.rsaBits !== undefined && ![2048, 3072, 4096].includes(news.rsaBits)) failures.push({ property: "rsaBits", reason: "must be 2048, 3072 or 4096" });
        if (news.ecdsaCurve !== undefined && !["P256", "P384"].includes(news.ecdsaCurve)) failures.push({ property: "ecdsaCurve", reason: "must be P256 or P384" });
        return { inputs: { ...news, algorithm }, failures };
    },
    async create(inputs: PrivateKeyInputs) {
        const privateKeyPem = generatePrivateKeyPem(inputs);
        const publicKeyPem = publicKeyPemOf(privateKeyPem);
        const fp = fingerprintSha256(publicKeyPem);
        return { id: fp.slice(0, 32), outs: { ...inputs, privateKeyPem, publicKeyPem, publicKeyFingerprintSha256: fp } };
    },
};

/** Shared by the certificate types: validity inputs checked and defaulted, lists normalised. */
export function withCertificateDefaults(news: any, failures: CheckFailure[]): any {
    const validityDays = Number(news.validityDays ?? 365);
    const earlyRenewalDays = Number(news.earlyRenewalDays ?? 30);
    if (!(validityDays > 0)) failures.push({ property: "validityDays", reason: "must be a positive number of days" });
    if (!(earlyRenewalDays >= 0 && earlyRenewalDays < validityDays)) failures.push({ property: "earlyRenewalDays", reason: "must be >= 0 and less than validityDays" });
    return { ...news, dnsNames: asList(news.dnsNames), ipAddresses: asList(news.ipAddresses), validityDays, earlyRenewalDays, isCa: !!news.isCa };
}

/**
 * Certificates are replaced when any of `contentKeys` changes or when they enter the renewal window;
 * a change of earlyRenewalDays alone is an in-place update that keeps the certificate.
 */
export function certificateDiff(olds: any, news: any, contentKeys: string[]): { changes: boolean; replaces: string[]; deleteBeforeReplace: boolean } {
    const changed = contentKeys.filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
    if (dueForRenewal(olds.notAfter, news.earlyRenewalDays)) changed.push("notAfter");
    const earlyOnly = changed.length === 0 && olds.earlyRenewalDays !== news.earlyRenewalDays;
    return { changes: changed.length > 0 || earlyOnly, replaces: changed, deleteBeforeReplace: false };
}

/** The in-place update of a certificate resource: new inputs, same certificate. */
export async function keepIssuedCertificate(_id: string, olds: any, news: any): Promise<{ outs: any }> {
    return { outs: { ...olds, ...news, certPem: olds.certPem, notBefore: olds.notBefore, notAfter: olds.notAfter, serial: olds.serial } };
}

export const selfSignedCertificateHandler: ResourceHandler = {
    outputOnly: ["certPem", "notBefore", "notAfter", "serial"],
    async check(news) {
        const failures = [];
        if (!news.privateKeyPem) failures.push({ property: "privateKeyPem", reason: "is required" });
        if (!news.subject?.commonName) failures.push({ property: "subject.commonName", reason: "is required" });
        return { inputs: withCertificateDefaults(news, failures), failures };
    },
    async diff(olds, news) {
        // Like `web cert gen_selfsigned`: a new certificate when its content changes or it enters the renewal window.
        return certificateDiff(olds, news, ["privateKeyPem", "subject", "dnsNames", "ipAddresses", "validityDays", "isCa"]);
    },
    async create(inputs: SelfSignedInputs) {
        const cert = await issueSelfSigned(inputs);
        return { id: cert.serial, outs: { ...inputs, ...cert } };
    },
    update: keepIssuedCertificate,
};
