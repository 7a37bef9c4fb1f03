// The lab's shapes and address plan. Pure: builds a LabPlan from options, no I/O.
// Its vantages and the multisite router are built in lab/shapes-hosts.ts.
//
// Address plan (see docs/lab.md):
//   10.77.0.0/16      the lab bridge `phlab0` (one L2 segment); the provisioning host (root namespace) is 10.77.0.1
//   10.77.1.0/24      site dc1 nodes          10.77.2.0/24  site dc2 nodes (multisite: their advertised addresses)
//   10.77.50.0/24     external services       10.77.100.0/24 admin network (admin vantage .10)
//   10.77.200.0/24    client network (client vantage .10)     10.78.2.0/24  multisite: dc2 behind the router (.1)
// Within a site: application/unified/standalone nodes .11+, database .101+, webproxy .201+.
//
// IPv6 (dual-stack, ULAs in fd77::/48) mirrors it: 10.77.x.y is also fd77::x:y on the same bridge (fd77::/64);
// multisite dc2 is routed without NAT in fd77:0:0:2::/64 behind the router (ipv6Of below, docs/lab.md).
// IPv6-only (`--ipv6-only`): a node's one address is its mirror fd77::x:y; its 10.77.x.y is not configured.
import { formatIp, parseIp } from "../model/net";
import type { DeploymentModelName, Role } from "../model/types";
import type { ExternalVantage, ServicePort } from "./ports";
import { checkNameClash, labRouter, labVantages, PlanNaming, six } from "./shapes-hosts";

export type LabModel = "standalone" | "unified" | "modular" | "multisite";
export const LAB_MODELS: readonly LabModel[] = ["standalone", "unified", "modular", "multisite"];

export const LAB_DOMAIN = "lab.pinhole.test";
export const NETNS_PREFIX = "phlab-";
export const BRIDGE = "phlab0";
/** Root-side veth names: `phl<index>` (15-character interface name limit). */
export const VETH_PREFIX = "phl";
export const PROVISIONER_ADDRESS = "10.77.0.1";
export const LAB_PREFIX_LEN = 16;
export const ADMIN_SUBNET = "10.77.100.0/24";
export const CLIENT_SUBNET = "10.77.200.0/24";
export const SUDO_USER = "pinhole";
/** IPv6: the lab bridge's /64, the provisioning host, the admin and client networks. */
export const LAB6_PREFIX = "fd77::/64";
export const LAB6_PREFIX_LEN = 64;
export const PROVISIONER_ADDRESS6 = "fd77::1";
export const ADMIN_SUBNET6 = "fd77::100:0/112";
export const CLIENT_SUBNET6 = "fd77::200:0/112";
/** Multisite: dc2's routed IPv6 subnet behind the router. */
export const DC2_PREFIX6 = "fd77:0:0:2::/64";

/** The lab's IPv6 mirror of a lab IPv4 address: 10.77.x.y → fd77::x:y (10.78.2.y, dc2 inside → fd77:0:0:2::y). */
export function ipv6Of(ipv4: string): string {
    const o = ipv4.split(".").map((x) => Number(x));
    if (
        o.length !== 4 ||
        o.some((x) => !Number.isInteger(x) || x < 0 || x > 255) ||
        o[0] !== 10 ||
        (o[1] !== 77 && o[1] !== 78)
    ) {
        throw new Error(`not a lab IPv4 address (10.77/16 or 10.78/16): ${ipv4}`);
    }
    const text = o[1] === 77 ? `fd77::${o[2]}:${o[3]}` : `fd77:0:0:${o[2]}::${o[3]}`;
    return formatIp(parseIp(text)!);
}

/** Is this address IPv6 (a node's `address` is, in an IPv6-only lab)? */
export const isIpv6 = (address: string): boolean => address.includes(":");

/** An address as the host part of host:port ([IPv6] in brackets). */
export const hostPart = (address: string): string => (isIpv6(address) ? `[${address}]` : address);

/** Does the node have an IPv6 address (dual-stack address6, or an IPv6-only node's address)? */
export const hasIpv6 = (n: { address: string; address6?: string }): boolean => !!n.address6 || isIpv6(n.address);

/**
 * Refuses `ipv6Only` where it cannot hold: with `ipv6: false`, on the multisite model (dc2 is behind an
 * IPv4 NAT router) and on the booted tier (IPv4-first).
 */
export function checkIpv6Only(opts: { model: string; ipv6?: boolean; ipv6Only?: boolean; boot?: boolean }): void {
    if (!opts.ipv6Only) return;
    if (opts.ipv6 === false)
        throw new Error("--ipv6-only and --ipv4-only exclude each other (ipv6Only: true with ipv6: false)");
    if (opts.model === "multisite")
        throw new Error(
            "--ipv6-only: not for the multisite model (its dc2 is behind an IPv4 NAT router); use standalone, unified or modular",
        );
    if (opts.boot)
        throw new Error("--ipv6-only: not on the booted tier (--boot / PINHOLE_LAB_TIER=boot is IPv4-first)");
}

export interface LabOptions {
    model: LabModel;
    /** Total number of cluster nodes (scales roles proportionally). Default: the model's own shape. */
    nodes?: number;
    /**
     * Nodes that log in as the unprivileged `pinhole` user with passwordless sudo.
     * true: the model's default sudo node (standalone: standalone-1; unified/multisite: the last unified node;
     * modular: the last application node). A list names them. Default: true except standalone (false).
     */
    sudoUser?: boolean | string[];
    /**
     * Dual-stack: every node, vantage and external host also gets its IPv6 address (fd77::/48, below), the
     * stack lists both families and the probe measures both. Default true (dual-stack); false is the IPv4-only
     * lab (`--ipv4-only`). labUp defaults it to false on the booted tier (`--boot` is IPv4 unless `--ipv6`).
     */
    ipv6?: boolean;
    /**
     * IPv6-only nodes (`--ipv6-only`): a node's `address` is its IPv6 address (no IPv4 on its eth0, no
     * `address6`); vantages, externals and the provisioning host stay dual-stack. Not for multisite (dc2 sits
     * behind an IPv4 NAT router), the booted tier or `ipv6: false` (checkIpv6Only).
     */
    ipv6Only?: boolean;
    /** The booted tier: every node a systemd-nspawn container booting systemd (lab/boot.ts; labUp). */
    boot?: boolean;
    services?: boolean; // real services on the externals and snmpd on nodes (lab/services.ts); default off
}

export interface LabNode {
    name: string;
    role: Role;
    site: string;
    /** The node's own (internal) address: IPv4, or IPv6 in an IPv6-only lab. */
    address: string;
    /** IPv6-only lab: the node's lab IPv4 address, NOT configured: only its stable MAC is derived from it. */
    labIpv4?: string;
    /** Multisite dc2 only: the address dc1, the vantages and the provisioning host use. */
    advertisedAddress?: string;
    /** Dual-stack lab: the node's IPv6 address (seen the same from everywhere: IPv6 is routed, never NATed). */
    address6?: string;
    /** Where the provisioning host connects (advertised address where NAT applies). */
    sshHost: string;
    prefixLen: number;
    gateway?: string;
    /** Multisite dc2: the IPv6 default route (the router's inner address). */
    gateway6?: string;
    netns: string;
    /** Root-side (or router-side, for multisite dc2) veth name. */
    veth: string;
    /** Which L2 segment: the lab bridge in the root namespace, or dc2's bridge inside the router namespace. */
    segment: "lab" | "dc2";
    arbiter: boolean;
    fqdn: string;
    sshUser: string;
    sudo: boolean;
}

export interface LabVantage {
    name: string;
    /** "client", "admin" or an external service ("ucm", "ldap", ...). */
    vantage: "client" | "admin" | ExternalVantage;
    description: string;
    address: string;
    /** Dual-stack lab only. */
    address6?: string;
    netns: string;
    veth: string;
    /** Ports served (externals); empty for client/admin. */
    ports: ServicePort[];
}

export interface LabRouter {
    netns: string;
    veth: string;
    outerAddress: string;
    innerAddress: string;
    innerPrefixLen: number;
    /** Dual-stack lab: IPv6, routed without NAT: outer address on the lab bridge, inner address on dc2's bridge, dc2's /64. */
    ipv6?: { outerAddress6: string; innerAddress6: string; innerPrefix6: string };
    innerBridge: string;
    /** 1:1 NAT: advertised (outside) ↔ internal (dc2). */
    nat: { advertised: string; internal: string; node: string }[];
}

export interface LabPlan {
    model: LabModel;
    deployment: DeploymentModelName;
    domain: string;
    nodes: LabNode[];
    vantages: LabVantage[];
    router?: LabRouter;
    provisioner: { address: string; address6?: string };
    /** labUp({ ipv6Only: true }), `up --ipv6-only`: nodes have IPv6 addresses only. */
    ipv6Only?: true;
    services?: true; // labUp({ services: true }), `up --services`
    bridge: string;
}

export function isLabModel(s: string): s is LabModel {
    return (LAB_MODELS as readonly string[]).includes(s);
}

interface RoleCount {
    role: Role;
    prefix: string;
    count: number;
}

/** How many nodes of each role a model gets for `total` nodes (default: the model's own shape). */
export function roleCounts(model: LabModel, total?: number): RoleCount[] {
    switch (model) {
        case "standalone":
            if (total !== undefined && total !== 1)
                throw new Error(`--nodes: the standalone model has exactly one node (got ${total})`);
            return [{ role: "standalone", prefix: "standalone", count: 1 }];
        case "unified":
        case "multisite": {
            const n = total ?? 6;
            if (!Number.isInteger(n) || n < 2 || n > 200)
                throw new Error(`--nodes: ${model} takes 2..200 nodes (got ${total})`);
            const proxies = Math.max(1, Math.round(n / 3));
            return [
                { role: "unified", prefix: "unified", count: n - proxies },
                { role: "webproxy", prefix: "proxy", count: proxies },
            ];
        }
        case "modular": {
            const n = total ?? 8;
            if (!Number.isInteger(n) || n < 3 || n > 200)
                throw new Error(`--nodes: modular takes 3..200 nodes (got ${total})`);
            const proxies = Math.max(1, Math.round(n / 4));
            const dbs = Math.max(1, Math.round((n * 3) / 8));
            return [
                { role: "application", prefix: "app", count: n - proxies - dbs },
                { role: "database", prefix: "db", count: dbs },
                { role: "webproxy", prefix: "proxy", count: proxies },
            ];
        }
    }
}

/** Host octet base within a site, by role. */
function hostBase(role: Role): number {
    return role === "database" ? 100 : role === "webproxy" ? 200 : 10;
}

/** The default sudo node of a plan's node list. */
export function defaultSudoNode(model: LabModel, names: { name: string; role: Role }[]): string {
    const want: Role = model === "standalone" ? "standalone" : model === "modular" ? "application" : "unified";
    const of = names.filter((n) => n.role === want);
    return of[of.length - 1].name;
}

/** A node before it has addresses. */
interface NodeSpec {
    name: string;
    role: Role;
    site: string;
    arbiter: boolean;
}

/** Names, roles and sites: each role's first half in dc1, the rest in dc2 (single-site models: all dc1). */
function nodeSpecs(model: LabModel, counts: RoleCount[]): NodeSpec[] {
    const twoSites = model === "unified" || model === "multisite";
    const specs: NodeSpec[] = [];
    for (const rc of counts) {
        const dc1 = twoSites ? Math.ceil(rc.count / 2) : rc.count;
        for (let i = 1; i <= rc.count; i++) {
            specs.push({
                name: `${rc.prefix}-${i}`,
                role: rc.role,
                site: i <= dc1 ? "dc1" : "dc2",
                // modular: the last database node runs the arbiter (db-3 in the default shape)
                arbiter: rc.role === "database" && i === rc.count,
            });
        }
    }
    return specs;
}

/** The nodes that log in as SUDO_USER (LabOptions.sudoUser); a name that is no node of the lab is refused. */
function sudoNodeNames(model: LabModel, sudoUser: LabOptions["sudoUser"], specs: NodeSpec[]): string[] {
    let sudoNames: string[];
    if (Array.isArray(sudoUser)) sudoNames = sudoUser;
    else if (sudoUser === true || (sudoUser === undefined && model !== "standalone"))
        sudoNames = [defaultSudoNode(model, specs)];
    else sudoNames = [];
    const unknown = sudoNames.filter((s) => !specs.some((n) => n.name === s));
    if (unknown.length) throw new Error(`--sudo-user: no node named ${unknown.join(", ")} in the ${model} lab`);
    return sudoNames;
}

/** Each node's host octet in its site: its role's base plus its place among the site's nodes of that role. */
function hostOctets(specs: NodeSpec[]): number[] {
    const perSiteRole = new Map<string, number>();
    return specs.map((s) => {
        const key = `${s.site}/${s.role}`;
        const k = (perSiteRole.get(key) ?? 0) + 1;
        perSiteRole.set(key, k);
        const host = hostBase(s.role) + k;
        if (host > 254) throw new Error(`too many ${s.role} nodes in site ${s.site}`);
        return host;
    });
}

/** What the node steps take from buildPlan besides the naming. */
interface NodeStep {
    naming: PlanNaming;
    model: LabModel;
    only6: boolean;
    sudoNames: string[];
}

type NodeAddresses = Pick<LabNode, "address" | "labIpv4" | "advertisedAddress" | "address6" | "sshHost" | "prefixLen">;

/** A node's addresses; multisite dc2 is natted: internal 10.78.2.y behind the router, advertised as its lab address. */
function nodeAddresses(step: NodeStep, labAddress: string, natted: boolean, host: number): NodeAddresses {
    // IPv6-only (never natted: multisite is refused): the IPv6 mirror is the node's one address
    if (step.only6)
        return {
            address: ipv6Of(labAddress),
            labIpv4: labAddress,
            sshHost: ipv6Of(labAddress),
            prefixLen: LAB6_PREFIX_LEN,
        };
    return {
        address: natted ? `10.78.2.${host}` : labAddress,
        ...(natted ? { advertisedAddress: labAddress } : {}),
        ...six(step.naming, "address6", natted ? `10.78.2.${host}` : labAddress),
        sshHost: labAddress,
        prefixLen: natted ? 24 : LAB_PREFIX_LEN,
    };
}

/** One node of the plan, with its addresses, namespace, veth and login. */
function labNode(step: NodeStep, s: NodeSpec, host: number): LabNode {
    const siteOctet = s.site === "dc1" ? 1 : 2;
    const labAddress = `10.77.${siteOctet}.${host}`;
    const natted = step.model === "multisite" && s.site === "dc2";
    const sudo = step.sudoNames.includes(s.name);
    return {
        name: s.name,
        role: s.role,
        site: s.site,
        ...nodeAddresses(step, labAddress, natted, host),
        ...(natted ? { gateway: "10.78.2.1", ...six(step.naming, "gateway6", "10.78.2.1") } : {}),
        netns: step.naming.netns(s.name),
        veth: step.naming.nextVeth(),
        segment: natted ? "dc2" : "lab",
        arbiter: s.arbiter,
        fqdn: `${s.name}.${LAB_DOMAIN}`,
        sshUser: sudo ? SUDO_USER : "root",
        sudo,
    };
}

/** Namespaces are NETNS_PREFIX + host; veths are numbered in plan order; IPv6 mirrors only in a dual-stack lab. */
function planNaming(v6: boolean): PlanNaming {
    let vethIndex = 0;
    return {
        netns: (host) => NETNS_PREFIX + host,
        nextVeth: () => `${VETH_PREFIX}${vethIndex++}`,
        mirror6: v6 ? ipv6Of : undefined,
    };
}

/** The plan for `opts`: the options are checked first (model, node count, IPv6-only), then the steps above run. */
export function buildPlan(opts: LabOptions): LabPlan {
    const model = opts.model;
    if (!isLabModel(model)) throw new Error(`unknown lab model "${model}" (one of ${LAB_MODELS.join(", ")})`);
    const counts = roleCounts(model, opts.nodes);
    checkIpv6Only(opts);
    const only6 = !!opts.ipv6Only;
    const v6 = only6 || opts.ipv6 !== false;
    const naming = planNaming(v6);
    const specs = nodeSpecs(model, counts);
    const step: NodeStep = { naming, model, only6, sudoNames: sudoNodeNames(model, opts.sudoUser, specs) };
    const hosts = hostOctets(specs);
    // veths in plan order: the nodes, then the vantages, then the router
    const nodes = specs.map((s, i) => labNode(step, s, hosts[i]));
    const vantages = labVantages(naming);
    checkNameClash(nodes, vantages);
    const router = model === "multisite" ? labRouter(naming, nodes, DC2_PREFIX6) : undefined;
    return {
        model,
        deployment: model === "multisite" ? "unified" : model,
        domain: LAB_DOMAIN,
        nodes,
        vantages,
        router,
        provisioner: { address: PROVISIONER_ADDRESS, ...(v6 ? { address6: PROVISIONER_ADDRESS6 } : {}) },
        ...(only6 ? { ipv6Only: true as const } : {}),
        ...(opts.services ? { services: true as const } : {}),
        bridge: BRIDGE,
    };
}

/** The address `from` uses to reach node `to`: internal within a site, advertised from anywhere else. */
export function addressSeenFrom(to: LabNode, from: { site?: string } | undefined): string {
    if (from?.site !== undefined && from.site === to.site) return to.address;
    return to.advertisedAddress ?? to.address;
}

/** All namespaces of a plan. */
export function planNamespaces(plan: LabPlan): string[] {
    return [
        ...plan.nodes.map((n) => n.netns),
        ...plan.vantages.map((v) => v.netns),
        ...(plan.router ? [plan.router.netns] : []),
    ];
}
