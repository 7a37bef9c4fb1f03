// Firewall profiles: `reference` (the default: every port of every table, for the sources and directions the
// table names) and `strict` (pinhole's least-privilege narrowings of it). Each narrowing is named here once,
// with the reference row it narrows and why; docs/decisions.md has the long form. A stack picks a profile
// (`pinhole:firewall.profile`) and may switch single narrowings on or off (`pinhole:firewall.narrow`).
// Pure data and small functions: no I/O.

import { FirewallSettings } from "./types";

export type FirewallProfile = "reference" | "strict";
export const FIREWALL_PROFILES: readonly FirewallProfile[] = ["reference", "strict"];

export type NarrowingId =
    | "arbiterOnArbiterNodes"
    | "databasePortsFromTables"
    | "serviceListAsTables"
    | "noSshBetweenNodes"
    | "noHttpBetweenNodes"
    | "noSnmpBetweenNodes"
    | "sshTcpOnly"
    | "snmpTrapsUdpOnly"
    | "ldapTcpOnly";

export interface Narrowing {
    id: NarrowingId;
    /** Catalog row ids (model/catalog.ts) whose openings this narrowing removes some of. */
    rows: string[];
    /** What the reference opens that this narrowing closes (one line). */
    closes: string;
    /** Why pinhole's strict profile closes it (one line). */
    why: string;
    /** Heading in docs/decisions.md. */
    decision: string;
}

export const NARROWINGS: readonly Narrowing[] = [
    {
        id: "arbiterOnArbiterNodes",
        rows: ["unified-unified.database", "app-db.database", "db-db.database", "svc.application"],
        closes: "27030/tcp into nodes that do not run an arbiter (the tables open it at every database-access endpoint, both ways)",
        why: "nothing listens on 27030 where no arbiter runs; nodes with `arbiter: true` keep it",
        decision: "Arbiter port 27030",
    },
    {
        id: "databasePortsFromTables",
        rows: ["svc.database"],
        closes: "27019/tcp and 27020/tcp into database and unified nodes (Service and Ports list, Database row)",
        why: "only the Service list names them; every inter-node table says 27017 and 27030",
        decision: "Database ports: 27017/27030 or 27019/27020",
    },
    {
        id: "serviceListAsTables",
        rows: ["svc.webproxy", "svc.application"],
        closes: "443, 8443, 27017 and 27030 from paired nodes beyond the flows the inter-node tables name (e.g. 443 into web proxies from application nodes)",
        why: "the inter-node tables say who initiates each flow; the Service list only says what a node type listens on",
        decision: "Service and Ports list between cluster nodes",
    },
    {
        id: "noSshBetweenNodes",
        rows: ["svc.webproxy", "svc.application", "svc.database"],
        closes: "22 (ssh & sftp) between cluster nodes",
        why: "management reaches nodes from the admin networks; node-to-node SSH is a lateral-movement path",
        decision: "SSH: TCP/UDP 22",
    },
    {
        id: "noHttpBetweenNodes",
        rows: ["svc.webproxy", "svc.application"],
        closes: "80/tcp (http) into web proxies and application/unified nodes from the nodes paired with them",
        why: "cluster traffic uses https (443, 8443); no table names 80",
        decision: "Port 80 in the Service list",
    },
    {
        id: "noSnmpBetweenNodes",
        rows: ["svc.webproxy", "svc.application", "svc.database"],
        closes: "161 and 162 (snmp, tcp and udp) between cluster nodes",
        why: "nodes are polled by the monitoring networks and send traps to the configured receivers, not to each other",
        decision: "SNMP: 161 and 162",
    },
    {
        id: "sshTcpOnly",
        rows: ["in-all.ssh"],
        closes: "22/udp from the admin networks (Inbound communications to all nodes: TCP/UDP 22) and between nodes",
        why: "SSH and SFTP run over TCP only (RFC 4253); nothing serves 22/udp",
        decision: "SSH: TCP/UDP 22",
    },
    {
        id: "snmpTrapsUdpOnly",
        rows: ["out-all.snmp"],
        closes: "162/tcp to trap receivers whose entry names no protocols (SNMP: TCP/UDP 162)",
        why: "traps are UDP; SNMP over TCP (RFC 3430) is rare, so a receiver entry asks for it",
        decision: "SNMP: 161 and 162",
    },
    {
        id: "ldapTcpOnly",
        rows: ["out-app.ldap"],
        closes: "389/udp and 636/udp to directories whose entry names no protocols (LDAP: TCP/UDP 389 and/or 636)",
        why: "LDAP and LDAPS are TCP; UDP 389 is only CLDAP, so a directory entry asks for it",
        decision: "LDAP: TCP/UDP 389 and/or 636",
    },
];

export const NARROWING_IDS: readonly NarrowingId[] = NARROWINGS.map((n) => n.id);

export const NARROWING_BY_ID: Readonly<Record<NarrowingId, Narrowing>> = Object.fromEntries(
    NARROWINGS.map((n) => [n.id, n]),
) as Record<NarrowingId, Narrowing>;

/** The narrowings in force: every one under `strict`, none under `reference`, then the stack's per-narrowing switches. */
export function activeNarrowings(fw: Pick<FirewallSettings, "profile" | "narrow">): Set<NarrowingId> {
    const active = new Set<NarrowingId>(fw.profile === "strict" ? NARROWING_IDS : []);
    for (const [id, on] of Object.entries(fw.narrow ?? {}) as [NarrowingId, boolean | undefined][]) {
        if (on === true) active.add(id);
        else if (on === false) active.delete(id);
    }
    return active;
}

/** "strict", "reference", or "reference + 2 narrowings" — for summaries. */
export function describeProfile(fw: Pick<FirewallSettings, "profile" | "narrow">): string {
    const active = activeNarrowings(fw);
    const profile = fw.profile ?? "reference";
    const base = new Set<NarrowingId>(profile === "strict" ? NARROWING_IDS : []);
    const added = [...active].filter((id) => !base.has(id));
    const removed = [...base].filter((id) => !active.has(id));
    const parts = [...added.map((id) => `+${id}`), ...removed.map((id) => `-${id}`)];
    return parts.length ? `${profile} (${parts.join(", ")})` : profile;
}
