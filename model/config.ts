// Stack config → validated ClusterModel, or every problem at once, each with its config path.
// Schema: docs/stack-config.md. Nothing downstream ever sees a model that did not pass here.
//
//   parseClusterConfig(raw, opts)     raw = values keyed WITHOUT "pinhole:" (model, nodes, networks, ...)
//   stackConfigToRaw(configMap)       the `config:` map of a Pulumi.<stack>.yaml ("pinhole:"-prefixed keys)
//   loadStackFile(path)               read a stack file → raw (secure values stay opaque {secure: ...})
//   parseStackConfig(configMap, opts) stackConfigToRaw + parseClusterConfig
//   parseStackFile(path, opts)        all of the above in one call

import * as fs from "fs";
import * as yaml from "js-yaml";
import {
    CertificateMode, CertificateSettings, ClusterModel, ConfigError, ConfigWarning, DEPLOYMENT_MODELS, DeploymentModelName,
    ExternalEndpoint, ExternalKind, ExtraInbound, FirewallSettings, NodeCertificateSettings, NodeSpec, Protocol, ROLES, Role,
    SshAccess, SshEndpoint,
} from "./types";
import { formatIp, isHostname, parseCidr, parseIp, cidrContains } from "./net";
import { didYouMean } from "./suggest";
import { UriScheme, parseNetworkUri, redactSecretsInText } from "./uri";
import { checkDeploymentModel, servesWeb } from "./roles";
import { DATABASE_PORTS, PORTS } from "./catalog";

export const CONFIG_NAMESPACE = "pinhole";

/** Top-level keys of the `pinhole:` namespace. */
export const CONFIG_KEYS = [
    "model", "domain", "networks", "nodes", "sshPrivateKey", "hosts", "external", "firewall", "certificates",
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

export interface ParseOptions {
    /** Report a missing pinhole:sshPrivateKey (deployments need it; the matrix does not). Default false. */
    requireSecrets?: boolean;
    /** Addresses pinhole runs from: each must fall inside pinhole:networks.admin, or pinhole would lock itself out. */
    provisioningAddresses?: string[];
    /** Stack name, used in the commands that messages suggest (`pulumi config set ... --stack <stack>`). */
    stack?: string;
}

export interface ParseResult {
    /** Present only when there is no error. */
    model?: ClusterModel;
    errors: ConfigError[];
    warnings: ConfigWarning[];
}

/** An encrypted stack value as it appears in Pulumi.<stack>.yaml: kept opaque, never decrypted here. */
export interface SecretRef {
    secure: string;
}

export function isSecretRef(v: unknown): v is SecretRef {
    return isMap(v) && Object.keys(v).length === 1 && typeof v.secure === "string";
}

export const DEFAULT_FIREWALL: Readonly<Required<FirewallSettings>> = {
    egress: "allow",
    databasePorts: "inter-node",
    rateLimit: { perMinute: 120, burst: 60 },
    logDrops: true,
    rollbackSeconds: 30,
    arbiterPort: "arbiter-nodes",
    httpRedirect: false,
    extraInbound: [],
};

export const DEFAULT_CERTIFICATES: Readonly<CertificateSettings> = {
    mode: "self-signed", validityDays: 397, renewBeforeDays: 30, legacyProtocols: false, nodes: {},
};

export const DEFAULT_CLIENT_NETWORKS: readonly string[] = ["0.0.0.0/0", "::/0"];

const NODE_KEYS = ["name", "role", "site", "address", "advertisedAddress", "fqdn", "arbiter", "webWeight", "ssh"];
const SSH_KEYS = ["host", "port", "user", "sudo", "hostKey", "bastion"];
const BASTION_KEYS = ["host", "port", "user", "hostKey"];
const NETWORK_KEYS = ["admin", "client", "monitoring"] as const;
const FIREWALL_KEYS = ["egress", "databasePorts", "rateLimit", "logDrops", "rollbackSeconds", "arbiterPort", "httpRedirect", "extraInbound"];
const RATE_KEYS = ["perMinute", "burst"];
const EXTRA_KEYS = ["port", "protocol", "from", "roles", "nodes", "reason", "exposed"];
const CERT_KEYS = ["mode", "validityDays", "renewBeforeDays", "legacyProtocols", "nodes"];
const CERT_NODE_KEYS = ["mode", "certificateConfigKey", "keyConfigKey"];
const LDAP_KEYS = ["host", "ports", "protocols"];
const SNMP_KEYS = ["uri", "protocols"];
const CERT_MODES: readonly CertificateMode[] = ["self-signed", "internal-ca", "csr", "external"];
const PROTOCOLS: readonly Protocol[] = ["tcp", "udp"];
const NETWORK_LABELS = ["admin", "client", "monitoring"];

/** pinhole:external keys that take plain host lists, with the flow each implies. */
const HOST_LIST_KINDS: Readonly<Record<string, { kind: ExternalKind; protocol: Protocol; port: number }>> = {
    ucm: { kind: "ucm", protocol: "tcp", port: 8443 },
    unityConnection: { kind: "unityConnection", protocol: "tcp", port: 8443 },
    hcmf: { kind: "hcmf", protocol: "tcp", port: 8443 },
    webex: { kind: "webex", protocol: "tcp", port: 443 },
    sso: { kind: "sso", protocol: "tcp", port: 443 },
    apiResponses: { kind: "apiResponses", protocol: "tcp", port: 443 },
    ntp: { kind: "ntp", protocol: "udp", port: 123 },
};

/** pinhole:external keys that take network URIs. */
const URI_LIST_KINDS: Readonly<Record<string, { kind: ExternalKind; schemes: UriScheme[] }>> = {
    notificationDestinations: { kind: "notification", schemes: ["https", "http"] },
    snmpTrapReceivers: { kind: "snmpTrap", schemes: ["snmp"] },
    backupDestinations: { kind: "backup", schemes: ["sftp", "scp"] },
    downloadLocations: { kind: "download", schemes: ["ftp", "http", "https", "sftp", "scp", "file"] },
};

const EXTERNAL_KEYS = [...Object.keys(HOST_LIST_KINDS), "ldap", ...Object.keys(URI_LIST_KINDS)];

const NODE_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const SITE_RE = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,38}[A-Za-z0-9])?$/;
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const CONFIG_KEY_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;

// ---------------------------------------------------------------------------------------------------------
// Small typed readers. Each reports into `Problems` with the full path and returns undefined when invalid.

/** Collects problems. Messages may quote config values, so URI credentials in them are redacted here, always. */
class Problems {
    readonly errors: ConfigError[] = [];
    readonly warnings: ConfigWarning[] = [];
    error(path: string, message: string): void {
        this.errors.push({ path, message: redactSecretsInText(message) });
    }
    warn(path: string, message: string): void {
        this.warnings.push({ path, message: redactSecretsInText(message) });
    }
}

const root = (key: string) => `${CONFIG_NAMESPACE}:${key}`;
const at = (path: string, i: number) => `${path}[${i}]`;
const dot = (path: string, key: string) => `${path}.${key}`;
const quoted = (path: string, key: string) => `${path}["${key}"]`;

function isMap(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "a list";
    if (isSecretRef(v)) return "an encrypted value";
    if (isMap(v)) return "a map";
    return `${typeof v === "number" ? "the number" : typeof v === "boolean" ? "the boolean" : "the string"} ${JSON.stringify(v)}`;
}

function readMap(v: unknown, path: string, pr: Problems, keys?: readonly string[]): Record<string, unknown> | undefined {
    if (!isMap(v) || isSecretRef(v)) {
        pr.error(path, `expected a map (key: value), got ${typeName(v)}`);
        return undefined;
    }
    if (keys) {
        for (const k of Object.keys(v)) {
            if (!keys.includes(k)) pr.error(dot(path, k), `unknown key "${k}"${didYouMean(k, keys) || ` (known: ${keys.join(", ")})`}`);
        }
    }
    return v;
}

function readList(v: unknown, path: string, pr: Problems): unknown[] | undefined {
    if (!Array.isArray(v)) {
        pr.error(path, `expected a list, got ${typeName(v)}`);
        return undefined;
    }
    return v;
}

function readString(v: unknown, path: string, pr: Problems): string | undefined {
    if (typeof v !== "string") {
        pr.error(path, `expected a string, got ${typeName(v)}`);
        return undefined;
    }
    if (v.trim() === "") {
        pr.error(path, "must not be empty");
        return undefined;
    }
    if (v !== v.trim()) {
        pr.error(path, "has leading or trailing spaces");
        return undefined;
    }
    return v;
}

/** Booleans; "true"/"false" strings too (what `pulumi config set --path` may store). */
function readBool(v: unknown, path: string, pr: Problems, fallback: boolean): boolean {
    if (v === undefined) return fallback;
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    pr.error(path, `expected true or false, got ${typeName(v)}`);
    return fallback;
}

/** Integers in [min, max]; decimal strings too (what `pulumi config set --path` may store). */
function readInt(v: unknown, path: string, pr: Problems, min: number, max: number, what = "a whole number"): number | undefined {
    let n: number | undefined;
    if (typeof v === "number") n = v;
    else if (typeof v === "string" && /^[0-9]+$/.test(v)) n = Number(v);
    if (n === undefined || !Number.isInteger(n)) {
        pr.error(path, `expected ${what}, got ${typeName(v)}`);
        return undefined;
    }
    if (n < min || n > max) {
        pr.error(path, `${n} is out of range (${min}-${max})`);
        return undefined;
    }
    return n;
}

function readPort(v: unknown, path: string, pr: Problems): number | undefined {
    return readInt(v, path, pr, 1, 65535, "a port number (1-65535)");
}

function readEnum<T extends string>(v: unknown, path: string, pr: Problems, allowed: readonly T[]): T | undefined {
    if (typeof v !== "string") {
        pr.error(path, `expected one of ${allowed.join(", ")}; got ${typeName(v)}`);
        return undefined;
    }
    if (!(allowed as readonly string[]).includes(v)) {
        pr.error(path, `"${v}" is not one of ${allowed.join(", ")}${didYouMean(v, allowed)}`);
        return undefined;
    }
    return v as T;
}

function readIp(v: unknown, path: string, pr: Problems): string | undefined {
    const s = readString(v, path, pr);
    if (s === undefined) return undefined;
    if (parseIp(s)) return s;
    if (s.includes("/")) pr.error(path, `"${s}" is a network: a node address is one IPv4 or IPv6 address`);
    else if (s.startsWith("[")) pr.error(path, `"${s}": write IPv6 addresses without brackets here`);
    else if (isHostname(s)) pr.error(path, `"${s}" is a host name: node addresses must be literal IPv4 or IPv6 addresses (firewall rules never depend on DNS)`);
    else pr.error(path, `"${s}" is not a valid IPv4 or IPv6 address`);
    return undefined;
}

/** A list of CIDRs/addresses (bare addresses mean one host). Duplicates warn. */
function readCidrList(v: unknown, path: string, pr: Problems): string[] | undefined {
    const list = readList(v, path, pr);
    if (!list) return undefined;
    const out: string[] = [];
    const seen = new Map<string, number>();
    let ok = true;
    list.forEach((item, i) => {
        const s = readString(item, at(path, i), pr);
        if (s === undefined) { ok = false; return; }
        const parsed = parseCidr(s);
        if (!parsed.ok) { pr.error(at(path, i), parsed.error); ok = false; return; }
        const canonical = parsed.cidr.text;
        if (seen.has(canonical)) pr.warn(at(path, i), `"${s}" is listed twice (also [${seen.get(canonical)}])`);
        else seen.set(canonical, i);
        out.push(s);
    });
    return ok ? out : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// OpenSSH host keys: "<type> <base64 blob> [comment]", the blob starting with the same type name.

const HOST_KEY_TYPES = [
    "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** undefined when the key is a well-formed OpenSSH public key, else what is wrong. */
export function checkHostKey(text: string): string | undefined {
    const fields = text.trim().split(/\s+/);
    if (fields.length >= 2 && !HOST_KEY_TYPES.includes(fields[0]) && HOST_KEY_TYPES.includes(fields[1])) {
        return `looks like a known_hosts line: drop the leading "${fields[0]}" and keep "${fields[1]} AAAA..."`;
    }
    if (fields[0] === "ssh-dss") return "ssh-dss (DSA) host keys are refused by current OpenSSH; pin the node's ed25519 key (ssh-keyscan -t ed25519 <host>)";
    if (!HOST_KEY_TYPES.includes(fields[0])) {
        return `not an OpenSSH public key: expected "<type> <base64>" with type one of ${HOST_KEY_TYPES.slice(0, 5).join(", ")} (e.g. the output of ssh-keyscan -t ed25519 <host> without the host name)`;
    }
    if (fields.length < 2) return `"${fields[0]}" has no key data after the type`;
    const b64 = fields[1];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return "the key data is not valid base64";
    const blob = Buffer.from(b64, "base64");
    if (blob.length < 4) return "the key data is too short";
    const typeLength = blob.readUInt32BE(0);
    const embedded = blob.subarray(4, 4 + typeLength).toString("latin1");
    if (typeLength > blob.length - 4 || embedded !== fields[0]) {
        return `the key data is not a ${fields[0]} key (it says "${embedded.replace(/[^\x20-\x7e]/g, "?").slice(0, 40)}")`;
    }
    if (fields[0] === "ssh-ed25519" && blob.length !== 4 + 11 + 4 + 32) return "an ssh-ed25519 key holds 32 bytes of key data; this one does not (truncated copy?)";
    return undefined;
}

// ---------------------------------------------------------------------------------------------------------

/** A node as read so far: every field optional, so cross-checks run even when a node has errors. */
interface NodeDraft {
    index: number;
    path: string;
    name?: string;
    role?: Role;
    site: string;
    siteGiven: boolean;
    address?: string;
    advertisedAddress?: string;
    fqdn?: string;
    arbiter: boolean;
    webWeight?: number;
    ssh?: SshAccess;
}

function readSshEndpoint(v: Record<string, unknown>, path: string, pr: Problems, defaultHost: string | undefined, hostRequired: boolean): SshEndpoint | undefined {
    let host: string | undefined = defaultHost;
    if (v.host !== undefined) {
        host = readString(v.host, dot(path, "host"), pr);
        if (host !== undefined && !parseIp(host) && !isHostname(host)) {
            pr.error(dot(path, "host"), `"${host}" is not an address or host name`);
            host = undefined;
        }
    } else if (hostRequired) {
        pr.error(dot(path, "host"), "missing: the host to connect to");
    }
    const port = v.port === undefined ? 22 : readPort(v.port, dot(path, "port"), pr);
    let user: string | undefined = "root";
    if (v.user !== undefined) {
        user = readString(v.user, dot(path, "user"), pr);
        if (user !== undefined && !USER_RE.test(user)) {
            pr.error(dot(path, "user"), `"${user}" is not a valid login name`);
            user = undefined;
        }
    }
    let hostKey: string | undefined;
    if (v.hostKey === undefined) {
        pr.error(dot(path, "hostKey"), "missing: pin the host's public key (ssh-keyscan -t ed25519 <host>); pinhole never trusts a host key on first use");
    } else {
        hostKey = readString(v.hostKey, dot(path, "hostKey"), pr);
        const problem = hostKey === undefined ? undefined : checkHostKey(hostKey);
        if (problem) {
            pr.error(dot(path, "hostKey"), problem);
            hostKey = undefined;
        }
    }
    if (host === undefined || port === undefined || user === undefined || hostKey === undefined) return undefined;
    return { host, port, user, hostKey: hostKey.trim() };
}

function readSsh(v: unknown, path: string, pr: Problems, address: string | undefined): SshAccess | undefined {
    if (v === undefined) {
        pr.error(path, "missing: every node needs ssh.hostKey (and optionally host, port, user, sudo, bastion)");
        return undefined;
    }
    const m = readMap(v, path, pr, SSH_KEYS);
    if (!m) return undefined;
    const endpoint = readSshEndpoint(m, path, pr, address, false);
    const sudoDefault = endpoint ? endpoint.user !== "root" : false;
    const sudo = readBool(m.sudo, dot(path, "sudo"), pr, sudoDefault);
    let bastion: SshEndpoint | undefined;
    let bastionOk = true;
    if (m.bastion !== undefined) {
        const b = readMap(m.bastion, dot(path, "bastion"), pr, BASTION_KEYS);
        bastion = b ? readSshEndpoint(b, dot(path, "bastion"), pr, undefined, true) : undefined;
        bastionOk = bastion !== undefined;
    }
    if (!endpoint || !bastionOk) return undefined;
    const access: SshAccess = { ...endpoint, sudo };
    if (bastion) access.bastion = bastion;
    return access;
}

function readNode(v: unknown, index: number, pr: Problems, domain: string | undefined): NodeDraft {
    const path = at(root("nodes"), index);
    const draft: NodeDraft = { index, path, site: "default", siteGiven: false, arbiter: false };
    const m = readMap(v, path, pr, NODE_KEYS);
    if (!m) return draft;

    if (m.name === undefined) pr.error(dot(path, "name"), "missing: every node needs a name");
    else {
        const name = readString(m.name, dot(path, "name"), pr);
        if (name !== undefined && !NODE_NAME_RE.test(name)) {
            pr.error(dot(path, "name"), `"${name}" must be 1-40 characters of a-z, 0-9 and "-", not starting or ending with "-"`);
        } else draft.name = name;
    }
    if (m.role === undefined) pr.error(dot(path, "role"), `missing: one of ${ROLES.join(", ")}`);
    else draft.role = readEnum(m.role, dot(path, "role"), pr, ROLES);
    if (m.site !== undefined) {
        const site = readString(m.site, dot(path, "site"), pr);
        if (site !== undefined && !SITE_RE.test(site)) pr.error(dot(path, "site"), `"${site}" must be 1-40 letters, digits, ".", "_" or "-"`);
        else if (site !== undefined) { draft.site = site; draft.siteGiven = true; }
    }
    if (m.address === undefined) pr.error(dot(path, "address"), "missing: the node's own IPv4 or IPv6 address");
    else draft.address = readIp(m.address, dot(path, "address"), pr);
    if (m.advertisedAddress !== undefined) {
        draft.advertisedAddress = readIp(m.advertisedAddress, dot(path, "advertisedAddress"), pr);
        if (draft.advertisedAddress !== undefined && draft.address !== undefined && sameIp(draft.advertisedAddress, draft.address)) {
            pr.warn(dot(path, "advertisedAddress"), "equals address: no NAT for this node, so it can be left out");
        }
    }
    if (m.fqdn !== undefined) {
        const fqdn = readString(m.fqdn, dot(path, "fqdn"), pr);
        if (fqdn !== undefined && !isHostname(fqdn)) pr.error(dot(path, "fqdn"), `"${fqdn}" is not a valid DNS name`);
        else draft.fqdn = fqdn?.toLowerCase();
    } else if (draft.name !== undefined) {
        draft.fqdn = domain ? `${draft.name}.${domain}` : draft.name;
    }
    draft.arbiter = readBool(m.arbiter, dot(path, "arbiter"), pr, false);
    if (m.webWeight !== undefined) draft.webWeight = readInt(m.webWeight, dot(path, "webWeight"), pr, 0, 1000);
    draft.ssh = readSsh(m.ssh, dot(path, "ssh"), pr, draft.address);
    return draft;
}

function sameIp(a: string, b: string): boolean {
    const x = parseIp(a), y = parseIp(b);
    return !!x && !!y && x.family === y.family && x.value === y.value;
}

function canonicalIp(a: string): string {
    const ip = parseIp(a);
    return ip ? formatIp(ip) : a;
}

/** Cross-node checks: names, addresses as every site sees them, sites vs NAT, roles vs the deployment model. */
function checkNodes(drafts: NodeDraft[], model: DeploymentModelName | undefined, pr: Problems): void {
    const names = new Map<string, number>();
    for (const d of drafts) {
        if (d.name === undefined) continue;
        const first = names.get(d.name);
        if (first !== undefined) pr.error(dot(d.path, "name"), `duplicate node name "${d.name}" (also ${at(root("nodes"), first)}.name)`);
        else names.set(d.name, d.index);
    }

    // From each site, every node must appear at a distinct address (its advertised address across sites).
    const sites = [...new Set(drafts.map((d) => d.site))];
    const reported = new Set<string>();
    for (const viewerSite of sites) {
        const seen = new Map<string, { d: NodeDraft; field: string }>();
        for (const d of drafts) {
            const viaNat = d.site !== viewerSite && d.advertisedAddress !== undefined;
            const addr = viaNat ? d.advertisedAddress : d.address;
            if (addr === undefined) continue;
            const field = viaNat ? "advertisedAddress" : "address";
            const key = canonicalIp(addr);
            const prior = seen.get(key);
            if (!prior) { seen.set(key, { d, field }); continue; }
            const pair = `${prior.d.index}/${d.index}`;
            if (reported.has(pair)) continue;
            reported.add(pair);
            const where = field === "advertisedAddress" || prior.field === "advertisedAddress" ? ` (as seen from site ${viewerSite})` : "";
            pr.error(dot(d.path, field), `address ${addr} is also ${prior.d.path}.${prior.field}${where}: every node needs its own address`);
        }
    }

    if (sites.length < 2) {
        for (const d of drafts) {
            if (d.advertisedAddress !== undefined) {
                pr.error(dot(d.path, "advertisedAddress"), `only peers at OTHER sites use advertisedAddress, and every node is at site "${sites[0]}": give nodes their site, or remove it`);
            }
        }
    }

    const fqdns = new Map<string, number>();
    for (const d of drafts) {
        if (d.fqdn === undefined) continue;
        const first = fqdns.get(d.fqdn);
        if (first !== undefined) pr.warn(dot(d.path, "fqdn"), `"${d.fqdn}" is also the fqdn of ${at(root("nodes"), first)}: their web certificates will carry the same name`);
        else fqdns.set(d.fqdn, d.index);
    }

    for (const d of drafts) {
        if (d.webWeight !== undefined && d.role !== undefined && d.role !== "application" && d.role !== "unified") {
            pr.error(dot(d.path, "webWeight"), `webWeight is the weight of an application/unified upstream in the web proxies; a ${d.role} node has none`);
        }
    }
    if (drafts.some((d) => d.webWeight !== undefined) && !drafts.some((d) => d.role === "webproxy")) {
        pr.warn(root("nodes"), "webWeight is set but the cluster has no web proxy: it has no effect");
    }

    if (model !== undefined && drafts.length > 0 && drafts.every((d) => d.role !== undefined)) {
        const found = checkDeploymentModel(model, drafts.map((d) => ({ role: d.role as Role, arbiter: d.arbiter, site: d.site })));
        for (const f of found.errors) pr.error(f.nodeIndex === undefined ? root("nodes") : dot(drafts[f.nodeIndex].path, f.field ?? "role"), f.message);
        for (const f of found.warnings) pr.warn(f.nodeIndex === undefined ? root("nodes") : dot(drafts[f.nodeIndex].path, f.field ?? "role"), f.message);
    } else if (model !== undefined) {
        // Roles with errors already reported; still check arbiters on the valid ones.
        for (const d of drafts) {
            if (d.arbiter && d.role !== undefined && !["database", "unified", "standalone"].includes(d.role)) {
                pr.error(dot(d.path, "arbiter"), `only database-holding roles (database, unified, standalone) run an arbiter; this node is ${d.role}`);
            }
        }
    }
    if (model === "standalone" && drafts.some((d) => d.arbiter)) {
        pr.warn(root("nodes"), "arbiter on a standalone node has no effect: there are no peers");
    }
}

// ---------------------------------------------------------------------------------------------------------

type HostMap = Map<string, string[]>;

function readHosts(v: unknown, pr: Problems): HostMap {
    const hosts: HostMap = new Map();
    if (v === undefined) return hosts;
    const m = readMap(v, root("hosts"), pr);
    if (!m) return hosts;
    for (const [name, value] of Object.entries(m)) {
        const path = quoted(root("hosts"), name);
        if (!isHostname(name)) { pr.error(path, `"${name}" is not a valid host name`); continue; }
        const list = typeof value === "string" ? [value] : value;
        const addresses = readCidrList(list, path, pr);
        if (addresses && addresses.length === 0) pr.error(path, "has no addresses");
        else if (addresses) hosts.set(name.toLowerCase().replace(/\.$/, ""), addresses);
    }
    return hosts;
}

/** Host text (address, CIDR or a name from pinhole:hosts) → literal addresses for firewall rules. */
function resolveHost(text: string, path: string, hosts: HostMap, pr: Problems): string[] | undefined {
    if (parseIp(text) || parseCidr(text).ok) return [text];
    const cidr = parseCidr(text);
    if (/^[0-9./]+$/.test(text) || text.includes(":") || text.includes("/")) {
        pr.error(path, cidr.ok ? `"${text}" is not valid` : cidr.error);
        return undefined;
    }
    if (!isHostname(text)) { pr.error(path, `"${text}" is not an address, CIDR or host name`); return undefined; }
    const found = hosts.get(text.toLowerCase().replace(/\.$/, ""));
    if (found) return found;
    pr.error(path, `host "${text}" is not in pinhole:hosts${didYouMean(text, [...hosts.keys()])}: pinhole never resolves names when it applies rules, so list its addresses under pinhole:hosts`);
    return undefined;
}

function readExternal(v: unknown, hosts: HostMap, pr: Problems): ExternalEndpoint[] {
    const endpoints: ExternalEndpoint[] = [];
    if (v === undefined) return endpoints;
    const m = readMap(v, root("external"), pr, EXTERNAL_KEYS);
    if (!m) return endpoints;
    const base = root("external");
    const push = (e: ExternalEndpoint) => {
        const dup = endpoints.find((x) => x.kind === e.kind && x.protocol === e.protocol && x.port === e.port && x.name === e.name);
        if (dup) pr.warn(e.configPath, `same destination as ${dup.configPath}`);
        else endpoints.push(e);
    };

    for (const [key, spec] of Object.entries(HOST_LIST_KINDS)) {
        if (m[key] === undefined) continue;
        const list = readList(m[key], dot(base, key), pr);
        list?.forEach((item, i) => {
            const path = at(dot(base, key), i);
            const host = readString(item, path, pr);
            const addresses = host === undefined ? undefined : resolveHost(host, path, hosts, pr);
            if (host !== undefined && addresses) push({ kind: spec.kind, name: host, addresses, protocol: spec.protocol, port: spec.port, configPath: path });
        });
    }

    if (m.ldap !== undefined) {
        const list = readList(m.ldap, dot(base, "ldap"), pr);
        list?.forEach((item, i) => {
            const path = at(dot(base, "ldap"), i);
            let hostValue: unknown = item;
            let ports: number[] = [PORTS.ldap, PORTS.ldaps];
            let protocols: Protocol[] = ["tcp"];
            let hostPath = path;
            if (isMap(item)) {
                const o = readMap(item, path, pr, LDAP_KEYS);
                if (!o) return;
                hostValue = o.host;
                hostPath = dot(path, "host");
                if (o.host === undefined) { pr.error(hostPath, "missing: the directory's address or host name"); return; }
                if (o.ports !== undefined) {
                    const pl = readList(o.ports, dot(path, "ports"), pr);
                    const read = pl?.map((p, j) => readPort(p, at(dot(path, "ports"), j), pr));
                    if (!read || read.some((p) => p === undefined)) return;
                    if (read.length === 0) { pr.error(dot(path, "ports"), "is empty"); return; }
                    ports = read as number[];
                    ports.forEach((p, j) => {
                        if (p !== PORTS.ldap && p !== PORTS.ldaps) pr.warn(at(dot(path, "ports"), j), `${p} is not an LDAP port in the reference (389, 636)`);
                    });
                }
                if (o.protocols !== undefined) {
                    const pl = readList(o.protocols, dot(path, "protocols"), pr);
                    const read = pl?.map((p, j) => readEnum(p, at(dot(path, "protocols"), j), pr, PROTOCOLS));
                    if (!read || read.some((p) => p === undefined)) return;
                    if (read.length === 0) { pr.error(dot(path, "protocols"), "is empty"); return; }
                    protocols = read as Protocol[];
                }
            }
            const host = readString(hostValue, hostPath, pr);
            const addresses = host === undefined ? undefined : resolveHost(host, hostPath, hosts, pr);
            if (host === undefined || !addresses) return;
            for (const port of [...new Set(ports)]) {
                for (const protocol of [...new Set(protocols)]) push({ kind: "ldap", name: host, addresses, protocol, port, configPath: path });
            }
        });
    }

    for (const [key, spec] of Object.entries(URI_LIST_KINDS)) {
        if (m[key] === undefined) continue;
        const list = readList(m[key], dot(base, key), pr);
        list?.forEach((item, i) => {
            const path = at(dot(base, key), i);
            let uriValue: unknown = item;
            let uriPath = path;
            let protocols: Protocol[] = spec.kind === "snmpTrap" ? ["udp"] : ["tcp"];
            if (spec.kind === "snmpTrap" && isMap(item) && !isSecretRef(item)) {
                const o = readMap(item, path, pr, SNMP_KEYS);
                if (!o) return;
                uriValue = o.uri;
                uriPath = dot(path, "uri");
                if (o.uri === undefined) { pr.error(uriPath, "missing: snmp://community@host[:port]"); return; }
                if (o.protocols !== undefined) {
                    const pl = readList(o.protocols, dot(path, "protocols"), pr);
                    const read = pl?.map((p, j) => readEnum(p, at(dot(path, "protocols"), j), pr, PROTOCOLS));
                    if (!read || read.some((p) => p === undefined)) return;
                    if (read.length === 0) { pr.error(dot(path, "protocols"), "is empty"); return; }
                    protocols = [...new Set(read as Protocol[])];
                }
            }
            if (isSecretRef(uriValue)) {
                pr.error(uriPath, "is encrypted: pinhole needs the destination's host and port in clear (preview, matrix); keep credentials out of this URI (pinhole does not use them)");
                return;
            }
            if (typeof uriValue !== "string") { pr.error(uriPath, `expected a URI string, got ${typeName(uriValue)}`); return; }
            const parsed = parseNetworkUri(uriValue, spec.schemes);
            if (!parsed.ok) { pr.error(uriPath, parsed.error); return; }
            const uri = parsed.uri;
            if (uri.scheme === "file") {
                pr.warn(uriPath, `${uri.redacted} is local to the node: no firewall opening is needed`);
                return;
            }
            if (spec.kind === "notification" && !uri.portExplicit) {
                pr.error(uriPath, `${uri.redacted} has no port: the reference gives northbound notifications no default port ("dependant"), so write it in the URI, e.g. ${uri.scheme}://${uri.host}:8443${uri.path ?? "/"}`);
                return;
            }
            if (uri.hasSecret && uri.scheme !== "snmp") {
                pr.warn(uriPath, `${uri.redacted} carries a password that pinhole does not use (it only opens the firewall) and that sits in the stack file in clear: remove it`);
            }
            const addresses = resolveHost(uri.host as string, uriPath, hosts, pr);
            if (!addresses) return;
            for (const protocol of protocols) {
                push({ kind: spec.kind, name: uri.redacted, addresses, protocol, port: uri.port as number, configPath: path, uri });
            }
        });
    }
    return endpoints;
}

// ---------------------------------------------------------------------------------------------------------

function readNetworks(v: unknown, pr: Problems): ClusterModel["networks"] | undefined {
    const path = root("networks");
    if (v === undefined) {
        pr.error(path, "missing: at least networks.admin (the SSH sources, including the host that runs pulumi)");
        return undefined;
    }
    const m = readMap(v, path, pr, NETWORK_KEYS);
    if (!m) return undefined;
    let admin: string[] | undefined;
    if (m.admin === undefined) pr.error(dot(path, "admin"), "missing: the SSH/SFTP sources, including the host that runs pulumi");
    else {
        admin = readCidrList(m.admin, dot(path, "admin"), pr);
        if (admin && admin.length === 0) {
            pr.error(dot(path, "admin"), "is empty: no node would accept SSH, and pinhole would lock itself out");
            admin = undefined;
        }
    }
    const client = m.client === undefined ? [...DEFAULT_CLIENT_NETWORKS] : readCidrList(m.client, dot(path, "client"), pr);
    if (client && client.length === 0) pr.warn(dot(path, "client"), "is empty: no user or API client can reach the cluster on 443");
    const monitoring = m.monitoring === undefined ? admin : readCidrList(m.monitoring, dot(path, "monitoring"), pr);
    if (!admin || !client || !monitoring) return undefined;
    return { admin, client, monitoring };
}

function readFirewall(v: unknown, nodeNames: Set<string>, pr: Problems): Required<FirewallSettings> | undefined {
    const path = root("firewall");
    const fw: Required<FirewallSettings> = { ...DEFAULT_FIREWALL, rateLimit: { ...DEFAULT_FIREWALL.rateLimit }, extraInbound: [] };
    if (v === undefined) return fw;
    const m = readMap(v, path, pr, FIREWALL_KEYS);
    if (!m) return undefined;
    const before = pr.errors.length;
    if (m.egress !== undefined) fw.egress = readEnum(m.egress, dot(path, "egress"), pr, ["allow", "deny"] as const) ?? fw.egress;
    if (m.databasePorts !== undefined) fw.databasePorts = readEnum(m.databasePorts, dot(path, "databasePorts"), pr, ["inter-node", "service-list", "both"] as const) ?? fw.databasePorts;
    if (m.arbiterPort !== undefined) fw.arbiterPort = readEnum(m.arbiterPort, dot(path, "arbiterPort"), pr, ["arbiter-nodes", "always"] as const) ?? fw.arbiterPort;
    if (m.rateLimit !== undefined) {
        const r = readMap(m.rateLimit, dot(path, "rateLimit"), pr, RATE_KEYS);
        if (r?.perMinute !== undefined) fw.rateLimit.perMinute = readInt(r.perMinute, dot(path, "rateLimit.perMinute"), pr, 1, 100000) ?? fw.rateLimit.perMinute;
        if (r?.burst !== undefined) fw.rateLimit.burst = readInt(r.burst, dot(path, "rateLimit.burst"), pr, 1, 100000) ?? fw.rateLimit.burst;
    }
    fw.logDrops = readBool(m.logDrops, dot(path, "logDrops"), pr, fw.logDrops);
    if (m.rollbackSeconds !== undefined) {
        // Below 10 s a slow SSH handshake could not confirm the new ruleset in time.
        fw.rollbackSeconds = readInt(m.rollbackSeconds, dot(path, "rollbackSeconds"), pr, 10, 3600) ?? fw.rollbackSeconds;
    }
    fw.httpRedirect = readBool(m.httpRedirect, dot(path, "httpRedirect"), pr, false);
    if (m.extraInbound !== undefined) {
        const list = readList(m.extraInbound, dot(path, "extraInbound"), pr);
        list?.forEach((item, i) => {
            const e = readExtraInbound(item, at(dot(path, "extraInbound"), i), nodeNames, pr);
            if (e) fw.extraInbound.push(e);
        });
    }
    return pr.errors.length === before ? fw : undefined;
}

function readExtraInbound(v: unknown, path: string, nodeNames: Set<string>, pr: Problems): ExtraInbound | undefined {
    const m = readMap(v, path, pr, EXTRA_KEYS);
    if (!m) return undefined;
    const before = pr.errors.length;
    const port = m.port === undefined ? (pr.error(dot(path, "port"), "missing"), undefined) : readPort(m.port, dot(path, "port"), pr);
    const protocol = m.protocol === undefined ? "tcp" : readEnum(m.protocol, dot(path, "protocol"), pr, PROTOCOLS);
    const from: string[] = [];
    if (m.from === undefined) pr.error(dot(path, "from"), `missing: network labels (${NETWORK_LABELS.join(", ")}) and/or CIDRs`);
    else {
        const list = readList(m.from, dot(path, "from"), pr);
        if (list && list.length === 0) pr.error(dot(path, "from"), "is empty");
        list?.forEach((f, j) => {
            const s = readString(f, at(dot(path, "from"), j), pr);
            if (s === undefined) return;
            if (NETWORK_LABELS.includes(s)) { from.push(s); return; }
            const c = parseCidr(s);
            if (c.ok) from.push(s);
            else pr.error(at(dot(path, "from"), j), `${c.error}; or one of ${NETWORK_LABELS.join(", ")}${/^[a-z]+$/.test(s) ? didYouMean(s, NETWORK_LABELS) : ""}`);
        });
    }
    const roles: Role[] = [];
    if (m.roles !== undefined) {
        readList(m.roles, dot(path, "roles"), pr)?.forEach((r, j) => {
            const role = readEnum(r, at(dot(path, "roles"), j), pr, ROLES);
            if (role) roles.push(role);
        });
    }
    const nodes: string[] = [];
    if (m.nodes !== undefined) {
        readList(m.nodes, dot(path, "nodes"), pr)?.forEach((n, j) => {
            const name = readString(n, at(dot(path, "nodes"), j), pr);
            if (name === undefined) return;
            if (!nodeNames.has(name)) pr.error(at(dot(path, "nodes"), j), `no node is named "${name}"${didYouMean(name, [...nodeNames])}`);
            else nodes.push(name);
        });
    }
    const reason = m.reason === undefined ? (pr.error(dot(path, "reason"), "missing: say why this opening exists (it shows in rules and in the matrix)"), undefined) : readString(m.reason, dot(path, "reason"), pr);
    const exposed = readBool(m.exposed, dot(path, "exposed"), pr, from.includes("client"));
    if (port !== undefined && from.includes("client") && DATABASE_PORTS.includes(port)) {
        pr.error(dot(path, "port"), `${port} is a database port: pinhole never opens database ports to client networks`);
    }
    if (pr.errors.length !== before || port === undefined || protocol === undefined || reason === undefined) return undefined;
    return { protocol, port, from, roles, nodes, reason, exposed };
}

function readCertificates(v: unknown, nodes: NodeDraft[], pr: Problems): CertificateSettings | undefined {
    const path = root("certificates");
    const settings: CertificateSettings = { ...DEFAULT_CERTIFICATES, nodes: {} };
    if (v === undefined) return settings;
    const m = readMap(v, path, pr, CERT_KEYS);
    if (!m) return undefined;
    const before = pr.errors.length;
    if (m.mode !== undefined) settings.mode = readEnum(m.mode, dot(path, "mode"), pr, CERT_MODES) ?? settings.mode;
    if (m.validityDays !== undefined) settings.validityDays = readInt(m.validityDays, dot(path, "validityDays"), pr, 1, 3650) ?? settings.validityDays;
    if (m.renewBeforeDays !== undefined) settings.renewBeforeDays = readInt(m.renewBeforeDays, dot(path, "renewBeforeDays"), pr, 1, 3649) ?? settings.renewBeforeDays;
    if (settings.renewBeforeDays >= settings.validityDays) {
        pr.error(dot(path, "renewBeforeDays"), `${settings.renewBeforeDays} must be less than validityDays (${settings.validityDays})`);
    }
    settings.legacyProtocols = readBool(m.legacyProtocols, dot(path, "legacyProtocols"), pr, false);
    if (settings.legacyProtocols) pr.warn(dot(path, "legacyProtocols"), "re-enables legacy TLS/SSL protocols (the reference's `web sslv3 on`): only for clients that cannot do better");
    const byName = new Map(nodes.filter((n) => n.name !== undefined).map((n) => [n.name as string, n]));
    if (m.nodes !== undefined) {
        const nm = readMap(m.nodes, dot(path, "nodes"), pr);
        for (const [name, value] of Object.entries(nm ?? {})) {
            const npath = dot(dot(path, "nodes"), name);
            const node = byName.get(name);
            if (!node) { pr.error(npath, `no node is named "${name}"${didYouMean(name, [...byName.keys()])}`); continue; }
            if (node.role === "database") pr.warn(npath, `${name} is a database node: it serves no web front end, so it gets no certificate`);
            const o = readMap(value, npath, pr, CERT_NODE_KEYS);
            if (!o) continue;
            const mode = o.mode === undefined ? settings.mode : readEnum(o.mode, dot(npath, "mode"), pr, CERT_MODES);
            if (!mode) continue;
            const entry: NodeCertificateSettings = { mode };
            for (const k of ["certificateConfigKey", "keyConfigKey"] as const) {
                if (o[k] === undefined) continue;
                const key = readString(o[k], dot(npath, k), pr);
                if (key !== undefined && !CONFIG_KEY_RE.test(key.replace(/^pinhole:/, ""))) pr.error(dot(npath, k), `"${key}" is not a config key name`);
                else if (key !== undefined) entry[k] = key.replace(/^pinhole:/, "");
            }
            checkCertificateKeys(entry, npath, pr);
            settings.nodes[name] = entry;
        }
    }
    if (settings.mode === "external") {
        for (const n of nodes) {
            if (n.name === undefined || n.role === undefined || !servesWeb(n.role) || settings.nodes[n.name]) continue;
            pr.error(dot(path, "mode"), `external mode needs each web node's certificateConfigKey and keyConfigKey: add certificates.nodes.${n.name}`);
        }
    }
    return pr.errors.length === before ? settings : undefined;
}

function checkCertificateKeys(entry: NodeCertificateSettings, path: string, pr: Problems): void {
    if (entry.mode === "external") {
        if (!entry.certificateConfigKey) pr.error(dot(path, "certificateConfigKey"), "missing: external mode installs the PEM bundle (certificate + chain) from this secret config key");
        if (!entry.keyConfigKey) pr.error(dot(path, "keyConfigKey"), "missing: external mode installs the private key from this secret config key");
    } else if (entry.mode === "csr") {
        if (entry.keyConfigKey) pr.error(dot(path, "keyConfigKey"), "csr mode keeps the key pinhole generates (a Pulumi secret) with the CSR; keyConfigKey is only for external mode");
    } else {
        for (const k of ["certificateConfigKey", "keyConfigKey"] as const) {
            if (entry[k]) pr.error(dot(path, k), `${entry.mode} mode takes no ${k} (only external and csr modes do)`);
        }
    }
}

function readSshPrivateKey(v: unknown, opts: ParseOptions, pr: Problems): void {
    const path = root("sshPrivateKey");
    if (v === undefined) {
        const stackFlag = opts.stack ? ` --stack ${opts.stack}` : "";
        if (opts.requireSecrets) pr.error(path, `missing: set it with \`pulumi config set${stackFlag} --secret sshPrivateKey < <private key file>\``);
        return;
    }
    if (isSecretRef(v)) return;
    // Never quote the value: it is a private key.
    if (typeof v !== "string") pr.error(path, "expected the private key text (a secret string)");
    else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)) pr.error(path, "does not look like a PEM/OpenSSH private key (no -----BEGIN ... PRIVATE KEY----- line)");
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Validate the raw stack config (keys without the "pinhole:" prefix, values already parsed) and build the model.
 * Returns every error at once; `model` is set only when there are none.
 */
export function parseClusterConfig(raw: unknown, opts: ParseOptions = {}): ParseResult {
    const pr = new Problems();
    if (!isMap(raw)) {
        pr.error(`${CONFIG_NAMESPACE}:`, `expected the stack config as a map of keys, got ${typeName(raw)}`);
        return { errors: pr.errors, warnings: pr.warnings };
    }
    for (const key of Object.keys(raw)) {
        if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
            pr.error(root(key), `unknown key "${key}"${didYouMean(key, CONFIG_KEYS) || ` (known: ${CONFIG_KEYS.join(", ")})`}`);
        }
    }

    let model: DeploymentModelName | undefined;
    if (raw.model === undefined) pr.error(root("model"), `missing: one of ${DEPLOYMENT_MODELS.join(", ")}`);
    else model = readEnum(raw.model, root("model"), pr, DEPLOYMENT_MODELS);

    let domain: string | undefined;
    if (raw.domain !== undefined) {
        domain = readString(raw.domain, root("domain"), pr);
        if (domain !== undefined && !isHostname(domain)) { pr.error(root("domain"), `"${domain}" is not a valid DNS domain`); domain = undefined; }
        domain = domain?.toLowerCase().replace(/\.$/, "");
    }

    const networks = readNetworks(raw.networks, pr);

    let drafts: NodeDraft[] = [];
    if (raw.nodes === undefined) pr.error(root("nodes"), "missing: one entry per node (name, role, address, ssh.hostKey)");
    else {
        const list = readList(raw.nodes, root("nodes"), pr);
        if (list && list.length === 0) pr.error(root("nodes"), "is empty: a cluster has at least one node");
        drafts = (list ?? []).map((item, i) => readNode(item, i, pr, domain));
        checkNodes(drafts, model, pr);
    }
    const nodeNames = new Set(drafts.flatMap((d) => (d.name === undefined ? [] : [d.name])));

    readSshPrivateKey(raw.sshPrivateKey, opts, pr);
    const hosts = readHosts(raw.hosts, pr);
    const external = readExternal(raw.external, hosts, pr);
    const firewall = readFirewall(raw.firewall, nodeNames, pr);
    const certificates = readCertificates(raw.certificates, drafts, pr);

    if (networks) checkManagementPath(networks.admin, drafts, opts, pr);
    if (firewall?.egress === "deny") {
        if (!external.some((e) => e.kind === "ntp")) pr.warn(root("external.ntp"), "egress is deny and no NTP server is listed: nodes cannot keep time");
        pr.warn(root("firewall.egress"), "deny: DNS is not in the reference's tables and pinhole opens no resolver traffic; nodes that resolve names need it allowed elsewhere");
        external.filter((e) => e.uri?.scheme === "ftp").forEach((e) => pr.warn(e.configPath, "ftp with egress deny: only the control connection (21/tcp) is opened, passive data connections will be dropped"));
    }

    if (pr.errors.length > 0 || !model || !networks || !firewall || !certificates) {
        return { errors: pr.errors, warnings: pr.warnings };
    }
    const nodes: NodeSpec[] = drafts.map((d) => {
        const n: NodeSpec = {
            name: d.name as string, role: d.role as Role, site: d.site, address: d.address as string,
            fqdn: d.fqdn as string, arbiter: d.arbiter, ssh: d.ssh as SshAccess,
        };
        if (d.advertisedAddress !== undefined) n.advertisedAddress = d.advertisedAddress;
        if (d.webWeight !== undefined) n.webWeight = d.webWeight;
        return n;
    });
    const result: ClusterModel = {
        model,
        sites: [...new Set(nodes.map((n) => n.site))],
        nodes,
        networks,
        external,
        firewall,
        certificates,
    };
    if (domain !== undefined) result.domain = domain;
    return { model: result, errors: pr.errors, warnings: pr.warnings };
}

/** pinhole must keep its own way in: provisioning hosts and bastions inside the admin networks. */
function checkManagementPath(admin: string[], drafts: NodeDraft[], opts: ParseOptions, pr: Problems): void {
    const inAdmin = (addr: string) => admin.some((c) => cidrContains(c, addr));
    for (const a of opts.provisioningAddresses ?? []) {
        if (!inAdmin(a)) pr.error(root("networks.admin"), `does not include ${a}, the address pinhole runs from: every node's firewall would refuse pinhole's SSH connections`);
    }
    for (const d of drafts) {
        const b = d.ssh?.bastion;
        if (b && parseIp(b.host) && !inAdmin(b.host)) {
            pr.error(dot(d.path, "ssh.bastion.host"), `${b.host} is not in pinhole:networks.admin: ${d.name ?? "the node"} would refuse SSH from its own bastion`);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Stack files

export interface RawConfigResult {
    /** Config keyed without the namespace, ready for parseClusterConfig. */
    raw: Record<string, unknown>;
    errors: ConfigError[];
    warnings: ConfigWarning[];
}

/**
 * The `config:` map of a Pulumi.<stack>.yaml → raw config keyed without "pinhole:". Keys of other namespaces
 * (providers) are ignored, except near-misses of "pinhole" (an error). Secure values stay {secure: ...}.
 */
export function stackConfigToRaw(configMap: unknown): RawConfigResult {
    const pr = new Problems();
    const raw: Record<string, unknown> = {};
    if (configMap === undefined || configMap === null) return { raw, errors: pr.errors, warnings: pr.warnings };
    if (!isMap(configMap)) {
        pr.error("config", `expected the stack file's config: to be a map, got ${typeName(configMap)}`);
        return { raw, errors: pr.errors, warnings: pr.warnings };
    }
    for (const [fullKey, value] of Object.entries(configMap)) {
        const colon = fullKey.indexOf(":");
        const namespace = colon < 0 ? CONFIG_NAMESPACE : fullKey.slice(0, colon);
        const key = colon < 0 ? fullKey : fullKey.slice(colon + 1);
        if (namespace !== CONFIG_NAMESPACE) {
            if (didYouMean(namespace, [CONFIG_NAMESPACE]) !== "") {
                pr.error(fullKey, `namespace "${namespace}" is not "${CONFIG_NAMESPACE}": this key is ignored as written (did you mean "${CONFIG_NAMESPACE}:${key}"?)`);
            }
            continue;
        }
        if (key === "sshPrivateKey" && typeof value === "string") {
            pr.error(root(key), "is stored in clear in the stack file: remove it and run `pulumi config set --secret sshPrivateKey < <private key file>`");
            raw[key] = { secure: "(redacted: was in clear)" };
            continue;
        }
        raw[key] = value;
    }
    return { raw, errors: pr.errors, warnings: pr.warnings };
}

/** The path of a stack's file: <dir>/Pulumi.<stack>.yaml. */
export function stackFilePath(stacksDir: string, stack: string): string {
    return `${stacksDir.replace(/\/+$/, "")}/Pulumi.${stack}.yaml`;
}

function readStackYaml(path: string): unknown {
    const text = fs.readFileSync(path, "utf8");
    const doc = yaml.load(text, { filename: path });
    if (doc !== undefined && doc !== null && !isMap(doc)) throw new Error(`${path}: expected a YAML map with a config: key`);
    return isMap(doc) ? doc.config : undefined;
}

/**
 * Read stacks/Pulumi.<stack>.yaml and return its pinhole config keyed without the namespace.
 * Secrets stay encrypted ({secure: ...}). Throws when the file can't be read or isn't YAML;
 * config problems are left to parseClusterConfig (or use parseStackFile to get everything at once).
 */
export function loadStackFile(path: string): Record<string, unknown> {
    return stackConfigToRaw(readStackYaml(path)).raw;
}

/** stackConfigToRaw + parseClusterConfig: every problem of a stack file's `config:` map at once. */
export function parseStackConfig(configMap: unknown, opts: ParseOptions = {}): ParseResult {
    const converted = stackConfigToRaw(configMap);
    const parsed = parseClusterConfig(converted.raw, opts);
    const errors = [...converted.errors, ...parsed.errors];
    const warnings = [...converted.warnings, ...parsed.warnings];
    return errors.length > 0 ? { errors, warnings } : { model: parsed.model, errors, warnings };
}

/** Read stacks/Pulumi.<stack>.yaml and validate it: every problem at once. Throws only if the file is unreadable. */
export function parseStackFile(path: string, opts: ParseOptions = {}): ParseResult {
    return parseStackConfig(readStackYaml(path), opts);
}

/** One line per problem: "pinhole:nodes[2].address: ...". */
export function formatProblems(problems: readonly ConfigError[]): string {
    return problems.map((p) => `${p.path}: ${p.message}`).join("\n");
}

/** A headline and one line per problem, for an exception message or a terminal. */
export function formatConfigErrors(errors: readonly ConfigError[], stack?: string): string {
    const n = errors.length;
    return `invalid pinhole stack config${stack ? ` for stack "${stack}"` : ""} (${n} problem${n === 1 ? "" : "s"}; nothing was changed):\n${formatProblems(errors)}`;
}

/** Thrown by requireValidModel; `errors` has every problem. */
export class ConfigValidationError extends Error {
    constructor(readonly errors: ConfigError[]) {
        super(`invalid pinhole stack config (${errors.length} problem${errors.length === 1 ? "" : "s"}):\n${formatProblems(errors)}`);
        this.name = "ConfigValidationError";
    }
}

/** parseClusterConfig for callers that want a model or an exception listing every problem (index.ts). */
export function requireValidModel(raw: unknown, opts: ParseOptions = {}): ClusterModel {
    const result = parseClusterConfig(raw, opts);
    if (!result.model) throw new ConfigValidationError(result.errors);
    return result.model;
}
