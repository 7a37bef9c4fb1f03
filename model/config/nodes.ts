// pinhole:nodes: each node, its SSH access, and the cross-node checks.
import { DeploymentModelName, Role, ROLES, SshAccess, SshEndpoint } from "../types";
import { formatIp, isHostname, parseIp } from "../net";
import { ARBITER_ROLE_ERROR, canRunArbiter, checkDeploymentModel } from "../roles";
import { BASTION_KEYS, NODE_KEYS, NODE_NAME_RE, SITE_RE, SSH_KEYS, USER_RE } from "./keys";
import { checkHostKey } from "./hostkey";
import { Problems, at, dot, readBool, readEnum, readInt, readIp, readMap, readPort, readString, root } from "./read";
import { LIMITS } from "../limits";

// ---------------------------------------------------------------------------------------------------------

/** A node as read so far: every field optional, so cross-checks run even when a node has errors. */
export interface NodeDraft {
    index: number;
    path: string;
    name?: string;
    role?: Role;
    site: string;
    siteGiven: boolean;
    address?: string;
    address6?: string;
    advertisedAddress?: string;
    fqdn?: string;
    arbiter: boolean;
    webWeight?: number;
    ssh?: SshAccess;
}

export function readSshEndpoint(
    v: Record<string, unknown>,
    path: string,
    pr: Problems,
    defaultHost: string | undefined,
    hostRequired: boolean,
): SshEndpoint | undefined {
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
        pr.error(
            dot(path, "hostKey"),
            "missing: pin the host's public key (ssh-keyscan -t ed25519 <host>); pinhole never trusts a host key on first use",
        );
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

export function readSsh(v: unknown, path: string, pr: Problems, address: string | undefined): SshAccess | undefined {
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

export function readNode(v: unknown, index: number, pr: Problems, domain: string | undefined): NodeDraft {
    const path = at(root("nodes"), index);
    const draft: NodeDraft = { index, path, site: "default", siteGiven: false, arbiter: false };
    const m = readMap(v, path, pr, NODE_KEYS);
    if (!m) return draft;

    if (m.name === undefined) pr.error(dot(path, "name"), "missing: every node needs a name");
    else {
        const name = readString(m.name, dot(path, "name"), pr);
        if (name !== undefined && !NODE_NAME_RE.test(name)) {
            pr.error(
                dot(path, "name"),
                `"${name}" must be 1-40 characters of a-z, 0-9 and "-", not starting or ending with "-"`,
            );
        } else draft.name = name;
    }
    if (m.role === undefined) pr.error(dot(path, "role"), `missing: one of ${ROLES.join(", ")}`);
    else draft.role = readEnum(m.role, dot(path, "role"), pr, ROLES);
    if (m.site !== undefined) {
        const site = readString(m.site, dot(path, "site"), pr);
        if (site !== undefined && !SITE_RE.test(site))
            pr.error(dot(path, "site"), `"${site}" must be 1-40 letters, digits, ".", "_" or "-"`);
        else if (site !== undefined) {
            draft.site = site;
            draft.siteGiven = true;
        }
    }
    if (m.address === undefined) pr.error(dot(path, "address"), "missing: the node's own IPv4 or IPv6 address");
    else draft.address = readIp(m.address, dot(path, "address"), pr);
    if (m.address6 !== undefined) draft.address6 = readAddress6(m.address6, dot(path, "address6"), pr, draft.address);
    if (m.advertisedAddress !== undefined) {
        draft.advertisedAddress = readIp(m.advertisedAddress, dot(path, "advertisedAddress"), pr);
        if (
            draft.advertisedAddress !== undefined &&
            draft.address !== undefined &&
            sameIp(draft.advertisedAddress, draft.address)
        ) {
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
    if (m.webWeight !== undefined)
        draft.webWeight = readInt(m.webWeight, dot(path, "webWeight"), pr, LIMITS.webWeight.min, LIMITS.webWeight.max);
    draft.ssh = readSsh(m.ssh, dot(path, "ssh"), pr, draft.address);
    return draft;
}

/** A dual-stack node's IPv6 address: `address` is then its IPv4 address (IPv6 is never behind NAT here). */
function readAddress6(v: unknown, path: string, pr: Problems, address: string | undefined): string | undefined {
    const a6 = readIp(v, path, pr);
    if (a6 === undefined) return undefined;
    if (parseIp(a6)?.family !== 6) {
        pr.error(
            path,
            `"${a6}" is not an IPv6 address: address6 is a dual-stack node's IPv6 address (address holds its IPv4 one)`,
        );
        return undefined;
    }
    if (address !== undefined && parseIp(address)?.family === 6) {
        pr.error(
            path,
            `address ${address} is already IPv6: address6 is only for a dual-stack node whose address is IPv4`,
        );
        return undefined;
    }
    return a6;
}

export function sameIp(a: string, b: string): boolean {
    return parseIp(a) !== undefined && canonicalIp(a) === canonicalIp(b);
}

/** One spelling per address: IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address; IPv6 in RFC 5952 form. */
export function canonicalIp(a: string): string {
    const ip = parseIp(a);
    if (!ip) return a;
    if (ip.family === 6 && ip.value >> 32n === 0xffffn) return formatIp({ family: 4, value: ip.value & 0xffffffffn });
    return formatIp(ip);
}

/** Cross-node checks: names, addresses as every site sees them, sites vs NAT, roles vs the deployment model. */
export function checkNodes(drafts: NodeDraft[], model: DeploymentModelName | undefined, pr: Problems): void {
    checkNames(drafts, pr);
    checkAddresses(drafts, pr);
    checkAdvertisedNeedsSites(drafts, pr);
    checkSshTargets(drafts, pr);
    checkFqdns(drafts, pr);
    checkWebWeights(drafts, pr);
    checkRoles(drafts, model, pr);
}

/** Node names are unique. */
function checkNames(drafts: NodeDraft[], pr: Problems): void {
    const names = new Map<string, number>();
    for (const d of drafts) {
        if (d.name === undefined) continue;
        const first = names.get(d.name);
        if (first !== undefined)
            pr.error(dot(d.path, "name"), `duplicate node name "${d.name}" (also ${at(root("nodes"), first)}.name)`);
        else names.set(d.name, d.index);
    }
}

/** From each site, every node must appear at a distinct address (its advertised address across sites). */
function checkAddresses(drafts: NodeDraft[], pr: Problems): void {
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
            if (!prior) {
                seen.set(key, { d, field });
                continue;
            }
            const pair = `${prior.d.index}/${d.index}`;
            if (reported.has(pair)) continue;
            reported.add(pair);
            const where =
                field === "advertisedAddress" || prior.field === "advertisedAddress"
                    ? ` (as seen from site ${viewerSite})`
                    : "";
            pr.error(
                dot(d.path, field),
                `address ${addr} is also ${prior.d.path}.${prior.field}${where}: every node needs its own address`,
            );
        }
    }
}

/** advertisedAddress only means something with two sites or more. */
function checkAdvertisedNeedsSites(drafts: NodeDraft[], pr: Problems): void {
    const sites = [...new Set(drafts.map((d) => d.site))];
    if (sites.length < 2) {
        for (const d of drafts) {
            if (d.advertisedAddress !== undefined) {
                pr.error(
                    dot(d.path, "advertisedAddress"),
                    `only peers at OTHER sites use advertisedAddress, and every node is at site "${sites[0]}": give nodes their site, or remove it`,
                );
            }
        }
    }
}

/** Two entries reaching the same SSH endpoint with the same pinned key are one machine listed twice. */
function checkSshTargets(drafts: NodeDraft[], pr: Problems): void {
    const targets = new Map<string, NodeDraft>();
    for (const d of drafts) {
        if (!d.ssh) continue;
        const key = `${canonicalIp(d.ssh.host).toLowerCase()}|${d.ssh.port}|${d.ssh.hostKey.split(/\s+/).slice(0, 2).join(" ")}`;
        const prior = targets.get(key);
        if (prior)
            pr.error(
                dot(d.path, "ssh"),
                `reaches the same SSH target (${d.ssh.host}:${d.ssh.port}) with the same host key as ${prior.path}: one machine cannot be two nodes`,
            );
        else targets.set(key, d);
    }
}

/** Two nodes with one fqdn would carry the same certificate name (a warning). */
function checkFqdns(drafts: NodeDraft[], pr: Problems): void {
    const fqdns = new Map<string, number>();
    for (const d of drafts) {
        if (d.fqdn === undefined) continue;
        const first = fqdns.get(d.fqdn);
        if (first !== undefined)
            pr.warn(
                dot(d.path, "fqdn"),
                `"${d.fqdn}" is also the fqdn of ${at(root("nodes"), first)}: their web certificates will carry the same name`,
            );
        else fqdns.set(d.fqdn, d.index);
    }
}

/** webWeight is for application/unified upstreams behind web proxies. */
function checkWebWeights(drafts: NodeDraft[], pr: Problems): void {
    for (const d of drafts) {
        if (d.webWeight !== undefined && d.role !== undefined && d.role !== "application" && d.role !== "unified") {
            pr.error(
                dot(d.path, "webWeight"),
                `webWeight is the weight of an application/unified upstream in the web proxies; a ${d.role} node has none`,
            );
        }
    }
    if (drafts.some((d) => d.webWeight !== undefined) && !drafts.some((d) => d.role === "webproxy")) {
        pr.warn(root("nodes"), "webWeight is set but the cluster has no web proxy: it has no effect");
    }
}

/** Roles and arbiters against the deployment model. */
function checkRoles(drafts: NodeDraft[], model: DeploymentModelName | undefined, pr: Problems): void {
    if (model !== undefined && drafts.length > 0 && drafts.every((d) => d.role !== undefined)) {
        const found = checkDeploymentModel(
            model,
            drafts.map((d) => ({ role: d.role as Role, arbiter: d.arbiter, site: d.site })),
        );
        for (const f of found.errors)
            pr.error(
                f.nodeIndex === undefined ? root("nodes") : dot(drafts[f.nodeIndex].path, f.field ?? "role"),
                f.message,
            );
        for (const f of found.warnings)
            pr.warn(
                f.nodeIndex === undefined ? root("nodes") : dot(drafts[f.nodeIndex].path, f.field ?? "role"),
                f.message,
            );
    } else if (model !== undefined) {
        // Roles with errors already reported; still check arbiters on the valid ones.
        for (const d of drafts) {
            if (d.arbiter && d.role !== undefined && !canRunArbiter(d.role as Role)) {
                pr.error(dot(d.path, "arbiter"), ARBITER_ROLE_ERROR(d.role));
            }
        }
    }
    if (model === "standalone" && drafts.some((d) => d.arbiter)) {
        pr.warn(root("nodes"), "arbiter on a standalone node has no effect: there are no peers");
    }
}
