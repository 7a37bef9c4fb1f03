// One function per certificate mode: the resources of that mode, and what the front end needs from it
// (the bundle nginx serves, its key, the rejection message of an operator bundle, the CSR). Used by
// WebCertificate (components/certificate.ts); every resource is a child of that component, named as before.
//
//   self-signed   PrivateKey + SelfSignedCertificate (default; the platform's own behaviour)
//   internal-ca   PrivateKey + LocallySignedCertificate from the stack's CA
//   csr           PrivateKey + CertificateRequest; the CA's reply from secret config once there, else self-signed
//   external      bundle and key from secret config, checked before anything is installed
//   acme          PrivateKey + AcmeCertificate ordered from certificates.acme's CA (HTTP-01 through the node's nginx)
import * as pulumi from "./pulumi";
import { checkCertificateBundle, formatBundleProblems } from "../model/certificate-bundle";
import { AcmeSettings, NodeCertificateSettings, NodeSpec } from "../model/types";
import { connectionOf } from "../remote/connection";
import {
    AcmeCertificate,
    CertificateRequest,
    CertificateSubject,
    LocallySignedCertificate,
    PrivateKey,
    SelfSignedCertificate,
} from "./tls";
import type { InternalCa } from "./certificate";

/** What the front end needs from a certificate mode. */
export interface ModeCertificate {
    /** The file nginx serves: server certificate first, then the chain. */
    bundle: pulumi.Output<string>;
    /** Its private key (secret). */
    keyPem: pulumi.Output<string>;
    /** Rejection message of an operator-supplied bundle (undefined when fine). */
    problem: pulumi.Output<string | undefined>;
    /** csr mode: still on pinhole's self-signed certificate, waiting for the CA's reply. */
    pending: boolean;
    certRequestPem?: pulumi.Output<string>;
    /** The operator's renewal, not pinhole's (external bundle, csr reply). */
    operatorRenews: boolean;
}

export interface ModeContext {
    /** The WebCertificate's name (children are `${name}-key`, `-selfsigned`, `-signed`, `-csr`). */
    name: string;
    node: NodeSpec;
    entry?: NodeCertificateSettings;
    subject: CertificateSubject;
    dnsNames: string[];
    ipAddresses: string[];
    validityDays: number;
    /** Renewal window of pinhole-issued certificates (model/certificates.ts noticeWindowDays). */
    renewalDays: number;
    /** Notice window for operator bundles' checks. */
    renewBeforeDays: number;
    renewBeforeExplicit?: boolean;
    secret: (key: string) => pulumi.Output<string> | undefined;
    ca?: InternalCa;
    /** acme mode: the CA, the account key (secret) and the SSH key the challenge is put on the node with. */
    acme?: AcmeSettings;
    acmeAccountKey?: pulumi.Output<string>;
    sshPrivateKey?: pulumi.Input<string>;
    now?: Date;
    parent: pulumi.ComponentResource;
}

function newKey(c: ModeContext): PrivateKey {
    return new PrivateKey(`${c.name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: c.parent });
}

function selfSignedOn(c: ModeContext, privateKeyPem: pulumi.Output<string>): SelfSignedCertificate {
    return new SelfSignedCertificate(
        `${c.name}-selfsigned`,
        {
            privateKeyPem,
            subject: c.subject,
            dnsNames: c.dnsNames,
            ipAddresses: c.ipAddresses,
            validityDays: c.validityDays,
            earlyRenewalDays: c.renewalDays,
        },
        { parent: c.parent },
    );
}

/** An operator bundle's checks (name, key, chain, validity), as one message or undefined; other warnings logged. */
function checkBundle(
    c: ModeContext,
    bundle: pulumi.Output<string>,
    key: { privateKeyPem?: pulumi.Output<string>; publicKeyPem?: pulumi.Output<string> },
    source: string,
    keySource?: string,
) {
    return pulumi
        .all([bundle, key.privateKeyPem ?? pulumi.output(undefined), key.publicKeyPem ?? pulumi.output(undefined)])
        .apply(([bundlePem, privateKeyPem, publicKeyPem]) => {
            const res = checkCertificateBundle({
                node: c.node.name,
                fqdn: c.node.fqdn,
                addresses: c.ipAddresses,
                bundlePem,
                privateKeyPem,
                publicKeyPem,
                source,
                keySource,
                renewBeforeDays: c.renewBeforeDays,
                renewBeforeExplicit: c.renewBeforeExplicit,
                now: c.now,
            });
            // (The expiry notice is printed once, with the summary.)
            for (const w of res.warnings.filter((x) => !x.startsWith("WEB CERT")))
                void pulumi.log.warn(`node ${c.node.name}: ${w}`, c.parent);
            return res.problems.length ? formatBundleProblems(c.node.name, res.problems, source) : undefined;
        });
}

const none = pulumi.output<string | undefined>(undefined);

export function selfSignedMode(c: ModeContext): ModeCertificate {
    const key = newKey(c);
    return {
        bundle: selfSignedOn(c, key.privateKeyPem).certPem,
        keyPem: pulumi.secret(key.privateKeyPem),
        problem: none,
        pending: false,
        operatorRenews: false,
    };
}

export function internalCaMode(c: ModeContext): ModeCertificate {
    if (!c.ca)
        throw new pulumi.ResourceError(
            `node ${c.node.name}: internal-ca mode needs the cluster's InternalCa`,
            c.parent,
        );
    const ca = c.ca;
    const key = newKey(c);
    const signed = new LocallySignedCertificate(
        `${c.name}-signed`,
        {
            publicKeyPem: key.publicKeyPem,
            subject: c.subject,
            dnsNames: c.dnsNames,
            ipAddresses: c.ipAddresses,
            caPrivateKeyPem: ca.privateKeyPem,
            caCertPem: ca.certPem,
            validityDays: c.validityDays,
            earlyRenewalDays: c.renewalDays,
        },
        { parent: c.parent },
    );
    const bundle = pulumi
        .all([signed.certPem, ca.certPem])
        .apply(([leaf, caPem]) => leaf.trimEnd() + "\n" + caPem.trimEnd() + "\n");
    return { bundle, keyPem: pulumi.secret(key.privateKeyPem), problem: none, pending: false, operatorRenews: false };
}

export function csrMode(c: ModeContext): ModeCertificate {
    const key = newKey(c);
    const csr = new CertificateRequest(
        `${c.name}-csr`,
        {
            privateKeyPem: key.privateKeyPem,
            subject: c.subject,
            dnsNames: c.dnsNames,
            ipAddresses: c.ipAddresses,
        },
        { parent: c.parent },
    );
    const replyKey = c.entry?.certificateConfigKey;
    const reply = replyKey ? c.secret(replyKey) : undefined;
    const keyPem = pulumi.secret(key.privateKeyPem);
    if (reply) {
        return {
            bundle: reply,
            keyPem,
            problem: checkBundle(c, reply, { publicKeyPem: key.publicKeyPem }, `pinhole:${replyKey}`),
            pending: false,
            certRequestPem: csr.certRequestPem,
            operatorRenews: true,
        };
    }
    void pulumi.log.info(
        `node ${c.node.name}: csr mode, waiting for the CA's reply${replyKey ? ` in pinhole:${replyKey}` : ` (set certificates.nodes.${c.node.name}.certificateConfigKey)`}; serving a self-signed certificate meanwhile`,
        c.parent,
    );
    return {
        bundle: selfSignedOn(c, key.privateKeyPem).certPem,
        keyPem,
        problem: none,
        pending: true,
        certRequestPem: csr.certRequestPem,
        operatorRenews: false,
    };
}

export function externalMode(c: ModeContext): ModeCertificate {
    const certKey = c.entry?.certificateConfigKey;
    const keyKey = c.entry?.keyConfigKey;
    if (!certKey || !keyKey) {
        throw new pulumi.ResourceError(
            `node ${c.node.name}: external mode needs certificates.nodes.${c.node.name}.certificateConfigKey and keyConfigKey`,
            c.parent,
        );
    }
    const b = c.secret(certKey);
    const k = c.secret(keyKey);
    if (!b || !k) {
        const missing = [!b ? certKey : undefined, !k ? keyKey : undefined].filter(Boolean);
        throw new pulumi.ResourceError(
            `node ${c.node.name}: external mode: secret config ${missing.map((m) => `pinhole:${m}`).join(" and ")} not set ` +
                `(\`pulumi config set --secret ${missing[0]} < file.pem\`)`,
            c.parent,
            true,
        );
    }
    return {
        bundle: b,
        keyPem: pulumi.secret(k),
        problem: checkBundle(c, b, { privateKeyPem: k }, `pinhole:${certKey}`, `pinhole:${keyKey}`),
        pending: false,
        operatorRenews: true,
    };
}

export function acmeMode(c: ModeContext): ModeCertificate {
    const acme = c.acme;
    if (!acme || !c.acmeAccountKey || !c.sshPrivateKey)
        throw new pulumi.ResourceError(
            `node ${c.node.name}: acme mode needs certificates.acme (directoryUrl) and the stack's ACME account key`,
            c.parent,
        );
    const key = newKey(c);
    const caPem = acme.directoryCaConfigKey ? c.secret(acme.directoryCaConfigKey) : undefined;
    if (acme.directoryCaConfigKey && !caPem)
        throw new pulumi.ResourceError(
            `node ${c.node.name}: certificates.acme.directoryCaConfigKey names pinhole:${acme.directoryCaConfigKey}, which is not set`,
            c.parent,
            true,
        );
    const cert = new AcmeCertificate(
        `${c.name}-acme`,
        {
            node: c.node.name,
            connection: connectionOf(c.node),
            privateKey: pulumi.secret(c.sshPrivateKey),
            directoryUrl: acme.directoryUrl,
            ...(caPem ? { directoryCaPem: pulumi.unsecret(caPem) } : {}),
            ...(acme.email ? { email: acme.email } : {}),
            accountKeyPem: c.acmeAccountKey,
            keyPem: key.privateKeyPem,
            // An ACME CA certifies DNS names only (the short node name and the addresses are not public names).
            dnsNames: c.dnsNames.filter((n) => n.includes(".")),
            ipv6: c.node.address6 !== undefined,
            ...(c.renewBeforeExplicit ? { renewBeforeDays: c.renewBeforeDays } : {}),
        },
        { parent: c.parent },
    );
    return {
        bundle: cert.certPem,
        keyPem: pulumi.secret(key.privateKeyPem),
        problem: none,
        pending: false,
        operatorRenews: false,
    };
}

export const MODES = {
    "self-signed": selfSignedMode,
    "internal-ca": internalCaMode,
    csr: csrMode,
    external: externalMode,
    acme: acmeMode,
} as const;
