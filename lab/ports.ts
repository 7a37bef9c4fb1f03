// Ports the lab serves. Pure data: no I/O.
//
// Every node listens on every port of the reference's tables (network-security.txt) plus a few ports
// outside it, so that a probe that gets no answer means "filtered by the firewall", never "nothing
// listens". sshd holds 22/tcp and nginx holds 80/tcp and 443/tcp; labnet (lab/native/labnet.c) binds
// the rest in one small process per node.
import type { Protocol } from "../model/types";

export interface PortSpec {
    protocol: Protocol;
    port: number;
    /** Short label for tables and docs. */
    label: string;
    /** true: the reference names this port; false: a control port outside it (should end up filtered). */
    reference: boolean;
    /** The service that holds the port on a node; undefined: labnet binds it. */
    heldBy?: "sshd" | "nginx";
}

const tcp = (port: number, label: string, reference = true, heldBy?: "sshd" | "nginx"): PortSpec => ({
    protocol: "tcp",
    port,
    label,
    reference,
    ...(heldBy ? { heldBy } : {}),
});
const udp = (port: number, label: string, reference = true): PortSpec => ({ protocol: "udp", port, label, reference });

/** What every lab node listens on. */
export const NODE_PORTS: readonly PortSpec[] = [
    tcp(22, "ssh", true, "sshd"),
    udp(22, "ssh"),
    tcp(80, "http", true, "nginx"),
    udp(123, "ntp"),
    tcp(161, "snmp"),
    udp(161, "snmp"),
    tcp(162, "snmp-trap"),
    udp(162, "snmp-trap"),
    tcp(389, "ldap"),
    udp(389, "ldap"),
    tcp(443, "https", true, "nginx"),
    tcp(636, "ldaps"),
    udp(636, "ldaps"),
    tcp(8443, "https-cluster"),
    tcp(27017, "database"),
    tcp(27019, "database-svc"),
    tcp(27020, "database-svc"),
    tcp(27030, "arbiter"),
    // outside the reference: must never be opened by pinhole
    tcp(3306, "mysql", false),
    tcp(5432, "postgres", false),
    tcp(9000, "control", false),
    tcp(10050, "zabbix", false),
    tcp(27018, "mongo-shard", false),
    udp(514, "syslog", false),
    udp(1812, "radius", false),
];

/** The ports labnet binds on a node (the ones sshd/nginx don't hold). */
export function listenerPorts(ports: readonly PortSpec[] = NODE_PORTS): { tcp: number[]; udp: number[] } {
    const free = ports.filter((p) => !p.heldBy);
    return {
        tcp: free.filter((p) => p.protocol === "tcp").map((p) => p.port),
        udp: free.filter((p) => p.protocol === "udp").map((p) => p.port),
    };
}

/** A port an external-service vantage serves. */
export interface ServicePort {
    protocol: Protocol;
    port: number;
}

export type ExternalVantage =
    "ucm" | "unity" | "hcmf" | "webex" | "sso" | "ldap" | "ntp" | "backup" | "snmp" | "notify" | "api";

export interface ExternalServiceSpec {
    vantage: ExternalVantage;
    /** Last octet in the externals' block (10.77.50.0/24). */
    host: number;
    description: string;
    ports: ServicePort[];
}

/** A port every external also serves, outside what the reference lets nodes reach: egress deny must filter it. */
export const EXTERNAL_CONTROL_PORT: ServicePort = { protocol: "tcp", port: 8080 };

const t = (port: number): ServicePort => ({ protocol: "tcp", port });
const u = (port: number): ServicePort => ({ protocol: "udp", port });

/** The external systems the cluster talks to (reference: "Network Communications External to the Cluster"). */
export const EXTERNAL_SERVICES: readonly ExternalServiceSpec[] = [
    { vantage: "ucm", host: 11, description: "Cisco UCM (call control)", ports: [t(8443)] },
    { vantage: "unity", host: 12, description: "Cisco Unity Connection", ports: [t(8443)] },
    { vantage: "hcmf", host: 13, description: "Cisco HCM-F", ports: [t(8443)] },
    { vantage: "webex", host: 14, description: "Webex", ports: [t(443)] },
    { vantage: "sso", host: 15, description: "Single sign-on IdP", ports: [t(443)] },
    { vantage: "ldap", host: 16, description: "LDAP directory", ports: [t(389), u(389), t(636), u(636)] },
    { vantage: "ntp", host: 17, description: "NTP server", ports: [u(123)] },
    { vantage: "backup", host: 18, description: "SFTP backup destination", ports: [t(22)] },
    { vantage: "snmp", host: 19, description: "SNMP trap receiver", ports: [u(162), t(162)] },
    { vantage: "notify", host: 20, description: "Northbound notification endpoint", ports: [t(9443)] },
    { vantage: "api", host: 21, description: "API sync/async response receiver", ports: [t(443)] },
];

export function portKey(p: { protocol: Protocol; port: number }): string {
    return `${p.port}/${p.protocol}`;
}
