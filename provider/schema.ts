// The contract between pinhole's program (components/) and its provider plugin (provider/), written once:
// every resource type's token, inputs and outputs with type, description, default, bounds and secretness.
// GetSchema serves it as a Pulumi package schema; handler types, the program's resource classes and
// verify's state reader derive their types from it; the framework checks inputs and outputs against it.
import type { ObjectSpec, ResourceSpec, StateOf } from "./schema-types";
import { NODE_INPUTS, secretStr, str, strList } from "./schema-node";
import { PROOF } from "./schema-proof";
export { CONNECTION_INPUTS } from "./schema-node";
import { toPulumiSchema } from "./schema-types";
import { DEFAULT_REPLACES } from "../render/nginx";
import { LIMITS } from "../model/limits";
import { CERTIFICATE_REQUEST, LOCALLY_SIGNED_CERTIFICATE, PRIVATE_KEY, SELF_SIGNED_CERTIFICATE } from "./schema-tls";

export { CERTIFICATE_REQUEST, LOCALLY_SIGNED_CERTIFICATE, PRIVATE_KEY, SELF_SIGNED_CERTIFICATE };
import { FIREWALL_IMPORT, WEB_SERVER_IMPORT } from "./schema-import";

export const PACKAGE_NAME = "pinhole";
export const PROVIDER_VERSION = "0.1.0";

const DRIFT = {
    type: "object",
    token: "pinhole:node:FirewallDrift",
    description:
        "What `pulumi refresh` found in the node's live table that pinhole did not apply (empty lists: no drift).",
    properties: {
        rulesAddedOnNode: strList("Lines of the live table that the applied ruleset does not have."),
        rulesMissingOnNode: strList("Lines of the applied ruleset that the live table no longer has."),
    },
    required: ["rulesAddedOnNode", "rulesMissingOnNode"],
} as const satisfies ObjectSpec;

export const FIREWALL = {
    token: "pinhole:node:Firewall",
    description:
        "pinhole's nftables table (`table inet pinhole`) on one node, applied over SSH in one checked transaction with an automatic rollback only a fresh SSH connection can cancel.",
    inputs: {
        ...NODE_INPUTS,
        ruleset: str("The nftables ruleset (`table inet pinhole { ... }`) to apply, as render/nftables.ts renders it."),
        managementSources: {
            type: "array",
            description:
                "Sources allowed on the management SSH port; a ruleset that would cut this host's own SSH path is refused.",
            items: str("An address or CIDR."),
            minItems: 1,
        },
        rollbackSeconds: {
            type: "integer",
            description:
                "Seconds after which the node restores its previous ruleset unless a fresh SSH connection confirms the new one.",
            default: 30,
            minimum: LIMITS.rollbackSeconds.min,
            maximum: LIMITS.rollbackSeconds.max,
        },
        skipPrecheck: {
            type: "boolean",
            description: "Tests of the rollback path only: apply without the management-address pre-check.",
        },
        otherFirewalls: {
            type: "string",
            description:
                "Another firewall manager on the node whose drop would override pinhole's openings (ufw, firewalld, iptables rules, a dropping nftables.conf): refuse (apply nothing, name it) or take-over (stop, disable and mask it once pinhole's ruleset is confirmed). Absent: refuse.",
            enum: ["refuse", "take-over"],
        },
    },
    requiredInputs: ["node", "connection", "privateKey", "ruleset", "managementSources"],
    // The ruleset (tens of KB at a few dozen nodes: one reason comment per opening) is in the state's inputs
    // only; the engine rewrites the whole state after every step, so each copy costs every checkpoint.
    inputOnly: ["ruleset"],
    optionalOutputs: ["liveListing"],
    outputs: {
        listing: str("`nft -s list table inet pinhole` right after apply (normalised)."),
        liveListing: str(
            "The same, as last read from the node (`pulumi refresh`, or a connection change), only when it differs from `listing` (drift); absent: the node had the table as applied.",
        ),
        drift: DRIFT,
        appliedFrom: str("The address this host's SSH connection came from, as the node saw it at apply."),
        appliedAt: str("When the ruleset was last applied (ISO 8601)."),
        otherFirewallNotes: strList(
            "Other firewall managers found on the node at the last apply, and what pinhole did about them.",
        ),
    },
    import: FIREWALL_IMPORT,
} as const satisfies ResourceSpec;

const FILE_SHA = {
    type: "object",
    token: "pinhole:node:FileSha256",
    description: "A file on the node and the SHA-256 of its content.",
    properties: { path: str("Absolute path on the node."), sha256: str("SHA-256 (hex) of the content.") },
    required: ["path", "sha256"],
} as const satisfies ObjectSpec;

const WEIGHT_TARGET = {
    type: "object",
    token: "pinhole:node:WeightTarget",
    description: "An application/unified node as a proxy's upstream may name it.",
    properties: {
        node: str("Node name."),
        hosts: strList(
            "Its addresses (as seen from the proxy) and names: an upstream server matching one of them is this node.",
        ),
        weight: {
            type: "integer",
            description: "webWeight (0: backup); unset: the platform's own setting.",
            minimum: LIMITS.webWeight.min,
            maximum: LIMITS.webWeight.max,
        },
    },
    required: ["node", "hosts"],
} as const satisfies ObjectSpec;

const WEIGHT_ENTRY = {
    type: "object",
    token: "pinhole:node:WeightEntry",
    description: "One line of `web weight list`.",
    properties: {
        server: str("The upstream server as nginx has it (address:port)."),
        node: str("The node it is, when pinhole knows it."),
        weight: { type: "integer", description: "Weight (0 for a backup server).", minimum: 0 },
        backup: { type: "boolean", description: "Used only when no other server is available." },
        source: {
            type: "string",
            description: "user: the node's webWeight; default: the platform's (or nginx's) own.",
            enum: ["user", "default"],
        },
    },
    required: ["server", "weight", "backup", "source"],
} as const satisfies ObjectSpec;

const PLATFORM_PLAN = {
    type: "object",
    token: "pinhole:node:PlatformPlan",
    description:
        "certificate-only: what check found in the node's nginx (`nginx -T`) and what up will do there; shown by preview --diff.",
    properties: {
        certificatePath: str("Where the certificate bundle goes (the platform's ssl_certificate)."),
        keyPath: str("Where the key goes (the platform's ssl_certificate_key)."),
        upstream: str("The upstream whose server weights pinhole sets."),
        weightList: { type: "array", description: "`web weight list`.", items: WEIGHT_ENTRY },
        files: strList("Every file pinhole writes or patches (kept aside at first write, restored on delete)."),
        patched: {
            type: "array",
            description: "The platform files pinhole patches and the SHA-256 of their new content.",
            items: FILE_SHA,
        },
        warnings: strList("What pinhole noticed but may go ahead with."),
    },
    required: ["certificatePath", "keyPath", "weightList", "files", "patched", "warnings"],
} as const satisfies ObjectSpec;

const SITE_PATHS = {
    type: "object",
    token: "pinhole:node:SitePaths",
    description: "whole-site: where pinhole's certificate, key and site file go.",
    properties: { certificate: str("Certificate file."), key: str("Key file."), site: str("Site configuration file.") },
    required: ["certificate", "key", "site"],
} as const satisfies ObjectSpec;

export const WEB_SERVER = {
    token: "pinhole:node:WebServer",
    description:
        "One node's nginx front end: certificate bundle, key and site config installed over SSH, checked with `nginx -t`, reloaded and verified by the served certificate; delete restores the original front end.",
    inputs: {
        ...NODE_INPUTS,
        fqdn: str("The node's network name (SNI of the serving check)."),
        certificatePem: str("Certificate file nginx serves: server certificate first, then the chain."),
        keyPem: secretStr("The certificate's private key."),
        frontEnd: {
            type: "string",
            description:
                "whole-site: pinhole writes the server block; certificate-only: into the platform's own nginx (provider/webserver-platform.ts).",
            enum: ["whole-site", "certificate-only"],
            default: "whole-site",
        },
        siteConfig: str("whole-site: the nginx site configuration (render/nginx.ts); required in that mode."),
        paths: SITE_PATHS,
        replaces: {
            type: "array",
            description: "Original front-end files moved aside while pinhole owns the front end.",
            items: str("A path on the node."),
            default: DEFAULT_REPLACES,
        },
        tlsConfig: str("certificate-only: pinhole's TLS drop-in (render/tls-profile.ts)."),
        tlsPath: str(
            "certificate-only: where the drop-in goes (read by nginx at http level; default /etc/nginx/conf.d/pinhole-tls.conf).",
        ),
        certificatePath: str(
            "certificate-only: configured certificate path (default: the one nginx's HTTPS servers use).",
        ),
        keyPath: str("certificate-only: configured key path (default: the one nginx's HTTPS servers use)."),
        upstream: str(
            "certificate-only proxies: the upstream whose server weights pinhole sets (default: the only one).",
        ),
        weights: {
            type: "array",
            description: "certificate-only proxies: the application/unified nodes and their webWeight.",
            items: WEIGHT_TARGET,
        },
        plan: PLATFORM_PLAN,
        verifySeconds: {
            type: "integer",
            description: "Seconds to wait for nginx to serve the new certificate (0: don't check).",
            default: 10,
            minimum: 0,
            maximum: 120,
        },
    },
    requiredInputs: ["node", "connection", "privateKey", "fqdn", "certificatePem", "keyPem"],
    outputs: {
        fingerprint: str("SHA-256 fingerprint (`AB:CD:...`) of the installed server certificate."),
        notAfter: str("When the installed server certificate expires (ISO 8601)."),
        certificateSha256: str("SHA-256 of the certificate file installed."),
        keySha256: str("SHA-256 of the key file installed."),
        siteSha256: str("SHA-256 of the site configuration installed."),
        liveCertificateSha256: str("SHA-256 of the certificate file as last read from the node."),
        liveKeySha256: str("SHA-256 of the key file as last read from the node."),
        liveSiteSha256: str("SHA-256 of the site configuration as last read from the node."),
        servedFingerprint: str("Fingerprint of the certificate nginx served on the node right after install."),
        liveServedFingerprint: str("Fingerprint of the certificate nginx served at the last refresh."),
        originals: strList("Original files pinhole keeps aside on the node (restored on delete)."),
        appliedAt: str("When the front end was last installed (ISO 8601)."),
        installed: {
            type: "array",
            description: "certificate-only: each file pinhole wrote and its SHA-256.",
            items: FILE_SHA,
        },
        live: {
            type: "array",
            description: "certificate-only: the same files as last read from the node.",
            items: FILE_SHA,
        },
    },
    replaceOnChanges: ["node", "frontEnd"],
    import: WEB_SERVER_IMPORT,
} as const satisfies ResourceSpec;

export const ACME_CERTIFICATE = {
    token: "pinhole:tls:AcmeCertificate",
    description:
        "A certificate ordered from an ACME CA (RFC 8555) by the provisioning host: account, order, HTTP-01 answered by the node's nginx (the key authorization file put there over SSH), finalize with a CSR on the node's key, chain downloaded; re-ordered inside the renewal window.",
    inputs: {
        ...NODE_INPUTS,
        directoryUrl: str("The CA's ACME directory (https://...)."),
        directoryCaPem: str(
            "CA certificate(s) the directory's HTTPS is checked against (default: the system's trust).",
        ),
        email: str("Account contact (sent as mailto:)."),
        accountKeyPem: secretStr("The ACME account key (ECDSA P-256 → ES256, P-384 → ES384, RSA → RS256)."),
        keyPem: secretStr("The certificate's key (the CSR is signed with it)."),
        dnsNames: strList("DNS identifiers of the order (the first is the CSR's CN)."),
        renewBeforeDays: {
            type: "number",
            description:
                "Re-order this many days before expiry (default: model/certificates.ts noticeWindowDays of the issued lifetime: 30 days, a third of a short one).",
            minimum: 0,
            maximum: LIMITS.renewBeforeDays.max,
        },
        ipv6: {
            type: "boolean",
            description: "The node serves IPv6: the challenge server listens on [::]:80 too.",
            default: false,
        },
        challengeSeconds: {
            type: "integer",
            description: "Seconds to wait for the CA to validate and issue.",
            default: 90,
            minimum: 5,
            maximum: 600,
        },
    },
    requiredInputs: ["node", "connection", "privateKey", "directoryUrl", "accountKeyPem", "keyPem", "dnsNames"],
    outputs: {
        certPem: str("The certificate file: server certificate first, then the chain, as the CA sent it."),
        notBefore: str("Start of validity (ISO 8601)."),
        notAfter: str("End of validity (ISO 8601)."),
        serial: str("Serial number (hex)."),
        issuer: str("The issuing CA (distinguished name)."),
        accountUrl: str("The ACME account (its kid)."),
        orderUrl: str("The order that issued the certificate."),
        certificateUrl: str("Where the CA serves the certificate."),
    },
    replaceOnChanges: ["directoryUrl", "accountKeyPem", "keyPem", "dnsNames"],
    import: "Not importable: the certificate's key exists only as a Pulumi secret and the order is the provider's; `pulumi up` orders one.",
} as const satisfies ResourceSpec;

/** Every resource type the provider serves. Tokens are part of users' state: never rename without an alias. */
export const RESOURCES = [
    FIREWALL,
    WEB_SERVER,
    PRIVATE_KEY,
    SELF_SIGNED_CERTIFICATE,
    CERTIFICATE_REQUEST,
    LOCALLY_SIGNED_CERTIFICATE,
    ACME_CERTIFICATE,
    PROOF,
] as const;
export type Resources = (typeof RESOURCES)[number];
export type Token = Resources["token"];
export type SpecOf<T extends Token> = Extract<Resources, { token: T }>;

export function specOf(token: string): ResourceSpec | undefined {
    return RESOURCES.find((r) => r.token === token);
}

export type FirewallState = StateOf<typeof FIREWALL>;
export type WebServerState = StateOf<typeof WEB_SERVER>;
export { PROOF };

export function packageSchema(): Record<string, unknown> {
    return toPulumiSchema(
        {
            name: PACKAGE_NAME,
            version: PROVIDER_VERSION,
            description:
                "pinhole: host firewalls (nftables), inter-node pinholes and nginx web certificates, applied over SSH.",
        },
        RESOURCES,
    );
}
