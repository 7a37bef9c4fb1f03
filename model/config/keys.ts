// The config's key tables and defaults: the one place that says which keys exist where (docs/stack-config.md;
// Pulumi.yaml's config schema is generated from CONFIG_SCHEMA by tools/config-schema/main.ts). No logic.
import {
    ProofSettings,
    CertificateMode,
    CertificateSettings,
    DEPLOYMENT_MODELS,
    ExternalKind,
    FirewallSettings,
    FrontEndMode,
    Protocol,
    SUBJECT_FIELDS,
} from "../types";
import { PROFILE_KEYS } from "./profile";
import { UriScheme } from "../uri";

export const CONFIG_NAMESPACE = "pinhole";

/** Top-level keys of the `pinhole:` namespace. */
export const CONFIG_KEYS = [
    "model",
    "domain",
    "networks",
    "nodes",
    "sshPrivateKey",
    "hosts",
    "external",
    "firewall",
    "certificates",
    "acknowledgeWorldOpen",
    "proof",
    "rollout",
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

export const DEFAULT_FIREWALL: Readonly<Required<FirewallSettings>> = {
    egress: "allow",
    profile: "reference",
    narrow: {},
    rateLimit: { perMinute: 120, burst: 60 },
    logDrops: true,
    rollbackSeconds: 30,
    httpRedirect: false,
    extraInbound: [],
    otherFirewalls: "refuse",
};

/** On by default: an `up` ends with the live cluster shown to match the policy (docs/stack-config.md, "pinhole:proof"). */
export const DEFAULT_PROOF: Readonly<ProofSettings> = {
    enabled: true,
    denyPerNode: 2,
    maxProbes: 10000,
    timeoutSeconds: 2,
    rollback: false,
};
export const PROOF_KEYS = ["enabled", "denyPerNode", "maxProbes", "timeoutSeconds", "rollback"];
/** Absent: every node at once (model/rollout.ts). */
export const ROLLOUT_KEYS = ["canary", "batchSize", "by"];

export const DEFAULT_CERTIFICATES: Readonly<CertificateSettings> = {
    mode: "self-signed",
    validityDays: 397,
    renewBeforeDays: 30,
    legacyProtocols: false,
    frontEnd: "certificate-only",
    nodes: {},
};

export const DEFAULT_CLIENT_NETWORKS: readonly string[] = ["0.0.0.0/0", "::/0"];

export const NODE_KEYS = [
    "name",
    "role",
    "site",
    "address",
    "address6",
    "advertisedAddress",
    "fqdn",
    "arbiter",
    "webWeight",
    "ssh",
];
export const SSH_KEYS = ["host", "port", "user", "sudo", "hostKey", "bastion"];
export const BASTION_KEYS = ["host", "port", "user", "hostKey"];
export const NETWORK_KEYS = ["admin", "client", "monitoring"] as const;
export const FIREWALL_KEYS = [
    "egress",
    "rateLimit",
    "logDrops",
    "rollbackSeconds",
    "httpRedirect",
    "extraInbound",
    "otherFirewalls",
    ...PROFILE_KEYS,
];
export const RATE_KEYS = ["perMinute", "burst"];
export const EXTRA_KEYS = ["port", "protocol", "from", "roles", "nodes", "reason", "exposed"];
export const CERT_KEYS = [
    "mode",
    "validityDays",
    "renewBeforeDays",
    "legacyProtocols",
    "frontEnd",
    "nginx",
    "subject",
    "nodes",
    "acme",
];
export const ACME_KEYS = [
    "directoryUrl",
    "email",
    "accountKeyConfigKey",
    "directoryCaConfigKey",
    "challenge",
    "validationFrom",
];
export const ACME_CHALLENGES = ["http-01"] as const;
export const CERT_NODE_KEYS = ["mode", "certificateConfigKey", "keyConfigKey", "frontEnd", "nginx", "subject"];
export const NGINX_KEYS = [
    "certificatePath",
    "keyPath",
    "tlsPath",
    "upstream",
    "sitePath",
    "applicationBackend",
    "serverNames",
    "replaces",
];
export const SUBJECT_KEYS: string[] = SUBJECT_FIELDS.map((f) => f.key);
export const FRONT_ENDS: readonly FrontEndMode[] = ["certificate-only", "whole-site"];
export const LDAP_KEYS = ["host", "ports", "protocols"];
export const SNMP_KEYS = ["uri", "protocols"];
export const CERT_MODES: readonly CertificateMode[] = ["self-signed", "internal-ca", "csr", "external", "acme"];
export const PROTOCOLS: readonly Protocol[] = ["tcp", "udp"];
export const NETWORK_LABELS = ["admin", "client", "monitoring"];

/** pinhole:external keys that take plain host lists, with the flow each implies. */
export const HOST_LIST_KINDS: Readonly<Record<string, { kind: ExternalKind; protocol: Protocol; port: number }>> = {
    ucm: { kind: "ucm", protocol: "tcp", port: 8443 },
    unityConnection: { kind: "unityConnection", protocol: "tcp", port: 8443 },
    hcmf: { kind: "hcmf", protocol: "tcp", port: 8443 },
    webex: { kind: "webex", protocol: "tcp", port: 443 },
    sso: { kind: "sso", protocol: "tcp", port: 443 },
    apiResponses: { kind: "apiResponses", protocol: "tcp", port: 443 },
    ntp: { kind: "ntp", protocol: "udp", port: 123 },
};

/** pinhole:external keys that take network URIs. */
export const URI_LIST_KINDS: Readonly<Record<string, { kind: ExternalKind; schemes: UriScheme[] }>> = {
    notificationDestinations: { kind: "notification", schemes: ["https", "http"] },
    snmpTrapReceivers: { kind: "snmpTrap", schemes: ["snmp"] },
    backupDestinations: { kind: "backup", schemes: ["sftp", "scp"] },
    downloadLocations: { kind: "download", schemes: ["ftp", "http", "https", "sftp", "scp", "file"] },
};

export const EXTERNAL_KEYS = [...Object.keys(HOST_LIST_KINDS), "ldap", ...Object.keys(URI_LIST_KINDS)];

export const NODE_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
export const SITE_RE = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,38}[A-Za-z0-9])?$/;
export const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
export const CONFIG_KEY_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;

/** Pulumi's project config types (Pulumi.yaml `config:`; the engine checks stack values against them). */
export type PulumiConfigType = "string" | "integer" | "boolean" | "array" | "object";

/**
 * One top-level key as Pulumi.yaml declares it (tools/config-schema/main.ts writes the block from this table).
 * The engine treats a declared key with no `default` as required (`pulumi preview` stops: "Stack ... is missing
 * configuration value"), and injects the default into the config the program and `pulumi config` see; so every
 * optional key's default is the value the validator reads exactly as if the key were absent (a unit test checks).
 */
export interface ConfigKeySchema {
    type: PulumiConfigType;
    /** Element type of an array. */
    items?: PulumiConfigType;
    description: string;
    /** Must be stored with `pulumi config set --secret` (the engine refuses a plain value). */
    secret?: boolean;
    /** Absent: the key is required. */
    default?: unknown;
}

export const CONFIG_SCHEMA: Readonly<Record<ConfigKey, ConfigKeySchema>> = {
    model: { type: "string", description: `Deployment model: ${DEPLOYMENT_MODELS.join(" | ")} (docs/stack-config.md)` },
    domain: {
        type: "string",
        default: "",
        description: "DNS domain: a node's fqdn defaults to <name>.<domain> (empty: none)",
    },
    networks: {
        type: "object",
        description: `Source networks (${NETWORK_KEYS.join(", ")}): admin = SSH/SFTP sources, must include the host running pulumi; client = web/API users; monitoring = SNMP pollers`,
    },
    nodes: {
        type: "array",
        items: "object",
        description: `One entry per node (${NODE_KEYS.join(", ")}); ssh.hostKey is required`,
    },
    sshPrivateKey: {
        type: "string",
        secret: true,
        description:
            "Private key pinhole logs in to the nodes with: pulumi config set --secret sshPrivateKey < <key file>",
    },
    hosts: {
        type: "object",
        default: {},
        description: "Name -> addresses, for host names used in external URIs and host lists",
    },
    external: {
        type: "object",
        default: {},
        description: `Destinations the cluster talks to (${EXTERNAL_KEYS.join(", ")}); a URI with credentials goes in with --secret --path`,
    },
    firewall: { type: "object", default: {}, description: `Firewall settings (${FIREWALL_KEYS.join(", ")})` },
    certificates: {
        type: "object",
        default: {},
        description: `Web certificates (${CERT_KEYS.join(", ")}); mode: ${CERT_MODES.join(" | ")}`,
    },
    proof: {
        type: "object",
        default: {},
        description: `The proof after apply: probes from every node after an up that changed a firewall (${PROOF_KEYS.join(", ")})`,
    },
    rollout: {
        type: "object",
        default: {},
        description: `Rollout in steps, each proven before the next (${ROLLOUT_KEYS.join(", ")}); absent: every node at once`,
    },
    acknowledgeWorldOpen: {
        type: "boolean",
        default: false,
        description:
            "true accepts SSH, SNMP or an extra opening from the whole address space (it then warns on every preview)",
    },
};
