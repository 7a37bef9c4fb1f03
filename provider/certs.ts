// Certificate requests and CA-signed certificates (pinhole:tls:CertificateRequest,
// pinhole:tls:LocallySignedCertificate), next to provider/tls.ts's keys and self-signed certificates.
// Private keys (the node's for a CSR, the CA's for signing) come in as secrets and never leave this
// module: the outputs are a CSR and certificates, which are public.
import type * as X509 from "@peculiar/x509";
import { x509 } from "./x509";
import { createPublicKey } from "crypto";
import { CheckFailure, ProviderError, ResourceHandler } from "./framework";
import { CERTIFICATE_REQUEST, LOCALLY_SIGNED_CERTIFICATE } from "./schema";
import {
    certificateDiff,
    certificateExtensions,
    checkValidity,
    distinguishedName,
    issued,
    IssuedCertificate,
    issueWindow,
    keepIssuedCertificate,
    plannedNotAfter,
    publicKeyPemOf,
    sanExtension,
    serialNumber,
    signingKeys,
    Subject,
} from "./tls";

// (provider/tls.ts sets x509's crypto provider to Node's WebCrypto.)

// ------------------------------------------------------------------------------------------ CSR

export interface CertificateRequestInputs {
    /** The key the certificate will be issued for (secret). */
    privateKeyPem: string;
    subject: Subject;
    dnsNames: string[];
    ipAddresses: string[];
}

/** A PKCS#10 request (PEM) signed by the key, carrying the subject and the SANs as an extension request. */
export async function createCertificateRequest(i: CertificateRequestInputs): Promise<string> {
    const lib = x509();
    const keys = await signingKeys(i.privateKeyPem);
    const extensions: X509.Extension[] = [
        new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature | lib.KeyUsageFlags.keyEncipherment, true),
        new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth]),
    ];
    if (i.dnsNames.length + i.ipAddresses.length > 0) extensions.push(sanExtension(i.dnsNames, i.ipAddresses));
    const csr = await lib.Pkcs10CertificateRequestGenerator.create({
        name: distinguishedName(i.subject),
        keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
        signingAlgorithm: keys.signingAlgorithm,
        extensions,
    });
    return csr.toString("pem") + "\n";
}

/** Subject CN and SANs of a CSR (after checking its signature). */
export async function readCertificateRequest(
    pem: string,
): Promise<{ commonName: string; subject: string; dnsNames: string[]; ipAddresses: string[]; publicKeyPem: string }> {
    const lib = x509();
    let csr: X509.Pkcs10CertificateRequest;
    try {
        csr = new lib.Pkcs10CertificateRequest(pem);
    } catch (e) {
        throw new ProviderError(
            `not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----): ${(e as Error).message}`,
        );
    }
    if (!(await csr.verify()))
        throw new ProviderError(
            "the certificate request's signature does not verify (corrupted, or not signed by its own key)",
        );
    const san = csr.extensions.find(
        (e): e is X509.SubjectAlternativeNameExtension => e instanceof lib.SubjectAlternativeNameExtension,
    );
    const names: readonly { type: string; value: string }[] = san?.names.items ?? [];
    const cn = csr.subjectName.getField("CN")[0] ?? "";
    const spki = Buffer.from(csr.publicKey.rawData);
    return {
        commonName: cn,
        subject: csr.subject,
        dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
        ipAddresses: names.filter((n) => n.type === "ip").map((n) => n.value),
        publicKeyPem: createPublicKey({ key: spki, format: "der", type: "spki" })
            .export({ type: "spki", format: "pem" })
            .toString(),
    };
}

export const certificateRequestHandler: ResourceHandler<typeof CERTIFICATE_REQUEST> = {
    spec: CERTIFICATE_REQUEST,
    async create(inputs) {
        const certRequestPem = await createCertificateRequest(inputs);
        return { id: serialNumber().slice(0, 24), outs: { ...inputs, certRequestPem } };
    },
};

// ------------------------------------------------------------------------------------------ CA-signed

export interface LocallySignedInputs {
    /** Either a CSR (its subject and SANs are used)... */
    certRequestPem?: string;
    /** ...or the public key (or private key, secret) with the subject and SANs given here. */
    publicKeyPem?: string;
    privateKeyPem?: string;
    subject?: Subject;
    dnsNames: string[];
    ipAddresses: string[];
    /** The signing CA (key secret). */
    caPrivateKeyPem: string;
    caCertPem: string;
    validityDays: number;
    earlyRenewalDays: number;
    /** Issue an intermediate CA certificate instead of a server certificate. */
    isCa: boolean;
    /** End of validity planned by the check (plannedNotAfter); now + validityDays without it. Never past the CA's. */
    notAfter?: string;
}

/** Issues a certificate signed by the CA. */
export async function issueLocallySigned(i: LocallySignedInputs, now = new Date()): Promise<IssuedCertificate> {
    const lib = x509();
    const { publicKeyPem, subjectDn, dnsNames, ipAddresses } = await subjectOf(i);
    const ca = new lib.X509Certificate(i.caCertPem);
    const caKeys = await signingKeys(i.caPrivateKeyPem);
    const caSpki = Buffer.from(ca.publicKey.rawData);
    const givenSpki = createPublicKey(i.caPrivateKeyPem).export({ type: "spki", format: "der" });
    if (!caSpki.equals(givenSpki)) throw new ProviderError("caPrivateKeyPem is not the key of caCertPem");

    const subjectKey = new lib.PublicKey(publicKeyPem);
    const w = issueWindow(i, now, ca.notAfter); // never outlive the CA
    const cert = await lib.X509CertificateGenerator.create({
        serialNumber: w.serial,
        subject: subjectDn,
        issuer: ca.subject,
        notBefore: w.notBefore,
        notAfter: w.notAfter,
        signingAlgorithm: caKeys.signingAlgorithm,
        publicKey: subjectKey,
        signingKey: caKeys.privateKey,
        extensions: await certificateExtensions({
            isCa: i.isCa,
            caPathLength: 0,
            subjectKey,
            authorityKey: caKeys.publicKey,
            dnsNames,
            ipAddresses,
        }),
    });
    return issued(cert, w);
}

/** Who the certificate is for: from the CSR (its names unless given), else from the subject and key. */
async function subjectOf(
    i: LocallySignedInputs,
): Promise<{ publicKeyPem: string; subjectDn: string; dnsNames: string[]; ipAddresses: string[] }> {
    if (i.certRequestPem) {
        const req = await readCertificateRequest(i.certRequestPem);
        const named = i.dnsNames.length + i.ipAddresses.length > 0;
        return {
            publicKeyPem: req.publicKeyPem,
            subjectDn: req.subject,
            dnsNames: named ? i.dnsNames : req.dnsNames,
            ipAddresses: named ? i.ipAddresses : req.ipAddresses,
        };
    }
    if (!i.subject?.commonName) throw new ProviderError("subject.commonName is required without a certRequestPem");
    return {
        publicKeyPem: i.publicKeyPem ?? publicKeyPemOf(i.privateKeyPem as string),
        subjectDn: distinguishedName(i.subject),
        dnsNames: i.dnsNames,
        ipAddresses: i.ipAddresses,
    };
}

/** The CA certificate's end (ISO 8601), or undefined while it is not known (preview) or not a certificate. */
function caEnd(caCertPem: string): string | undefined {
    const lib = x509();
    try {
        return new lib.X509Certificate(caCertPem).notAfter.toISOString();
    } catch {
        return undefined;
    }
}

const SIGNED_KEYS = [
    "certRequestPem",
    "publicKeyPem",
    "privateKeyPem",
    "subject",
    "dnsNames",
    "ipAddresses",
    "caPrivateKeyPem",
    "caCertPem",
    "validityDays",
    "isCa",
];

export const locallySignedCertificateHandler: ResourceHandler<typeof LOCALLY_SIGNED_CERTIFICATE> = {
    spec: LOCALLY_SIGNED_CERTIFICATE,
    async check(news, olds) {
        const failures: CheckFailure[] = checkValidity(news);
        if (!news.certRequestPem && !news.publicKeyPem && !news.privateKeyPem) {
            failures.push({
                property: "certRequestPem",
                reason: "give a certRequestPem, or a publicKeyPem/privateKeyPem with a subject",
            });
        }
        if (!news.certRequestPem && !news.subject?.commonName)
            failures.push({ property: "subject.commonName", reason: "is required without a certRequestPem" });
        if (failures.length) return { failures };
        return {
            inputs: { ...news, notAfter: plannedNotAfter(news, olds, SIGNED_KEYS, Date.now(), caEnd(news.caCertPem)) },
            failures,
        };
    },
    async diff(olds, news) {
        // Renewal: inside the window (or once the CA's own validity cut this one short), a new certificate is issued.
        return certificateDiff(olds, news, SIGNED_KEYS);
    },
    async create(inputs) {
        const cert = await issueLocallySigned(inputs);
        return { id: cert.serial, outs: { ...inputs, ...cert } };
    },
    update: keepIssuedCertificate,
};
