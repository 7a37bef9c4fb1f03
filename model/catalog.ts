// The reference's port tables as data: one entry per row of every table in
// /work/shared/reference/network-security.txt, with the exact section title it comes from.
// The policy (model/policy.ts) reads communication labels and sections from here; where the reference
// disagrees with itself the row says so in `pinhole` and points to a decision in docs/decisions.md.
// Mostly a data table (CATALOG, one entry per row): it may pass the 400-line rule as the data grows
// (test/unit/project/house-rules.test.ts lists it by name); logic that reads the rows belongs elsewhere.

import { Protocol, Role } from "./types";

/** Section titles exactly as the reference writes them (trailing ":" of the external headings dropped). */
export const SECTIONS = {
    proxyProxy: "Proxy to Proxy Node",
    proxyApp: "Proxy to Unified/Application Node",
    unifiedUnified: "Unified Node to Unified node",
    appApp: "Application node to Application node",
    appDb: "Application Node to Database node",
    dbDb: "Database Node to Database node",
    outFromApp: "Outbound Communications to Devices from the Application/Unified nodes",
    outFromProxy: "Outbound to external systems from the proxy node",
    outFromAll: "Outbound to external systems from all nodes",
    inToProxy: "Inbound communications from external systems to the proxy node",
    inToAll: "Inbound communications to all nodes",
    serviceList: "Service and Ports list",
    uriSpec: "Network URI specification",
} as const;

export type SectionTitle = (typeof SECTIONS)[keyof typeof SECTIONS];

/** Which kind of table a row is in. */
export type TableKind =
    | "inter-node" // between cluster nodes; from = initiator roles, to = acceptor roles
    | "external-outbound" // from cluster nodes to systems outside the cluster
    | "external-inbound" // from outside into cluster nodes
    | "service-list"; // per node type listening ports, transport not stated

/** Who a row talks about: roles, "all" nodes, or "external" (anything outside the cluster). */
export type Party = Role | "all" | "external";

export interface CatalogRow {
    /** Stable id, used as Opening.rowId: "<table>.<communication>". */
    id: string;
    section: SectionTitle;
    table: TableKind;
    /** "Communication" column (or node type for the Service list), as written. */
    communication: string;
    /** "Protocol" column as written ("HTTPS", "database", "LDAP", ...); "" where the table has none. */
    protocol: string;
    /** Transports as written: "TCP/UDP 22" → ["tcp", "udp"]. Empty when the table does not say (Service list). */
    transports: Protocol[];
    /** Ports as written, or "dependant" (no default: the port comes from configuration). */
    ports: number[] | "dependant";
    /** Initiators (inter-node, external-outbound) or sources (external-inbound). */
    from: Party[];
    /** Acceptors (inter-node), destinations (external-outbound) or receiving nodes (external-inbound, service-list). */
    to: Party[];
    /** The row says "bi-directional": both ends accept. */
    bidirectional: boolean;
    /** The port column exactly as written, for reviewers. */
    asWritten: string;
    /** What pinhole does with this row (one line); decisions.md has the long form. */
    pinhole: string;
    /** Heading in docs/decisions.md when this row needed a decision. */
    decision?: string;
}

const APP_ROLES: Role[] = ["application", "unified"];

export const CATALOG: readonly CatalogRow[] = [
    // --- Network Communications between Nodes within the Cluster ---
    {
        id: "proxy-proxy.cluster",
        section: SECTIONS.proxyProxy,
        table: "inter-node",
        communication: "Cluster Communications",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: ["webproxy"],
        to: ["webproxy"],
        bidirectional: true,
        asWritten: "TCP 8443 bi-directional",
        pinhole: "8443/tcp between every pair of web proxies, both ways",
    },
    {
        id: "proxy-app.user",
        section: SECTIONS.proxyApp,
        table: "inter-node",
        communication: "User access",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [443],
        from: ["webproxy"],
        to: APP_ROLES,
        bidirectional: false,
        asWritten: "TCP 443",
        pinhole: "443/tcp into each application/unified node from each web proxy (proxy → upstream only)",
        decision: "Direction of one-directional rows",
    },
    {
        id: "proxy-app.cluster",
        section: SECTIONS.proxyApp,
        table: "inter-node",
        communication: "Cluster Communications",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: ["webproxy"],
        to: APP_ROLES,
        bidirectional: true,
        asWritten: "TCP 8443 bi-directional",
        pinhole: "8443/tcp between each web proxy and each application/unified node, both ways",
    },
    {
        id: "unified-unified.database",
        section: SECTIONS.unifiedUnified,
        table: "inter-node",
        communication: "Database access",
        protocol: "database",
        transports: ["tcp"],
        ports: [27017, 27030],
        from: ["unified"],
        to: ["unified"],
        bidirectional: true,
        asWritten: "TCP 27017 and 27030 bi-directional",
        pinhole:
            "27017 and 27030/tcp between unified nodes both ways (strict: 27030 only into nodes running an arbiter)",
        decision: "Arbiter port 27030",
    },
    {
        id: "unified-unified.cluster",
        section: SECTIONS.unifiedUnified,
        table: "inter-node",
        communication: "Cluster Communications",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: ["unified"],
        to: ["unified"],
        bidirectional: false,
        asWritten: "TCP 8443",
        pinhole: "8443/tcp between unified nodes; same role at both ends, so every node accepts it from every peer",
        decision: 'Same-role rows without "bi-directional"',
    },
    {
        id: "app-app.cluster",
        section: SECTIONS.appApp,
        table: "inter-node",
        communication: "Cluster communications",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: ["application"],
        to: ["application"],
        bidirectional: true,
        asWritten: "TCP 8443 bi-directional",
        pinhole: "8443/tcp between application nodes, both ways",
    },
    {
        id: "app-db.database",
        section: SECTIONS.appDb,
        table: "inter-node",
        communication: "Database access",
        protocol: "database",
        transports: ["tcp"],
        ports: [27017, 27030],
        from: ["application"],
        to: ["database"],
        bidirectional: true,
        asWritten: "TCP 27017 and 27030 bi-directional",
        pinhole:
            "27017 and 27030/tcp both ways between application and database nodes (strict: 27030 only into arbiter nodes)",
        decision: "Database ports: 27017/27030 or 27019/27020",
    },
    {
        id: "app-db.cluster",
        section: SECTIONS.appDb,
        table: "inter-node",
        communication: "Cluster Communications",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: ["application"],
        to: ["database"],
        bidirectional: false,
        asWritten: "TCP 8443",
        pinhole: "8443/tcp into each database node from each application node (not the other way)",
        decision: "Direction of one-directional rows",
    },
    {
        id: "db-db.database",
        section: SECTIONS.dbDb,
        table: "inter-node",
        communication: "Database access",
        protocol: "database",
        transports: ["tcp"],
        ports: [27017, 27030],
        from: ["database"],
        to: ["database"],
        bidirectional: true,
        asWritten: "TCP 27017 and 27030 bi-directional",
        pinhole: "27017 and 27030/tcp between database nodes both ways (strict: 27030 only into arbiter nodes)",
        decision: "Database ports: 27017/27030 or 27019/27020",
    },
    {
        id: "db-db.cluster",
        section: SECTIONS.dbDb,
        table: "inter-node",
        communication: "Cluster Communications",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: ["database"],
        to: ["database"],
        bidirectional: false,
        asWritten: "TCP 8443 (second table)",
        pinhole:
            "8443/tcp between database nodes (same role: symmetric), although the Service list omits 8443 for Database",
        decision: "8443 on database nodes",
    },

    // --- Outbound Communications to Devices from the Application/Unified nodes ---
    {
        id: "out-app.ucm",
        section: SECTIONS.outFromApp,
        table: "external-outbound",
        communication: "Cisco Unified Communications Manager (UCM)",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: APP_ROLES,
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP 8443",
        pinhole: "8443/tcp to each pinhole:external.ucm address",
    },
    {
        id: "out-app.unity-connection",
        section: SECTIONS.outFromApp,
        table: "external-outbound",
        communication: "Cisco Unity Connection (CUXN)",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: APP_ROLES,
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP 8443",
        pinhole: "8443/tcp to each pinhole:external.unityConnection address",
    },
    {
        id: "out-app.webex",
        section: SECTIONS.outFromApp,
        table: "external-outbound",
        communication: "Webex",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [443],
        from: APP_ROLES,
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP 443",
        pinhole: "443/tcp to each pinhole:external.webex address",
    },
    {
        id: "out-app.ldap",
        section: SECTIONS.outFromApp,
        table: "external-outbound",
        communication: "LDAP directory",
        protocol: "LDAP",
        transports: ["tcp", "udp"],
        ports: [389, 636],
        from: APP_ROLES,
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP/UDP 389 and/or 636(TLS/SSL)",
        pinhole:
            "389 and 636 over tcp and udp per directory (strict: tcp; UDP and a narrower port set per directory on request)",
        decision: "LDAP: TCP/UDP 389 and/or 636",
    },
    {
        id: "out-app.sso",
        section: SECTIONS.outFromApp,
        table: "external-outbound",
        communication: "Single Sign-on (SSO)",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [443],
        from: APP_ROLES,
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP 443",
        pinhole: "443/tcp to each pinhole:external.sso address",
    },
    {
        id: "out-app.hcmf",
        section: SECTIONS.outFromApp,
        table: "external-outbound",
        communication: "Cisco HCM-F",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [8443],
        from: APP_ROLES,
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP 8443",
        pinhole: "8443/tcp to each pinhole:external.hcmf address",
    },

    // --- Outbound to external systems from the proxy node ---
    {
        id: "out-proxy.api-responses",
        section: SECTIONS.outFromProxy,
        table: "external-outbound",
        communication: "API Sync and Async responses",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [443],
        from: ["webproxy"],
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP 443",
        pinhole: "443/tcp to each pinhole:external.apiResponses address, from the nodes that serve users",
        decision: "Proxy duties in clusters without web proxies",
    },
    {
        id: "out-proxy.notifications",
        section: SECTIONS.outFromProxy,
        table: "external-outbound",
        communication: "Northbound Notification messages",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: "dependant",
        from: ["webproxy"],
        to: ["external"],
        bidirectional: false,
        asWritten: "dependant",
        pinhole:
            "tcp to the host and port of each pinhole:external.notificationDestinations URI; the URI must spell the port",
        decision: '"Dependant" ports',
    },

    // --- Outbound to external systems from all nodes ---
    {
        id: "out-all.snmp",
        section: SECTIONS.outFromAll,
        table: "external-outbound",
        communication: "SNMP",
        protocol: "SNMP",
        transports: ["tcp", "udp"],
        ports: [162],
        from: ["all"],
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP/UDP 162",
        pinhole: "162 tcp and udp to each trap receiver (strict: udp; tcp too when the receiver entry asks for it)",
        decision: "SNMP: 161 and 162",
    },
    {
        id: "out-all.sftp",
        section: SECTIONS.outFromAll,
        table: "external-outbound",
        communication: "SFTP as required for backup destinations",
        protocol: "SFTP",
        transports: ["tcp"],
        ports: [22],
        from: ["all"],
        to: ["external"],
        bidirectional: false,
        asWritten: "TCP 22",
        pinhole: "tcp to each backup destination URI's port (22 by default for sftp/scp)",
    },
    {
        id: "out-all.ntp",
        section: SECTIONS.outFromAll,
        table: "external-outbound",
        communication: "NTP",
        protocol: "NTP",
        transports: ["udp"],
        ports: [123],
        from: ["all"],
        to: ["external"],
        bidirectional: false,
        asWritten: "UDP 123",
        pinhole: "123/udp to each pinhole:external.ntp address",
    },

    // --- Inbound communications from external systems to the proxy node ---
    {
        id: "in-proxy.web",
        section: SECTIONS.inToProxy,
        table: "external-inbound",
        communication: "Web Access",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [443],
        from: ["external"],
        to: ["webproxy"],
        bidirectional: false,
        asWritten: "TCP 443",
        pinhole:
            "443/tcp from pinhole:networks.client into the web proxies (into application/unified nodes without proxies), rate-limited",
        decision: "Proxy duties in clusters without web proxies",
    },
    {
        id: "in-proxy.api",
        section: SECTIONS.inToProxy,
        table: "external-inbound",
        communication: "API Request",
        protocol: "HTTPS",
        transports: ["tcp"],
        ports: [443],
        from: ["external"],
        to: ["webproxy"],
        bidirectional: false,
        asWritten: "TCP 443",
        pinhole: "same opening as Web Access (443/tcp from client networks)",
    },

    // --- Inbound communications to all nodes ---
    {
        id: "in-all.ssh",
        section: SECTIONS.inToAll,
        table: "external-inbound",
        communication: "SSH and SFTP for management and files transfers",
        protocol: "SFTP/SSH",
        transports: ["tcp", "udp"],
        ports: [22],
        from: ["external"],
        to: ["all"],
        bidirectional: false,
        asWritten: "TCP/UDP 22",
        pinhole: "22 tcp and udp from pinhole:networks.admin (strict: 22/tcp only)",
        decision: "SSH: TCP/UDP 22",
    },

    // --- Service and Ports list (transport not stated) ---
    {
        id: "svc.webproxy",
        section: SECTIONS.serviceList,
        table: "service-list",
        communication: "WebProxy",
        protocol: "",
        transports: [],
        ports: [22, 80, 161, 162, 443, 8443],
        from: ["external"],
        to: ["webproxy"],
        bidirectional: false,
        asWritten: "22 (ssh & sftp), 80 (http), 161 & 162 (snmp), 443 & 8443 (https)",
        pinhole:
            "every port from proxies and application/unified nodes (tcp+udp for 22/161/162); strict: 22/tcp admin, 161/udp monitoring, 443/tcp clients, 8443/tcp cluster peers",
        decision: "Port 80 in the Service list",
    },
    {
        id: "svc.application",
        section: SECTIONS.serviceList,
        table: "service-list",
        communication: "Application",
        protocol: "",
        transports: [],
        ports: [22, 80, 161, 162, 443, 8443, 27017, 27030],
        from: ["external"],
        to: ["application"],
        bidirectional: false,
        asWritten: "22 (ssh & sftp), 80 (http), 161 & 162 (snmp), 443 & 8443 (https), 27017 & 27030 (database)",
        pinhole:
            "every port from proxies, application and database nodes; strict: as WebProxy, 443/tcp from proxies, 27017/tcp from database nodes, 27030 into arbiter nodes",
        decision: "Database ports: 27017/27030 or 27019/27020",
    },
    {
        id: "svc.database",
        section: SECTIONS.serviceList,
        table: "service-list",
        communication: "Database",
        protocol: "",
        transports: [],
        ports: [22, 161, 162, 27019, 27020],
        from: ["external"],
        to: ["database"],
        bidirectional: false,
        asWritten: "22 (ssh & sftp), 161 & 162(snmp), 27019 & 27020 (database)",
        pinhole:
            "every port (27019/27020 included) from application and database nodes; strict: 22/tcp admin, 161/udp monitoring, no 27019/27020",
        decision: "Database ports: 27017/27030 or 27019/27020",
    },
];

export const CATALOG_BY_ID: Readonly<Record<string, CatalogRow>> = Object.fromEntries(CATALOG.map((r) => [r.id, r]));

/** The catalog row with this id; throws on a typo in code (ids are constants). */
export function row(id: string): CatalogRow {
    const r = CATALOG_BY_ID[id];
    if (!r) throw new Error(`catalog has no row "${id}"`);
    return r;
}

/** Inter-node rows, the only ones that pair node roles. */
export const INTER_NODE_ROWS: readonly CatalogRow[] = CATALOG.filter((r) => r.table === "inter-node");

// Port numbers the decisions refer to, named once.
export const PORTS = {
    ssh: 22,
    http: 80,
    ntp: 123,
    snmpPoll: 161,
    snmpTrap: 162,
    https: 443,
    cluster: 8443,
    database: 27017,
    arbiter: 27030,
    serviceListDatabase: [27019, 27020] as readonly number[],
    ldap: 389,
    ldaps: 636,
} as const;

/** Every port the reference associates with the database: client networks never reach these. */
export const DATABASE_PORTS: readonly number[] = [27017, 27019, 27020, 27030];
