// A literal reading of every table of the reference (network-security.txt), written out here by hand from the
// reference text, NOT from model/catalog.ts or model/policy.ts: the oracle the reference profile (the
// default) is compared with, in unit tests (exact sets of openings) and on the lab (the probe's matrix).
//
// The reading: inter-node rows as written (A → B, and B → A where the row says bi-directional); the Service
// and Ports list's ports of each node type from every node of a type an inter-node table pairs with it, over
// TCP and UDP for ssh (22) and snmp (161, 162) since the reference's own SSH and SNMP rows say TCP/UDP, TCP
// otherwise; inbound from outside as the tables say (22 TCP/UDP from the admin networks, 443 from clients
// into the proxy node, or into the application nodes when there is no proxy); 161/udp from the monitoring
// networks (who polls a node is configuration); outbound to each configured external system from the nodes
// the table names, over both transports where the table says TCP/UDP and the entry chose none.

import { ClusterModel, NodePolicy, NodeSpec, Opening, Protocol } from "../../../model/types";
import { seenBy } from "./model-builders";

export type R = "webproxy" | "application" | "database" | "unified";

/** "Network Communications between Nodes within the Cluster": one entry per port of each row. */
export interface InterNodeRow {
    section: string;
    communication: string;
    from: R[];
    to: R[];
    port: number;
    bidirectional: boolean;
}
export const INTER_NODE: InterNodeRow[] = [
    {
        section: "Proxy to Proxy Node",
        communication: "Cluster Communications",
        from: ["webproxy"],
        to: ["webproxy"],
        port: 8443,
        bidirectional: true,
    },
    {
        section: "Proxy to Unified/Application Node",
        communication: "User access",
        from: ["webproxy"],
        to: ["application", "unified"],
        port: 443,
        bidirectional: false,
    },
    {
        section: "Proxy to Unified/Application Node",
        communication: "Cluster Communications",
        from: ["webproxy"],
        to: ["application", "unified"],
        port: 8443,
        bidirectional: true,
    },
    {
        section: "Unified Node to Unified node",
        communication: "Database access",
        from: ["unified"],
        to: ["unified"],
        port: 27017,
        bidirectional: true,
    },
    {
        section: "Unified Node to Unified node",
        communication: "Database access",
        from: ["unified"],
        to: ["unified"],
        port: 27030,
        bidirectional: true,
    },
    {
        section: "Unified Node to Unified node",
        communication: "Cluster Communications",
        from: ["unified"],
        to: ["unified"],
        port: 8443,
        bidirectional: false,
    },
    {
        section: "Application node to Application node",
        communication: "Cluster communications",
        from: ["application"],
        to: ["application"],
        port: 8443,
        bidirectional: true,
    },
    {
        section: "Application Node to Database node",
        communication: "Database access",
        from: ["application"],
        to: ["database"],
        port: 27017,
        bidirectional: true,
    },
    {
        section: "Application Node to Database node",
        communication: "Database access",
        from: ["application"],
        to: ["database"],
        port: 27030,
        bidirectional: true,
    },
    {
        section: "Application Node to Database node",
        communication: "Cluster Communications",
        from: ["application"],
        to: ["database"],
        port: 8443,
        bidirectional: false,
    },
    {
        section: "Database Node to Database node",
        communication: "Database access",
        from: ["database"],
        to: ["database"],
        port: 27017,
        bidirectional: true,
    },
    {
        section: "Database Node to Database node",
        communication: "Database access",
        from: ["database"],
        to: ["database"],
        port: 27030,
        bidirectional: true,
    },
    {
        section: "Database Node to Database node",
        communication: "Cluster Communications",
        from: ["database"],
        to: ["database"],
        port: 8443,
        bidirectional: false,
    },
];

/** "Service and Ports list". A unified node is an application and a database node; standalone is every type. */
export const SERVICE_LIST: { nodeType: string; roles: string[]; ports: number[] }[] = [
    { nodeType: "WebProxy", roles: ["webproxy", "standalone"], ports: [22, 80, 161, 162, 443, 8443] },
    {
        nodeType: "Application",
        roles: ["application", "unified", "standalone"],
        ports: [22, 80, 161, 162, 443, 8443, 27017, 27030],
    },
    { nodeType: "Database", roles: ["database", "unified", "standalone"], ports: [22, 161, 162, 27019, 27020] },
];

/** Which node types the inter-node tables pair (either way), read off the section titles above. */
export const PAIRS: [R, R][] = [
    ["webproxy", "webproxy"],
    ["webproxy", "application"],
    ["webproxy", "unified"],
    ["unified", "unified"],
    ["application", "application"],
    ["application", "database"],
    ["database", "database"],
];

const paired = (a: string, b: string) => PAIRS.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
const transportsOf = (port: number): Protocol[] => ([22, 161, 162].includes(port) ? ["tcp", "udp"] : ["tcp"]);
const isProxyLike = (n: NodeSpec) => n.role === "webproxy" || n.role === "standalone";
const runsApp = (n: NodeSpec) => ["application", "unified", "standalone"].includes(n.role);

/** Nodes that send to (or, for 443, receive from clients as) "the proxy node": proxies, else application nodes. */
export function proxyDuty(model: ClusterModel): NodeSpec[] {
    const proxies = model.nodes.filter(isProxyLike);
    return proxies.length > 0 ? proxies : model.nodes.filter(runsApp);
}

const EXTERNAL_SENDERS: Record<string, "application" | "proxy" | "all"> = {
    ucm: "application",
    unityConnection: "application",
    hcmf: "application",
    webex: "application",
    sso: "application",
    ldap: "application",
    download: "application",
    apiResponses: "proxy",
    notification: "proxy",
    snmpTrap: "all",
    backup: "all",
    ntp: "all",
};

/** Per node, the inbound and outbound openings of the literal reading (reason: "literal: <section> / <communication>"). */
export function literalPolicies(model: ClusterModel): NodePolicy[] {
    if ((model.firewall.extraInbound ?? []).length > 0 || model.firewall.httpRedirect) {
        throw new Error(
            "literalPolicies: extraInbound and httpRedirect are stack additions, not part of the reference",
        );
    }
    const by = new Map<string, NodePolicy>(model.nodes.map((n) => [n.name, { node: n, inbound: [], outbound: [] }]));
    const seen = new Set<string>();
    const push = (node: NodeSpec, o: Opening) => {
        const k = `${node.name}|${o.direction}|${o.protocol}|${o.port}|${o.peer.kind}|${o.peer.name}`;
        if (seen.has(k)) return;
        seen.add(k);
        (o.direction === "inbound" ? by.get(node.name)!.inbound : by.get(node.name)!.outbound).push(o);
    };
    const open = (
        kind: Opening["peer"]["kind"],
        name: string,
        addresses: string[],
        direction: Opening["direction"],
        protocol: Protocol,
        port: number,
        why: string,
    ): Opening => ({
        direction,
        protocol,
        port,
        peer: { kind, name, addresses },
        service: "literal",
        reason: `${port}/${protocol} literal: ${why}`,
        section: why.split(" / ")[0],
        exposed: false,
    });
    // a dual-stack peer is met at each of its addresses (its IPv6 address is the same from every site)
    const at = (viewer: NodeSpec, peer: NodeSpec) => [seenBy(viewer, peer), ...(peer.address6 ? [peer.address6] : [])];
    const between = (a: NodeSpec, b: NodeSpec, protocol: Protocol, port: number, why: string) => {
        push(b, open("node", a.name, at(b, a), "inbound", protocol, port, why));
        push(a, open("node", b.name, at(a, b), "outbound", protocol, port, why));
    };
    for (const row of INTER_NODE) {
        for (const a of model.nodes.filter((n) => (row.from as string[]).includes(n.role))) {
            for (const b of model.nodes.filter((n) => (row.to as string[]).includes(n.role))) {
                if (a === b) continue;
                between(a, b, "tcp", row.port, `${row.section} / ${row.communication}`);
                if (row.bidirectional) between(b, a, "tcp", row.port, `${row.section} / ${row.communication}`);
            }
        }
    }
    for (const n of model.nodes) {
        for (const row of SERVICE_LIST.filter((r) => r.roles.includes(n.role))) {
            for (const peer of model.nodes.filter((m) => m !== n && paired(m.role, n.role))) {
                for (const port of row.ports)
                    for (const p of transportsOf(port))
                        between(peer, n, p, port, `Service and Ports list / ${row.nodeType}`);
            }
        }
        for (const p of ["tcp", "udp"] as const)
            push(
                n,
                open(
                    "network",
                    "admin",
                    [...model.networks.admin],
                    "inbound",
                    p,
                    22,
                    "Inbound communications to all nodes / SSH and SFTP",
                ),
            );
        if (n.ssh.port !== 22 && n.ssh.host === n.address)
            push(
                n,
                open(
                    "network",
                    "admin",
                    [...model.networks.admin],
                    "inbound",
                    "tcp",
                    n.ssh.port,
                    "pinhole's own SSH port",
                ),
            );
        push(
            n,
            open(
                "network",
                "monitoring",
                [...model.networks.monitoring],
                "inbound",
                "udp",
                161,
                "Service and Ports list / snmp polling",
            ),
        );
    }
    for (const n of proxyDuty(model)) {
        const o = open(
            "network",
            "client",
            [...model.networks.client],
            "inbound",
            "tcp",
            443,
            "Inbound communications from external systems to the proxy node / Web Access, API Request",
        );
        push(n, { ...o, exposed: true });
    }
    for (const e of model.external) {
        const who = EXTERNAL_SENDERS[e.kind];
        const senders = who === "all" ? model.nodes : who === "proxy" ? proxyDuty(model) : model.nodes.filter(runsApp);
        const protocols: Protocol[] =
            (e.kind === "ldap" || e.kind === "snmpTrap") && e.protocolsDefaulted ? ["tcp", "udp"] : [e.protocol];
        for (const n of senders)
            for (const p of protocols)
                push(n, open("external", e.name, [...e.addresses], "outbound", p, e.port, `external / ${e.kind}`));
    }
    return [...by.values()];
}

/** An opening as a comparable key: direction, transport, port, peer kind and addresses. */
export function openingKey(o: Opening): string {
    return `${o.direction} ${o.port}/${o.protocol} ${o.peer.kind}:${[...o.peer.addresses].sort().join(",")}`;
}
