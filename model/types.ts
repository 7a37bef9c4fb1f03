// The typed, validated model of one deployment and the per-node policy derived from it.
// This file is the contract between config validation (model/config/), policy (model/policy.ts),
// rendering (render/) and the Pulumi components (components/). No Pulumi imports here.

import type { FirewallProfile, NarrowingId } from "./narrowings";

export type Role = "webproxy" | "application" | "database" | "unified" | "standalone";
export const ROLES: readonly Role[] = ["webproxy", "application", "database", "unified", "standalone"];

export type DeploymentModelName = "standalone" | "unified" | "modular";
export const DEPLOYMENT_MODELS: readonly DeploymentModelName[] = ["standalone", "unified", "modular"];

export type Protocol = "tcp" | "udp";
export type Direction = "inbound" | "outbound";

/** How pinhole reaches a node over SSH. */
export interface SshEndpoint {
    /** Address or name pinhole connects to. Defaults to the node's address. */
    host: string;
    /** Defaults to 22. */
    port: number;
    /** Defaults to "root". */
    user: string;
    /** Pinned host public key in OpenSSH form ("ssh-ed25519 AAAA..."). Required: pinhole never trusts on first use. */
    hostKey: string;
}

export interface SshAccess extends SshEndpoint {
    /** Run privileged steps with `sudo -n` (true by default when user is not root). */
    sudo: boolean;
    /** Optional jump host, reached first (OpenSSH ProxyJump). */
    bastion?: SshEndpoint;
}

export interface NodeSpec {
    /** Unique node name, [a-z0-9-], used in resource names and reasons. */
    name: string;
    role: Role;
    /** Site (data centre) name; defaults to "default". */
    site: string;
    /** The node's own (internal) address, IPv4 or IPv6. */
    address: string;
    /** Dual-stack: the node's IPv6 address when `address` is IPv4. Seen the same from every site (no NAT for IPv6). */
    address6?: string;
    /** Address peers at other sites use to reach this node when NAT sits between sites (IPv4 `address` only). */
    advertisedAddress?: string;
    /** Network name the web certificate must match; defaults to `${name}.${domain}` or the name. */
    fqdn: string;
    /** Database, unified, application (and standalone) nodes: this node also runs a database arbiter (27030). */
    arbiter: boolean;
    ssh: SshAccess;
    /** Upstream weight on web proxies when this node is an application/unified upstream (`web weight`). */
    webWeight?: number;
}

/** A parsed network URI (reference: "Network URI specification"). Credentials never leave this object in clear. */
export interface NetworkUri {
    scheme: "ftp" | "http" | "https" | "file" | "sftp" | "scp" | "mailto" | "snmp";
    user?: string;
    /** true when the URI carried a password / auth secret (the value itself is not kept in printable fields). */
    hasSecret: boolean;
    host?: string;
    port?: number;
    /** true when the URI spelled the port; false when `port` is the scheme's default (added by issue 4). */
    portExplicit?: boolean;
    path?: string;
    /** snmp only */
    snmpVersion?: "v2c" | "v3";
    /** The URI with any password replaced by "***": safe to print. */
    redacted: string;
}

export type ExternalKind =
    | "ucm"
    | "unityConnection"
    | "hcmf"
    | "webex"
    | "sso"
    | "ldap" // from application/unified nodes
    | "apiResponses"
    | "notification" // from web proxies
    | "snmpTrap"
    | "backup"
    | "ntp" // from all nodes
    | "download"; // from application/unified nodes

/** One external destination the cluster talks to, already resolved to addresses and a port. */
export interface ExternalEndpoint {
    kind: ExternalKind;
    /** Human name: the host as configured (or the redacted URI). */
    name: string;
    /** IP addresses or CIDRs the firewall matches. */
    addresses: string[];
    protocol: Protocol;
    port: number;
    /** Config path it came from, e.g. "pinhole:external.backupDestinations[0]". */
    configPath: string;
    uri?: NetworkUri;
    /** ldap / snmpTrap entries that named no `protocols`: the parser chose the transport (the table says TCP/UDP). */
    protocolsDefaulted?: boolean;
}

export interface RateLimit {
    /** New connections per source address per minute on exposed services. */
    perMinute: number;
    burst: number;
}

export interface FirewallSettings {
    /** "deny": default-deny egress with the outbound allow list. "allow" (default): egress unfiltered. */
    egress: "allow" | "deny";
    /**
     * Firewall profile: "reference" (default: every port of every table of the reference) or "strict"
     * (pinhole's least-privilege narrowings of it). See model/narrowings.ts and docs/decisions.md.
     */
    profile?: FirewallProfile;
    /** Per-narrowing switches over the profile (true: narrow, false: keep the reference opening). */
    narrow?: Partial<Record<NarrowingId, boolean>>;
    /** Per-source rate limit on services exposed to client networks. */
    rateLimit: RateLimit;
    /** Rate-limited logging of dropped packets. */
    logDrops: boolean;
    /** Seconds after which a new ruleset rolls back unless a fresh SSH connection confirms it. */
    rollbackSeconds: number;
    /** Open 80/tcp (http → https redirect) where clients reach 443. Default false (docs/decisions.md). */
    httpRedirect?: boolean;
    /** Stack-defined extra inbound openings (the escape hatch for every decision). Default []. */
    extraInbound?: ExtraInbound[];
    /**
     * Another firewall manager on a node whose drop would override pinhole's openings (ufw, firewalld,
     * iptables rules, a dropping nftables.conf): "refuse" (default) applies nothing there and names it;
     * "take-over" applies pinhole's table and then stops, disables and masks that manager (remote/coexist.ts).
     */
    otherFirewalls?: "refuse" | "take-over";
}

/** One `pinhole:firewall.extraInbound[i]` entry, validated. */
export interface ExtraInbound {
    protocol: Protocol;
    port: number;
    /** Network labels ("admin" | "client" | "monitoring") and/or CIDRs. */
    from: string[];
    /** Nodes that get the opening: by role and/or by name; both empty means every node. */
    roles: Role[];
    nodes: string[];
    reason: string;
    /** Rate-limited like client-facing services; defaults to true when `from` includes "client". */
    exposed: boolean;
}

export type CertificateMode = "self-signed" | "internal-ca" | "csr" | "external" | "acme";

/** certificates.acme: the ACME CA that issues the certificates of nodes in acme mode (docs/certificates.md, ACME). */
export interface AcmeSettings {
    /** The CA's directory (https://...), fetched from the provisioning host. */
    directoryUrl: string;
    /** Account contact (mailto:), optional. */
    email?: string;
    /** Secret config key holding the account key (PEM); unset: pinhole generates one (a Pulumi secret). */
    accountKeyConfigKey?: string;
    /** Config key holding the CA certificate(s) (PEM) the directory's HTTPS is checked against; unset: the system's trust. */
    directoryCaConfigKey?: string;
    challenge: "http-01";
    /** Where the CA's validation comes from: 80/tcp is opened from these on every node in acme mode. */
    validationFrom: string[];
}

/** certificate-only: into the platform's own nginx (default for real nodes); whole-site: pinhole writes the server block. */
export type FrontEndMode = "certificate-only" | "whole-site";

/**
 * The subject fields of the certificates and CSRs pinhole issues (`web cert details edit`), besides CN = fqdn:
 * the one list the config keys (model/config), the types (components/tls.ts, provider/tls.ts), the provider
 * schema (provider/schema.ts) and the distinguished name (provider/tls.ts, in this order after CN) come from.
 */
export const SUBJECT_FIELDS = [
    { key: "organization", attribute: "O", description: "O." },
    { key: "organizationalUnit", attribute: "OU", description: "OU." },
    { key: "locality", attribute: "L", description: "L." },
    { key: "province", attribute: "ST", description: "ST (state or province)." },
    /** Two capital letters (ISO 3166). */
    { key: "country", attribute: "C", description: "C (two letters)." },
    { key: "email", attribute: "E", description: "E (emailAddress)." },
] as const;
export type SubjectField = (typeof SUBJECT_FIELDS)[number]["key"];
export type CertificateSubjectFields = { [K in SubjectField]?: string };

/** Paths and names of a node's nginx front end (all optional: the defaults are in docs/certificates.md). */
export interface NginxSettings {
    /** certificate-only: where the bundle / key go (default: what nginx's HTTPS servers use, from `nginx -T`). */
    certificatePath?: string;
    keyPath?: string;
    /** certificate-only: pinhole's TLS drop-in, read at http level (default /etc/nginx/conf.d/pinhole-tls.conf). */
    tlsPath?: string;
    /** certificate-only proxies: the upstream whose server weights webWeight sets (default: the only one). */
    upstream?: string;
    /** whole-site: pinhole's site file, the application behind nginx, the server names, the files it moves aside. */
    sitePath?: string;
    applicationBackend?: string;
    serverNames?: string[];
    replaces?: string[];
}

export interface NodeCertificateSettings {
    mode: CertificateMode;
    frontEnd?: FrontEndMode;
    nginx?: NginxSettings;
    subject?: CertificateSubjectFields;
    /** external / csr modes: name of the secret config key holding the signed PEM bundle (cert + chain). */
    certificateConfigKey?: string;
    /** external mode: name of the secret config key holding the private key. */
    keyConfigKey?: string;
}

export interface CertificateSettings {
    /** Stack default; per node override in `nodes`. */
    mode: CertificateMode;
    validityDays: number;
    /**
     * Certificates pinhole issues are renewed this many days before expiry; warnings start here too. Short-lived
     * certificates use a third of their lifetime when that is less (model/certificates.ts noticeWindowDays),
     * unless the value was set explicitly (renewBeforeExplicit).
     */
    renewBeforeDays: number;
    renewBeforeExplicit?: boolean;
    /** The reference's `web sslv3 on`: re-enable legacy protocols. Off by default. */
    legacyProtocols: boolean;
    /** Stack default of the front-end mode (unset in hand-built settings: whole-site). */
    frontEnd?: FrontEndMode;
    nginx?: NginxSettings;
    subject?: CertificateSubjectFields;
    nodes: Record<string, NodeCertificateSettings>;
    /** Required when any node is in acme mode. */
    acme?: AcmeSettings;
}

export interface ClusterModel {
    model: DeploymentModelName;
    domain?: string;
    sites: string[];
    nodes: NodeSpec[];
    networks: {
        /** SSH/SFTP management sources. Must include the provisioning host. */
        admin: string[];
        /** Web and API users (443 on proxies, or on application/unified/standalone nodes without proxies). */
        client: string[];
        /** SNMP pollers (161/udp). Defaults to admin. */
        monitoring: string[];
    };
    external: ExternalEndpoint[];
    firewall: FirewallSettings;
    certificates: CertificateSettings;
    /** The proof after apply (pinhole:proof); parseClusterConfig always sets it, hand-built models may leave it out. */
    proof?: ProofSettings;
    /** pinhole:rollout (model/rollout.ts); absent: every node at once. */
    rollout?: RolloutSettings;
}

/** pinhole:proof: probes from every node after each `up` that changed a firewall or web server (docs/stack-config.md). */
export interface ProofSettings {
    enabled: boolean;
    /** Must-deny probes per source node beyond the one per port class (model/probes.ts denySample). */
    denyPerNode: number;
    /** Probes per proof (the host's included); above it the required flows are sampled (model/probe-budget.ts). */
    maxProbes: number;
    /** Seconds each probe may take to connect (a must-deny probe waits this long). */
    timeoutSeconds: number;
    /** Cluster rollback on a failed proof: every node this `up` applied goes back to its previous ruleset. */
    rollback: boolean;
}

/** pinhole:rollout: the order in which an `up` changes the nodes' firewalls (model/rollout.ts). */
export interface RolloutSettings {
    /** The canary: that many nodes from the top of pinhole:nodes, or the nodes named. 0 / []: no canary step. */
    canary: number | string[];
    /** Nodes per batch after the canary (within each group when `by` is set); unset: one batch (or one per group). */
    batchSize?: number;
    /** One batch (or a run of batches) per site or per role, in the order the groups first appear in pinhole:nodes. */
    by?: "site" | "role";
}

/** One problem found while validating config. */
export interface ConfigError {
    /** Config path, e.g. "pinhole:nodes[2].address". */
    path: string;
    message: string;
}

/** Something valid but probably not what was meant (even number of database voters, ...). Same shape as errors. */
export type ConfigWarning = ConfigError;

/** The other end of an opening. */
export interface Peer {
    kind: "node" | "network" | "external";
    /** Node name, network label ("admin", "client", "monitoring") or external name. */
    name: string;
    /** Addresses/CIDRs as this node sees them (NAT-aware for nodes at other sites). */
    addresses: string[];
}

/** One allowed flow at one node, with why it exists. */
export interface Opening {
    direction: Direction;
    protocol: Protocol;
    port: number;
    /** Source (inbound) or destination (outbound). */
    peer: Peer;
    /** Short service label: "ssh", "https", "https-cluster", "database", "arbiter", "snmp", "ntp", ... */
    service: string;
    /** One sentence: "27017/tcp from app-1: application to database, database access". */
    reason: string;
    /** Reference section the rule comes from, e.g. "Application Node to Database node". */
    section: string;
    /** Exposed to client networks: rate-limited per source. */
    exposed: boolean;
    /** Id of the model/catalog.ts row this opening implements (e.g. "app-db.database"), when it comes from one. */
    rowId?: string;
}

export interface NodePolicy {
    node: NodeSpec;
    /** Deterministic order: by port, protocol, peer name. */
    inbound: Opening[];
    outbound: Opening[];
}
