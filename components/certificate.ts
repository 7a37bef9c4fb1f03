// Web certificates: one WebCertificate per web-serving node (webproxy, application, unified, standalone)
// choosing the certificate mode, owning the key / certificate / CSR resources and the node's nginx front
// end (pinhole:node:WebServer); and the cluster's InternalCa for internal-ca mode.
//
//   self-signed   PrivateKey + SelfSignedCertificate (default; the platform's own behaviour)
//   internal-ca   PrivateKey + LocallySignedCertificate from the stack's CA (its certificate is a stack output)
//   csr           PrivateKey + CertificateRequest (exported); the CA's reply, once in secret config under
//                 certificateConfigKey, is checked and installed; until then the node keeps a self-signed one
//   external      bundle and key from secret config (certificateConfigKey, keyConfigKey), checked first
//
// Operator-supplied bundles are checked (model/certificates.ts) before anything is installed: a bundle
// that does not match the node's name or key, has a broken or incomplete chain, or is outside its validity
// fails the preview with a message naming the node; no node's front end changes while any is rejected.
import * as pulumi from "@pulumi/pulumi";
import {
    certificateDetails, checkCertificateBundle, expiryNotice, formatBundleProblems, WebCertificateSummary,
} from "../model/certificates";
import { CertificateMode, CertificateSettings, NodeCertificateSettings, NodeSpec } from "../model/types";
import { proxiesToUpstreams, renderNginxSite, upstreamServers, UpstreamServer } from "../render/nginx";
import { connectionOf } from "./firewall";
import { CertificateRequest, LocallySignedCertificate, PrivateKey, SelfSignedCertificate } from "./tls";
import { WEB_SERVER } from "../provider/schema";
import { ArgsOf, resourceInputs, resourceOptions } from "./provider-resource";

// ------------------------------------------------------------------------------------------ WebServer

export type WebServerArgs = ArgsOf<typeof WEB_SERVER>;

/** The provider resource: one node's nginx certificate, key and site config. */
export class WebServer extends pulumi.CustomResource {
    /** SHA-256 fingerprint ("AB:CD:...") of the certificate installed. */
    declare public readonly fingerprint: pulumi.Output<string>;
    declare public readonly notAfter: pulumi.Output<string>;
    /** What nginx served on the node right after install (and at the last refresh: liveServedFingerprint). */
    declare public readonly servedFingerprint: pulumi.Output<string>;
    declare public readonly liveServedFingerprint: pulumi.Output<string>;
    declare public readonly certificateSha256: pulumi.Output<string>;
    declare public readonly liveCertificateSha256: pulumi.Output<string>;
    declare public readonly siteSha256: pulumi.Output<string>;
    declare public readonly liveSiteSha256: pulumi.Output<string>;
    /** Original files kept aside on the node (restored on delete). */
    declare public readonly originals: pulumi.Output<string[]>;
    declare public readonly appliedAt: pulumi.Output<string>;

    constructor(name: string, args: WebServerArgs, opts?: pulumi.CustomResourceOptions) {
        super(WEB_SERVER.token, name, resourceInputs(WEB_SERVER, args), resourceOptions(WEB_SERVER, opts));
    }
}

// ------------------------------------------------------------------------------------------ InternalCa

export interface InternalCaArgs {
    /** Subject CN of the CA, e.g. "pinhole internal CA (prod)". */
    commonName: string;
    /** Default 3650. */
    validityDays?: number;
    /** The CA is re-issued (and every node certificate with it) this many days before it expires. Default 365. */
    earlyRenewalDays?: number;
}

/** The stack's own CA for internal-ca mode: its key exists only as a Pulumi secret. */
export class InternalCa extends pulumi.ComponentResource {
    /** The CA certificate (PEM): what clients put in their trust store. */
    public readonly certPem: pulumi.Output<string>;
    /** The CA key (secret). */
    public readonly privateKeyPem: pulumi.Output<string>;
    public readonly notAfter: pulumi.Output<string>;

    constructor(name: string, args: InternalCaArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:web:InternalCa", name, {}, opts);
        const key = new PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P384" }, { parent: this });
        const cert = new SelfSignedCertificate(`${name}-cert`, {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: args.commonName, organization: "pinhole" },
            validityDays: args.validityDays ?? 3650,
            earlyRenewalDays: args.earlyRenewalDays ?? 365,
            isCa: true,
        }, { parent: this });
        this.certPem = cert.certPem;
        this.privateKeyPem = pulumi.secret(key.privateKeyPem);
        this.notAfter = cert.notAfter;
        this.registerOutputs({ certPem: this.certPem, notAfter: this.notAfter });
    }
}

// ------------------------------------------------------------------------------------------ WebCertificate

/** What every node's WebCertificate shares (the Cluster builds it once). */
export interface NodeWebArgs {
    /** pinhole:certificates, validated. */
    settings: CertificateSettings;
    /** Every node of the cluster (proxies' upstreams are derived from it). */
    nodes: NodeSpec[];
    /** Secret config by key name (the keys named by certificateConfigKey / keyConfigKey); undefined when not set. */
    secret: (key: string) => pulumi.Output<string> | undefined;
    /** The stack's CA (required when any node is in internal-ca mode). */
    ca?: InternalCa;
    /**
     * Resolves when every node's certificate passed its checks (Cluster.certificateGate); the nginx install
     * waits for it, so no node changes while another node's certificate is rejected. Default: this node's own checks.
     */
    gate?: pulumi.Input<boolean>;
    /** Application-serving nodes: where nginx finds the application (default http://127.0.0.1:8080). */
    applicationBackend?: string;
    /** Original front-end files pinhole takes over (default render/nginx.ts DEFAULT_REPLACES). */
    replaces?: string[];
    /** Seconds to wait for nginx to serve the new certificate (default 10). */
    verifySeconds?: number;
    /** For tests: "now" of the validity and expiry checks. */
    now?: Date;
}

export interface WebCertificateArgs extends NodeWebArgs {
    node: NodeSpec;
    /** SSH private key (secret). */
    privateKey: pulumi.Input<string>;
}

/** The mode a node is in: its own override, else the stack's. */
export function modeOf(node: string, settings: CertificateSettings): { mode: CertificateMode; entry?: NodeCertificateSettings } {
    const entry = settings.nodes[node];
    return { mode: entry?.mode ?? settings.mode, entry };
}

/** Subject and SANs of the certificates pinhole issues for a node: its FQDN (CN and DNS), name, and addresses. */
export function identityOf(node: NodeSpec): { commonName: string; dnsNames: string[]; ipAddresses: string[] } {
    const dnsNames = [...new Set([node.fqdn, node.name])];
    const ipAddresses = [...new Set([node.address, ...(node.advertisedAddress ? [node.advertisedAddress] : [])])];
    return { commonName: node.fqdn, dnsNames, ipAddresses };
}

export class WebCertificate extends pulumi.ComponentResource {
    public readonly mode: CertificateMode;
    /** `web cert details`: subject, SANs, issuer, validity, fingerprint, mode. */
    public readonly summary: pulumi.Output<WebCertificateSummary>;
    /** csr mode: the CSR to send to the CA (`web cert gen_csr`). */
    public readonly certRequestPem?: pulumi.Output<string>;
    /** Rejection message for an operator-supplied bundle (undefined when fine). */
    public readonly problem: pulumi.Output<string | undefined>;
    /** The rendered nginx site config. */
    public readonly siteConfig: string;
    /** Web proxies: the `web weight list`. */
    public readonly upstreams?: UpstreamServer[];
    public readonly webServer: WebServer;

    constructor(name: string, args: WebCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:web:WebCertificate", name, {}, opts);
        const node = args.node;
        const { mode, entry } = modeOf(node.name, args.settings);
        this.mode = mode;
        const id = identityOf(node);
        const subject = { commonName: id.commonName };
        const validityDays = args.settings.validityDays;
        const renewBeforeDays = args.settings.renewBeforeDays;
        const addresses = id.ipAddresses;
        const child = { parent: this };

        let bundle: pulumi.Output<string>;
        let keyPem: pulumi.Output<string>;
        let problem: pulumi.Output<string | undefined> = pulumi.output(undefined);
        let pending = false;
        let source: string | undefined;

        const selfSigned = (privateKeyPem: pulumi.Output<string>) => new SelfSignedCertificate(`${name}-selfsigned`, {
            privateKeyPem, subject, dnsNames: id.dnsNames, ipAddresses: id.ipAddresses,
            validityDays, earlyRenewalDays: renewBeforeDays,
        }, child);

        const check = (b: pulumi.Output<string>, k: { privateKeyPem?: pulumi.Output<string>; publicKeyPem?: pulumi.Output<string> }, keySource?: string) =>
            pulumi.all([b, k.privateKeyPem ?? pulumi.output(undefined), k.publicKeyPem ?? pulumi.output(undefined)]).apply(([bundlePem, privateKeyPem, publicKeyPem]) => {
                const res = checkCertificateBundle({
                    node: node.name, fqdn: node.fqdn, addresses, bundlePem, privateKeyPem, publicKeyPem,
                    source, keySource, renewBeforeDays, now: args.now,
                });
                // (The expiry notice is printed once, with the summary below.)
                for (const w of res.warnings.filter((x) => !x.startsWith("WEB CERT"))) pulumi.log.warn(`node ${node.name}: ${w}`, this);
                return res.problems.length ? formatBundleProblems(node.name, res.problems, source) : undefined;
            });

        if (mode === "external") {
            const certKey = entry?.certificateConfigKey;
            const keyKey = entry?.keyConfigKey;
            if (!certKey || !keyKey) {
                throw new pulumi.ResourceError(`node ${node.name}: external mode needs certificates.nodes.${node.name}.certificateConfigKey and keyConfigKey`, this);
            }
            const b = args.secret(certKey);
            const k = args.secret(keyKey);
            const missing = [!b ? certKey : undefined, !k ? keyKey : undefined].filter(Boolean);
            if (!b || !k) {
                throw new pulumi.ResourceError(`node ${node.name}: external mode: secret config ${missing.map((m) => `pinhole:${m}`).join(" and ")} not set ` +
                    `(\`pulumi config set --secret ${missing[0]} < file.pem\`)`, this, true);
            }
            source = `pinhole:${certKey}`;
            bundle = b;
            keyPem = pulumi.secret(k);
            problem = check(b, { privateKeyPem: k }, `pinhole:${keyKey}`);
        } else {
            const key = new PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, child);
            keyPem = pulumi.secret(key.privateKeyPem);
            if (mode === "self-signed") {
                bundle = selfSigned(key.privateKeyPem).certPem;
            } else if (mode === "internal-ca") {
                if (!args.ca) throw new pulumi.ResourceError(`node ${node.name}: internal-ca mode needs the cluster's InternalCa`, this);
                const signed = new LocallySignedCertificate(`${name}-signed`, {
                    publicKeyPem: key.publicKeyPem, subject, dnsNames: id.dnsNames, ipAddresses: id.ipAddresses,
                    caPrivateKeyPem: args.ca.privateKeyPem, caCertPem: args.ca.certPem,
                    validityDays, earlyRenewalDays: renewBeforeDays,
                }, child);
                bundle = pulumi.all([signed.certPem, args.ca.certPem]).apply(([leaf, ca]) => leaf.trimEnd() + "\n" + ca.trimEnd() + "\n");
            } else {
                // csr
                const csr = new CertificateRequest(`${name}-csr`, {
                    privateKeyPem: key.privateKeyPem, subject, dnsNames: id.dnsNames, ipAddresses: id.ipAddresses,
                }, child);
                this.certRequestPem = csr.certRequestPem;
                const reply = entry?.certificateConfigKey ? args.secret(entry.certificateConfigKey) : undefined;
                if (reply) {
                    source = `pinhole:${entry?.certificateConfigKey}`;
                    bundle = reply;
                    problem = check(reply, { publicKeyPem: key.publicKeyPem });
                } else {
                    pending = true;
                    bundle = selfSigned(key.privateKeyPem).certPem;
                    pulumi.log.info(`node ${node.name}: csr mode, waiting for the CA's reply${entry?.certificateConfigKey ? ` in pinhole:${entry.certificateConfigKey}` : " (set certificates.nodes." + node.name + ".certificateConfigKey)"}; serving a self-signed certificate meanwhile`, this);
                }
            }
        }
        this.problem = problem;

        // nginx site
        if (proxiesToUpstreams(node.role)) this.upstreams = upstreamServers(node, args.nodes);
        const site = renderNginxSite({
            node: node.name, fqdn: node.fqdn, role: node.role, addresses, legacyProtocols: args.settings.legacyProtocols,
            upstreams: this.upstreams, applicationBackend: args.applicationBackend,
        });
        for (const w of site.warnings) pulumi.log.warn(w, this);
        this.siteConfig = site.config;

        // Nothing is installed unless every checked bundle passed (this node's, and the cluster's gate).
        const gate: pulumi.Input<boolean> = args.gate ?? problem.apply((p) => {
            if (p) throw new pulumi.ResourceError(p, this, true);
            return true;
        });
        const gatedBundle = pulumi.all([gate, bundle]).apply(([, b]) => b);
        const publicBundle = pulumi.unsecret(bundle);

        this.webServer = new WebServer(`${name}-server`, {
            node: node.name,
            connection: connectionOf(node),
            privateKey: pulumi.secret(args.privateKey),
            fqdn: node.fqdn,
            certificatePem: gatedBundle,
            keyPem,
            siteConfig: this.siteConfig,
            ...(args.replaces ? { replaces: args.replaces } : {}),
            ...(args.verifySeconds !== undefined ? { verifySeconds: args.verifySeconds } : {}),
        }, child);

        this.summary = publicBundle.apply((b) => {
            const d = certificateDetails(b);
            const s: WebCertificateSummary = { ...d, mode, ...(pending ? { pending: true } : {}) };
            const notice = expiryNotice(d.notAfter, renewBeforeDays, args.now);
            if (notice) pulumi.log.warn(`node ${node.name}: ${notice.text}${mode === "external" || (mode === "csr" && !pending) ? " — renew it with the CA and update the secret config" : " — pinhole renews it on the next `pulumi up`"}`, this);
            return s;
        });
        this.registerOutputs({ summary: this.summary, certRequestPem: this.certRequestPem, siteConfig: this.siteConfig });
    }
}

// ------------------------------------------------------------------------------------------ cluster helpers

/**
 * The all-or-nothing gate of a set of WebCertificates: hand `gate` to every node's NodeWebArgs, build the
 * nodes, then `settle(certificates)`. The gate resolves when every node's bundle passed its checks and fails
 * with one message listing every rejected node otherwise (it stays unknown in a preview that can't check yet).
 */
export function certificateGate(parent?: pulumi.Resource): { gate: pulumi.Output<boolean>; settle: (certs: WebCertificate[]) => void } {
    let resolve: ((checks: pulumi.Output<boolean>) => void) | undefined;
    const gate = pulumi.output(new Promise<pulumi.Output<boolean>>((r) => { resolve = r; }));
    return {
        gate,
        settle: (certs) => resolve?.(pulumi.all(certs.map((c) => c.problem)).apply((ps) => {
            const bad = ps.filter((p): p is string => !!p);
            if (bad.length > 0) {
                const msg = `web certificates rejected; no node's web front end was changed:\n${bad.join("\n")}`;
                throw parent ? new pulumi.ResourceError(msg, parent, true) : new pulumi.RunError(msg);
            }
            return true;
        })),
    };
}

/** The stack's CA when any web node uses internal-ca mode. */
export function internalCaFor(name: string, nodes: NodeSpec[], settings: CertificateSettings, commonName: string, opts?: pulumi.ComponentResourceOptions): InternalCa | undefined {
    return nodes.some((n) => n.role !== "database" && modeOf(n.name, settings).mode === "internal-ca")
        ? new InternalCa(name, { commonName }, opts)
        : undefined;
}
