// pinhole:hosts and pinhole:external: destinations the cluster talks to, resolved to literal addresses.
import { ExternalEndpoint, NetworkUri, Protocol } from "../types";
import { isHostname, parseCidr, parseIp } from "../net";
import { didYouMean } from "../suggest";
import { parseNetworkUri } from "../uri";
import { PORTS } from "../catalog";
import { EXTERNAL_KEYS, HOST_LIST_KINDS, LDAP_KEYS, PROTOCOLS, SNMP_KEYS, URI_LIST_KINDS } from "./keys";
import {
    Problems,
    at,
    checkSingleLine,
    dot,
    isMap,
    isSecretRef,
    mappedIPv4Problem,
    quoted,
    readCidrList,
    readEnum,
    readList,
    readMap,
    readPort,
    readString,
    root,
    typeName,
} from "./read";

// ---------------------------------------------------------------------------------------------------------

export type HostMap = Map<string, string[]>;

export function readHosts(v: unknown, pr: Problems): HostMap {
    const hosts: HostMap = new Map();
    if (v === undefined) return hosts;
    const m = readMap(v, root("hosts"), pr);
    if (!m) return hosts;
    const seen = new Map<string, string>();
    for (const [name, value] of Object.entries(m)) {
        const path = quoted(root("hosts"), name);
        if (!isHostname(name)) {
            pr.error(path, `"${name}" is not a valid host name`);
            continue;
        }
        const list = typeof value === "string" ? [value] : value;
        const addresses = readCidrList(list, path, pr);
        const canonical = name.toLowerCase().replace(/\.$/, "");
        const same = seen.get(canonical);
        if (same !== undefined) {
            pr.error(
                path,
                `is the same host name as pinhole:hosts["${same}"] (names are case-insensitive, a trailing dot changes nothing): list its addresses once`,
            );
            continue;
        }
        seen.set(canonical, name);
        if (addresses && addresses.length === 0) pr.error(path, "has no addresses");
        else if (addresses) hosts.set(canonical, addresses);
    }
    return hosts;
}

/** Host text (address, CIDR or a name from pinhole:hosts) → literal addresses for firewall rules. */
export function resolveHost(text: string, path: string, hosts: HostMap, pr: Problems): string[] | undefined {
    const mapped = mappedIPv4Problem(text);
    if (mapped) {
        pr.error(path, mapped);
        return undefined;
    }
    if (parseIp(text) || parseCidr(text).ok) return [text];
    const cidr = parseCidr(text);
    if (/^[0-9./]+$/.test(text) || text.includes(":") || text.includes("/")) {
        pr.error(path, cidr.ok ? `"${text}" is not valid` : cidr.error);
        return undefined;
    }
    if (!isHostname(text)) {
        pr.error(path, `"${text}" is not an address, CIDR or host name`);
        return undefined;
    }
    const found = hosts.get(text.toLowerCase().replace(/\.$/, ""));
    if (found) return found;
    pr.error(
        path,
        `host "${text}" is not in pinhole:hosts${didYouMean(text, [...hosts.keys()])}: pinhole never resolves names when it applies rules, so list its addresses under pinhole:hosts`,
    );
    return undefined;
}

type Push = (e: ExternalEndpoint) => void;
type UriKind = (typeof URI_LIST_KINDS)[keyof typeof URI_LIST_KINDS];

export function readExternal(v: unknown, hosts: HostMap, pr: Problems, inClear = true): ExternalEndpoint[] {
    const endpoints: ExternalEndpoint[] = [];
    if (v === undefined) return endpoints;
    const m = readMap(v, root("external"), pr, EXTERNAL_KEYS);
    if (!m) return endpoints;
    const base = root("external");
    const push: Push = (e) => {
        const dup = endpoints.find(
            (x) => x.kind === e.kind && x.protocol === e.protocol && x.port === e.port && x.name === e.name,
        );
        if (dup) pr.warn(e.configPath, `same destination as ${dup.configPath}`);
        else endpoints.push(e);
    };
    const eachItem = (key: string, read: (item: unknown, path: string) => void) => {
        if (m[key] === undefined) return;
        readList(m[key], dot(base, key), pr)?.forEach((item, i) => read(item, at(dot(base, key), i)));
    };
    for (const [key, spec] of Object.entries(HOST_LIST_KINDS)) {
        eachItem(key, (item, path) => {
            const host = readString(item, path, pr);
            const addresses = host === undefined ? undefined : resolveHost(host, path, hosts, pr);
            if (host !== undefined && addresses)
                push({
                    kind: spec.kind,
                    name: host,
                    addresses,
                    protocol: spec.protocol,
                    port: spec.port,
                    configPath: path,
                });
        });
    }
    eachItem("ldap", (item, path) => readLdapEntry(item, path, hosts, pr, push));
    for (const [key, spec] of Object.entries(URI_LIST_KINDS)) {
        eachItem(key, (item, path) => readUriEntry(item, path, spec, hosts, pr, push, inClear));
    }
    return endpoints;
}

/** A non-empty list read with `one` per item; undefined (problems reported) when any item or the list is bad. */
function readNonEmpty<T>(
    v: unknown,
    path: string,
    pr: Problems,
    one: (x: unknown, path: string) => T | undefined,
): T[] | undefined {
    const read = readList(v, path, pr)?.map((x, j) => one(x, at(path, j)));
    if (!read || read.some((x) => x === undefined)) return undefined;
    if (read.length === 0) {
        pr.error(path, "is empty");
        return undefined;
    }
    return read as T[];
}

const readProtocols = (v: unknown, path: string, pr: Problems) =>
    readNonEmpty(v, path, pr, (x, p) => readEnum(x, p, pr, PROTOCOLS) as Protocol | undefined);

/** An LDAP directory: a host, or { host, ports?, protocols? } (default 389 and 636 over TCP, the table's UDP aside). */
function readLdapEntry(item: unknown, path: string, hosts: HostMap, pr: Problems, push: Push): void {
    let hostValue: unknown = item;
    let ports: number[] = [PORTS.ldap, PORTS.ldaps];
    let protocols: Protocol[] = ["tcp"];
    let protocolsDefaulted = true;
    let hostPath = path;
    if (isMap(item)) {
        const o = readMap(item, path, pr, LDAP_KEYS);
        if (!o) return;
        hostValue = o.host;
        hostPath = dot(path, "host");
        if (o.host === undefined) {
            pr.error(hostPath, "missing: the directory's address or host name");
            return;
        }
        if (o.ports !== undefined) {
            const read = readNonEmpty(o.ports, dot(path, "ports"), pr, (x, p) => readPort(x, p, pr));
            if (!read) return;
            ports = read;
            ports.forEach((p, j) => {
                if (p !== PORTS.ldap && p !== PORTS.ldaps)
                    pr.warn(at(dot(path, "ports"), j), `${p} is not an LDAP port in the reference (389, 636)`);
            });
        }
        if (o.protocols !== undefined) {
            const read = readProtocols(o.protocols, dot(path, "protocols"), pr);
            if (!read) return;
            protocols = read;
            protocolsDefaulted = false;
        }
    }
    const host = readString(hostValue, hostPath, pr);
    const addresses = host === undefined ? undefined : resolveHost(host, hostPath, hosts, pr);
    if (host === undefined || !addresses) return;
    for (const port of [...new Set(ports)]) {
        for (const protocol of [...new Set(protocols)])
            push({
                kind: "ldap",
                name: host,
                addresses,
                protocol,
                port,
                configPath: path,
                ...(protocolsDefaulted ? { protocolsDefaulted } : {}),
            });
    }
}

/** A destination given as a URI (SNMP traps may also be { uri, protocols? }): parsed, checked, resolved. */
function readUriEntry(
    item: unknown,
    path: string,
    spec: UriKind,
    hosts: HostMap,
    pr: Problems,
    push: Push,
    inClear: boolean,
): void {
    let uriValue: unknown = item;
    let uriPath = path;
    let protocols: Protocol[] = spec.kind === "snmpTrap" ? ["udp"] : ["tcp"];
    let protocolsDefaulted = spec.kind === "snmpTrap";
    if (spec.kind === "snmpTrap" && isMap(item) && !isSecretRef(item)) {
        const o = readMap(item, path, pr, SNMP_KEYS);
        if (!o) return;
        uriValue = o.uri;
        uriPath = dot(path, "uri");
        if (o.uri === undefined) {
            pr.error(uriPath, "missing: snmp://community@host[:port]");
            return;
        }
        if (o.protocols !== undefined) {
            const read = readProtocols(o.protocols, dot(path, "protocols"), pr);
            if (!read) return;
            protocols = [...new Set(read)];
            protocolsDefaulted = false;
        }
    }
    const uri = readDestinationUri(uriValue, uriPath, spec, pr, inClear);
    if (!uri) return;
    const addresses = resolveHost(uri.host as string, uriPath, hosts, pr);
    if (!addresses) return;
    for (const protocol of protocols) {
        push({
            kind: spec.kind,
            name: uri.redacted,
            addresses,
            protocol,
            port: uri.port as number,
            configPath: path,
            uri,
            ...(protocolsDefaulted ? { protocolsDefaulted } : {}),
        });
    }
}

/** The URI of a destination that needs a firewall opening; undefined when it is not usable (or local: file). */
function readDestinationUri(
    uriValue: unknown,
    uriPath: string,
    spec: UriKind,
    pr: Problems,
    inClear: boolean,
): NetworkUri | undefined {
    if (isSecretRef(uriValue)) {
        pr.error(
            uriPath,
            "is encrypted: pinhole needs the destination's host and port in clear (preview, matrix); keep credentials out of this URI (pinhole does not use them), or let tools read the stack as pulumi up does (the stack must exist in the backend: pulumi stack init)",
        );
        return undefined;
    }
    if (typeof uriValue !== "string") {
        pr.error(uriPath, `expected a URI string, got ${typeName(uriValue)}`);
        return undefined;
    }
    if (!checkSingleLine(uriValue, uriPath, pr)) return undefined;
    const parsed = parseNetworkUri(uriValue, spec.schemes);
    if (!parsed.ok) {
        pr.error(uriPath, parsed.error);
        return undefined;
    }
    const uri = parsed.uri;
    if (uri.scheme === "file") {
        pr.warn(uriPath, `${uri.redacted} is local to the node: no firewall opening is needed`);
        return undefined;
    }
    if (spec.kind === "notification" && !uri.portExplicit) {
        pr.error(
            uriPath,
            `${uri.redacted} has no port: the reference gives northbound notifications no default port ("dependant"), so write it in the URI, e.g. ${uri.scheme}://${uri.host}:8443${uri.path ?? "/"}`,
        );
        return undefined;
    }
    return inClear && !credentialsInClearOk(uri, uriPath, pr) ? undefined : uri;
}

/**
 * Credentials in clear (docs/stack-config.md "Secrets in URIs"). The reference treats SNMPv3 auth/privacy
 * passphrases ("minimum auth/password") and ssh/sftp passwords ("keys - ssh/sftp credentials") as
 * credentials: in clear they are errors. Any other URI password (ftp, http, https) warns: pinhole does not
 * use it. A v2c community is the label the URI grammar requires: accepted in clear, redacted everywhere.
 */
function credentialsInClearOk(uri: NetworkUri, uriPath: string, pr: Problems): boolean {
    if (uri.snmpVersion === "v3") {
        pr.error(
            uriPath,
            `${uri.redacted}: the SNMPv3 passphrases are credentials and sit in the stack file in clear: store the URI as a secret (pulumi config set --secret --path '${uriPath}' '<uri>'; docs/stack-config.md "Secrets in URIs")`,
        );
        return false;
    }
    if (uri.hasSecret && uri.scheme === "sftp") {
        pr.error(
            uriPath,
            `${uri.redacted}: an sftp password is an ssh/sftp credential and sits in the stack file in clear: remove it (pinhole only opens the firewall; the platform keeps its backup credentials) or store the URI as a secret (pulumi config set --secret --path '${uriPath}' '<uri>')`,
        );
        return false;
    }
    if (uri.hasSecret && uri.scheme !== "snmp") {
        pr.warn(
            uriPath,
            `${uri.redacted} carries a password that pinhole does not use (it only opens the firewall) and that sits in the stack file in clear: remove it`,
        );
    }
    return true;
}
