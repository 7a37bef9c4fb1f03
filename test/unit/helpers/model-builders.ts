// Builders for model tests: valid host keys, raw stack configs, and a seeded generator of random valid clusters.

import { createHash } from "crypto";
import { ClusterModel, NodeSpec } from "../../../model/types";
import { parseClusterConfig } from "../../../model/config";
import { NARROWING_IDS } from "../../../model/narrowings";

/** A well-formed OpenSSH ed25519 public key, deterministic per seed (not a real host's key). */
export function hostKeyFor(seed: string): string {
    const type = Buffer.from("ssh-ed25519");
    const key = createHash("sha256").update(seed).digest();
    const len = (n: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n);
        return b;
    };
    return `ssh-ed25519 ${Buffer.concat([len(type.length), type, len(key.length), key]).toString("base64")}`;
}

export interface RawNode {
    name: string;
    role: string;
    address: string;
    site?: string;
    advertisedAddress?: string;
    arbiter?: boolean;
    [k: string]: unknown;
}

/** A raw node entry with a valid pinned host key. */
export function rawNode(n: RawNode): Record<string, unknown> {
    return { ...n, ssh: { hostKey: hostKeyFor(n.name), ...(n.ssh as object | undefined) } };
}

/** Distinct, recognisable external destinations: one address per kind, so tests can find each by address. */
export const EXTERNAL_ADDRESSES = {
    ucm: "10.30.0.10",
    unityConnection: "10.30.0.11",
    hcmf: "10.30.0.12",
    webex: "203.0.113.0/24",
    sso: "10.30.0.13",
    ldap: "10.30.0.14",
    apiResponses: "10.40.0.0/24",
    notification: "10.40.0.20",
    snmpTrap: "10.30.0.16",
    backup: "10.20.5.4",
    ntp: "10.30.0.17",
    download: "10.30.0.18",
};

/** Every external kind configured, LDAP and SNMP with both transports so every table cell can be found. */
export function fullExternal(): Record<string, unknown> {
    const a = EXTERNAL_ADDRESSES;
    return {
        ucm: [a.ucm],
        unityConnection: [a.unityConnection],
        hcmf: [a.hcmf],
        webex: [a.webex],
        sso: [a.sso],
        ldap: [{ host: a.ldap, ports: [389, 636], protocols: ["tcp", "udp"] }],
        apiResponses: [a.apiResponses],
        notificationDestinations: [`https://${a.notification}:9443/notify`],
        snmpTrapReceivers: [{ uri: `snmp://traps@${a.snmpTrap}`, protocols: ["udp", "tcp"] }],
        backupDestinations: ["sftp://backup@backup.example.net/srv/backups"],
        ntp: [a.ntp],
        downloadLocations: [`https://${a.download}/packs`],
    };
}

export const ADMIN = ["192.168.100.0/24"];
export const CLIENT = ["203.0.113.128/25", "198.18.0.0/15"];
export const MONITORING = ["192.168.101.0/24"];

export function rawCluster(
    model: string,
    nodes: RawNode[],
    extra: Record<string, unknown> = {},
): Record<string, unknown> {
    return {
        model,
        domain: "example.net",
        networks: { admin: ADMIN, client: CLIENT, monitoring: MONITORING },
        nodes: nodes.map(rawNode),
        hosts: { "backup.example.net": [EXTERNAL_ADDRESSES.backup] },
        external: fullExternal(),
        ...extra,
    };
}

/** Parse or fail the test with every error. */
export function mustParse(raw: unknown): ClusterModel {
    const r = parseClusterConfig(raw);
    if (!r.model)
        throw new Error(`expected a valid config, got:\n${r.errors.map((e) => `${e.path}: ${e.message}`).join("\n")}`);
    return r.model;
}

// ---------------------------------------------------------------------------------------------------------
// Seeded PRNG and random valid clusters.

/** mulberry32: small, fast, good enough for test generation; same seed → same sequence. */
export function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

export class Gen {
    constructor(readonly rnd: () => number) {}
    int(min: number, max: number): number {
        return min + Math.floor(this.rnd() * (max - min + 1));
    }
    bool(p = 0.5): boolean {
        return this.rnd() < p;
    }
    pick<T>(xs: readonly T[]): T {
        return xs[Math.floor(this.rnd() * xs.length)];
    }
    subset<T>(xs: readonly T[]): T[] {
        return xs.filter(() => this.bool());
    }
}

/** A random valid raw config: any model, 1-3 sites, NAT on some sites, IPv4 or IPv6, random settings. */
export function randomRawCluster(g: Gen): Record<string, unknown> {
    const model = g.pick(["standalone", "unified", "modular"] as const);
    const siteCount = model === "standalone" ? 1 : g.int(1, 3);
    const sites = Array.from({ length: siteCount }, (_, i) => `dc${i + 1}`);
    const natSites = new Set(sites.filter((_, i) => i > 0 && siteCount > 1 && g.bool(0.6)));
    const v6 = g.bool(0.25);
    const nodes: RawNode[] = [];
    let serial = 0;
    const add = (role: string, prefix: string) => {
        serial++;
        const site = g.pick(sites);
        const siteNo = sites.indexOf(site) + 1;
        const node: RawNode = {
            name: `${prefix}-${serial}`,
            role,
            site,
            address: v6
                ? `fd00:${siteNo}::${serial.toString(16)}`
                : `10.${siteNo}.${Math.floor(serial / 200)}.${(serial % 200) + 10}`,
        };
        if (natSites.has(site))
            node.advertisedAddress = v6
                ? `2001:db8:${siteNo}::${serial.toString(16)}`
                : `198.51.${siteNo}.${serial + 10}`;
        if ((role === "database" || role === "unified" || role === "application") && g.bool(0.2)) node.arbiter = true;
        nodes.push(node);
    };
    if (model === "standalone") add("standalone", "solo");
    if (model === "unified") {
        for (let i = g.int(1, 6); i > 0; i--) add("unified", "uni");
        for (let i = g.int(0, 3); i > 0; i--) add("webproxy", "proxy");
    }
    if (model === "modular") {
        for (let i = g.int(1, 5); i > 0; i--) add("application", "app");
        for (let i = g.int(1, 5); i > 0; i--) add("database", "db");
        for (let i = g.int(0, 3); i > 0; i--) add("webproxy", "proxy");
    }
    if (siteCount > 1 && new Set(nodes.map((n) => n.site)).size < 2) {
        // Keep advertisedAddress legal: it needs nodes at more than one site.
        nodes.forEach((n) => delete n.advertisedAddress);
    }
    const external = fullExternal();
    for (const k of Object.keys(external)) if (g.bool(0.3)) delete external[k];
    return {
        model,
        networks: {
            admin: ADMIN,
            client: g.pick([CLIENT, ["0.0.0.0/0", "::/0"], ["203.0.113.0/24"]]),
            monitoring: g.pick([MONITORING, ADMIN]),
        },
        nodes: nodes.map(rawNode),
        hosts: { "backup.example.net": [EXTERNAL_ADDRESSES.backup] },
        external,
        firewall: {
            egress: g.pick(["allow", "deny"]),
            profile: g.pick(["reference", "strict"]),
            // Each narrowing switched on, off or left to the profile.
            narrow: Object.fromEntries(
                NARROWING_IDS.flatMap((id) => {
                    const v = g.pick([true, false, undefined]);
                    return v === undefined ? [] : [[id, v]];
                }),
            ),
            httpRedirect: g.bool(0.3),
        },
    };
}

/** The address `peer` has as `viewer` sees it — written here from the rule, independently of model/policy.ts. */
export function seenBy(viewer: NodeSpec, peer: NodeSpec): string {
    if (viewer.site === peer.site) return peer.address;
    return peer.advertisedAddress ?? peer.address;
}
