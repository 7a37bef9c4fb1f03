// The reference's "Service and Ports list" between cluster nodes: each node type's ports, "in use and need to
// be opened on the firewall for communication between cluster nodes", opened at a node from every node whose
// role an inter-node table pairs with its role. Each flow names the narrowings of the strict profile that
// close it (model/narrowings.ts). See docs/decisions.md "Service and Ports list between cluster nodes".

import { ClusterModel, NodeSpec, Protocol, Role } from "./types";
import { INTER_NODE_ROWS, PORTS, SECTIONS, row } from "./catalog";
import { SERVICE_LIST_ROWS } from "./roles";
import { FlowCollector, nodeEnd } from "./flows";
import type { NarrowingId } from "./narrowings";

/** Roles an inter-node table pairs with each role (either direction). Standalone has no peers. */
export const PAIRED_ROLES: Readonly<Record<Role, readonly Role[]>> = (() => {
    const out: Record<Role, Set<Role>> = {
        webproxy: new Set(),
        application: new Set(),
        database: new Set(),
        unified: new Set(),
        standalone: new Set(),
    };
    for (const r of INTER_NODE_ROWS) {
        for (const a of r.from as Role[])
            for (const b of r.to as Role[]) {
                out[a].add(b);
                out[b].add(a);
            }
    }
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()])) as unknown as Record<
        Role,
        Role[]
    >;
})();

/**
 * Transports of a Service list port (the list states none): the reference's own rows for the same service say
 * TCP/UDP for SSH ("Inbound communications to all nodes": TCP/UDP 22) and SNMP ("Outbound ... from all nodes":
 * TCP/UDP 162; 161 is the same service); every other port is https or database, TCP in every table.
 */
export function serviceListTransports(port: number): Protocol[] {
    return port === PORTS.ssh || port === PORTS.snmpPoll || port === PORTS.snmpTrap ? ["tcp", "udp"] : ["tcp"];
}

const SERVICE_LABEL: Record<number, string> = {
    22: "ssh",
    80: "http",
    161: "snmp",
    162: "snmp-trap",
    443: "https",
    8443: "https-cluster",
    27017: "database",
    27019: "database",
    27020: "database",
    27030: "arbiter",
};

/** The narrowings that close a Service list flow into `acceptor` on port/protocol. */
export function serviceListNarrowings(port: number, protocol: Protocol, acceptor: NodeSpec): NarrowingId[] {
    switch (port) {
        case PORTS.ssh:
            return protocol === "udp" ? ["noSshBetweenNodes", "sshTcpOnly"] : ["noSshBetweenNodes"];
        case PORTS.http:
            return ["noHttpBetweenNodes"];
        case PORTS.snmpPoll:
        case PORTS.snmpTrap:
            return ["noSnmpBetweenNodes"];
        case 27019:
        case 27020:
            return ["databasePortsFromTables"];
        case PORTS.arbiter:
            return acceptor.arbiter ? ["serviceListAsTables"] : ["arbiterOnArbiterNodes", "serviceListAsTables"];
        default:
            return ["serviceListAsTables"];
    }
}

/**
 * Service list flows into every node from its paired peers. Added after the inter-node tables, quietly: a
 * flow a table already opens keeps the table's reason.
 */
export function serviceListFlows(model: ClusterModel, out: FlowCollector): void {
    for (const acceptor of model.nodes) {
        const peers = model.nodes.filter((m) => m !== acceptor && PAIRED_ROLES[acceptor.role].includes(m.role));
        if (peers.length === 0) continue;
        for (const id of SERVICE_LIST_ROWS[acceptor.role]) {
            const r = row(id);
            if (r.ports === "dependant") continue;
            for (const port of r.ports) {
                for (const protocol of serviceListTransports(port)) {
                    for (const peer of peers) {
                        out.add(
                            {
                                from: nodeEnd(peer, acceptor),
                                to: nodeEnd(acceptor, peer),
                                protocol,
                                port,
                                service: SERVICE_LABEL[port] ?? "service",
                                why: `${peer.role} to ${acceptor.role}, ${SERVICE_LABEL[port] ?? port} (Service and Ports list, ${r.communication} row)`,
                                section: SECTIONS.serviceList,
                                rowId: r.id,
                                exposed: false,
                                narrowedBy: serviceListNarrowings(port, protocol, acceptor),
                            },
                            { quiet: true },
                        );
                    }
                }
            }
        }
    }
}
