// Web certificates: one WebCertificate per web-serving node (webproxy, application, unified, standalone):
// the certificate of the node's mode (components/certificate-modes.ts, one function per mode) and the
// node's nginx front end (components/front-end.ts: certificate-only or whole-site), behind the install gate;
// the summary of what nginx serves (components/certificate-summary.ts); and the cluster's InternalCa for
// internal-ca mode.
//
// Operator-supplied bundles are checked (model/certificates.ts) before anything is installed: a bundle
// that does not match the node's name or key, has a broken or incomplete chain, or is outside its validity
// fails the preview with a message naming the node; no node's front end changes while any is rejected.
import * as pulumi from "./pulumi";
import { noticeWindowDays, WebCertificateSummary } from "../model/certificates";
import { CertificateMode, CertificateSettings, FrontEndMode, NodeCertificateSettings, NodeSpec } from "../model/types";
import { WeightEntry } from "../render/nginx-platform";
import { UpstreamServer } from "../render/nginx";
import { ModeCertificate, ModeContext, MODES } from "./certificate-modes";
import { certificateSummary } from "./certificate-summary";
import { WebFrontEnd, WebServer } from "./front-end";
import { CertificateSubject, PrivateKey, SelfSignedCertificate } from "./tls";
import { DerivedWebServer, frontEndOf, modeOf, webServerInputs } from "./web-server-inputs";

export { WebServer, WebServerArgs } from "./front-end";
export { frontEndOf, modeOf } from "./web-server-inputs";

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
        const cert = new SelfSignedCertificate(
            `${name}-cert`,
            {
                privateKeyPem: key.privateKeyPem,
                subject: { commonName: args.commonName, organization: "pinhole" },
                validityDays: args.validityDays ?? 3650,
                earlyRenewalDays: args.earlyRenewalDays ?? 365,
                isCa: true,
            },
            { parent: this },
        );
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
    /** acme mode: the stack's ACME account key (secret; acmeAccountKeyFor). */
    acmeAccountKey?: pulumi.Output<string>;
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
    /** pinhole:rollout: what must be done before this node's nginx changes (set per node by PlatformNode). */
    after?: pulumi.Resource[];
}

export interface WebCertificateArgs extends NodeWebArgs {
    node: NodeSpec;
    /** SSH private key (secret). */
    privateKey: pulumi.Input<string>;
}

/** Subject and SANs of the certificates pinhole issues for a node: its FQDN (CN and DNS), name, and addresses. */
export function identityOf(node: NodeSpec): { commonName: string; dnsNames: string[]; ipAddresses: string[] } {
    const dnsNames = [...new Set([node.fqdn, node.name])];
    const ipAddresses = [
        ...new Set([
            node.address,
            ...(node.address6 ? [node.address6] : []),
            ...(node.advertisedAddress ? [node.advertisedAddress] : []),
        ]),
    ];
    return { commonName: node.fqdn, dnsNames, ipAddresses };
}

/** Subject of the certificates and CSRs pinhole issues: CN = fqdn, then the stack's and the node's fields (`web cert details edit`). */
export function subjectOf(node: NodeSpec, settings: CertificateSettings): CertificateSubject {
    return { ...settings.subject, ...settings.nodes[node.name]?.subject, commonName: node.fqdn };
}

export class WebCertificate extends pulumi.ComponentResource {
    public readonly mode: CertificateMode;
    public readonly frontEnd: FrontEndMode;
    /** `web cert details`: subject, SANs, issuer, validity, fingerprint, mode, expiry. */
    public readonly summary: pulumi.Output<WebCertificateSummary>;
    /** csr mode: the CSR to send to the CA (`web cert gen_csr`). */
    public readonly certRequestPem?: pulumi.Output<string>;
    /** Rejection message for an operator-supplied bundle (undefined when fine). */
    public readonly problem: pulumi.Output<string | undefined>;
    /** whole-site: the rendered nginx site config. */
    public readonly siteConfig?: string;
    /** Web proxies in whole-site mode: the upstream servers pinhole renders. */
    public readonly upstreams?: UpstreamServer[];
    /** Web proxies: `web weight list` as nginx has it. */
    public readonly weightList?: pulumi.Output<WeightEntry[]>;
    public readonly webServer: WebServer;

    constructor(name: string, args: WebCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:web:WebCertificate", name, {}, opts);
        const { mode, entry } = modeOf(args.node.name, args.settings);
        this.mode = mode;
        this.frontEnd = frontEndOf(args.node.name, args.settings);
        // In this order, as before the split: the mode's resources, the front end, the summary.
        const cert = MODES[mode](modeInputs(name, args, entry, this));
        this.problem = cert.problem;
        this.certRequestPem = cert.certRequestPem;

        const gate = installGate(args.gate, cert.problem, this);
        const derived = webServerInputs(args.node, args.nodes, args.settings, {
            applicationBackend: args.applicationBackend,
            replaces: args.replaces,
            verifySeconds: args.verifySeconds,
        });
        this.upstreams = derived.upstreams;
        const front = newFrontEnd(name, args, derived, cert, gate, this);
        this.webServer = front.webServer;
        this.siteConfig = front.siteConfig;
        this.weightList = front.weightList;

        this.summary = certificateSummary(
            cert,
            { node: args.node.name, mode, settings: args.settings, now: args.now },
            this,
        );
        this.registerOutputs({
            summary: this.summary,
            certRequestPem: this.certRequestPem,
            siteConfig: this.siteConfig,
            weightList: this.weightList,
        });
    }
}

/** What the node's mode function gets: the node's identity and subject, the stack's validity and renewal windows, the secrets, CA and ACME account. */
export function modeInputs(
    name: string,
    args: WebCertificateArgs,
    entry: NodeCertificateSettings | undefined,
    parent: pulumi.ComponentResource,
): ModeContext {
    const { node, settings: s } = args;
    const id = identityOf(node);
    return {
        name,
        node,
        entry,
        subject: subjectOf(node, s),
        dnsNames: id.dnsNames,
        ipAddresses: id.ipAddresses,
        validityDays: s.validityDays,
        renewalDays: noticeWindowDays(s.validityDays, s.renewBeforeDays, s.renewBeforeExplicit),
        renewBeforeDays: s.renewBeforeDays,
        renewBeforeExplicit: s.renewBeforeExplicit,
        secret: args.secret,
        ca: args.ca,
        acme: s.acme,
        acmeAccountKey: args.acmeAccountKey,
        sshPrivateKey: args.privateKey,
        now: args.now,
        parent,
    };
}

/**
 * Nothing is installed unless every checked bundle passed: the cluster's gate when given (every node's checks),
 * else this node's own check, which fails with the bundle's rejection message on the WebCertificate.
 */
export function installGate(
    gate: pulumi.Input<boolean> | undefined,
    problem: pulumi.Output<string | undefined>,
    parent: pulumi.Resource,
): pulumi.Input<boolean> {
    return (
        gate ??
        problem.apply((p) => {
            if (p) throw new pulumi.ResourceError(p, parent, true);
            return true;
        })
    );
}

/** The node's front end (`${name}-frontend`, a child of the WebCertificate): the mode's bundle reaches it only through the gate. */
function newFrontEnd(
    name: string,
    args: WebCertificateArgs,
    derived: DerivedWebServer,
    cert: ModeCertificate,
    gate: pulumi.Input<boolean>,
    parent: WebCertificate,
): WebFrontEnd {
    return new WebFrontEnd(
        `${name}-frontend`,
        {
            derived,
            privateKey: args.privateKey,
            certificatePem: pulumi.all([gate, cert.bundle]).apply(([, b]) => b),
            keyPem: cert.keyPem,
            formerParent: parent,
            after: args.after,
        },
        { parent },
    );
}

// ------------------------------------------------------------------------------------------ cluster helpers

/**
 * The all-or-nothing gate of a set of WebCertificates: hand `gate` to every node's NodeWebArgs, build the
 * nodes, then `settle(certificates)`. The gate resolves when every node's bundle passed its checks and fails
 * with one message listing every rejected node otherwise (it stays unknown in a preview that can't check yet).
 */
export function certificateGate(parent?: pulumi.Resource): {
    gate: pulumi.Output<boolean>;
    settle: (certs: WebCertificate[]) => void;
} {
    let resolve: ((checks: pulumi.Output<boolean>) => void) | undefined;
    const gate = pulumi.output(
        new Promise<pulumi.Output<boolean>>((r) => {
            resolve = r;
        }),
    );
    return {
        gate,
        settle: (certs) =>
            resolve?.(
                pulumi.all(certs.map((c) => c.problem)).apply((ps) => {
                    const bad = ps.filter((p): p is string => !!p);
                    if (bad.length > 0) {
                        const msg = `web certificates rejected; no node's web front end was changed:\n${bad.join("\n")}`;
                        throw parent ? new pulumi.ResourceError(msg, parent, true) : new pulumi.RunError(msg);
                    }
                    return true;
                }),
            ),
    };
}

/** The stack's CA when any web node uses internal-ca mode. */
export function internalCaFor(
    name: string,
    nodes: NodeSpec[],
    settings: CertificateSettings,
    commonName: string,
    opts?: pulumi.ComponentResourceOptions,
): InternalCa | undefined {
    return nodes.some((n) => n.role !== "database" && modeOf(n.name, settings).mode === "internal-ca")
        ? new InternalCa(name, { commonName }, opts)
        : undefined;
}

/**
 * The stack's ACME account key when any web node is in acme mode: the secret config key certificates.acme.accountKeyConfigKey
 * names, else a key pinhole generates (ECDSA P-256, a Pulumi secret; the account is the CA's record of it).
 */
export function acmeAccountKeyFor(
    name: string,
    nodes: NodeSpec[],
    settings: CertificateSettings,
    secret: (key: string) => pulumi.Output<string> | undefined,
    opts?: pulumi.ComponentResourceOptions,
): pulumi.Output<string> | undefined {
    if (!settings.acme || !nodes.some((n) => n.role !== "database" && modeOf(n.name, settings).mode === "acme"))
        return undefined;
    const named = settings.acme.accountKeyConfigKey;
    if (!named)
        return pulumi.secret(new PrivateKey(name, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts).privateKeyPem);
    const key = secret(named);
    if (!key)
        throw new pulumi.RunError(
            `certificates.acme.accountKeyConfigKey names pinhole:${named}, which is not set (\`pulumi config set --secret ${named} < account-key.pem\`)`,
        );
    return pulumi.secret(key);
}
