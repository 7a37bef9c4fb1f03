// Flows from the nodes to external systems (UCM, LDAP, NTP, backups, ...): which nodes send to each kind of
// destination and which row of the reference says so. Pure.

import { ClusterModel, ExternalEndpoint, ExternalKind, NodeSpec } from "./types";
import { SECTIONS, row } from "./catalog";
import { runsApplication, userFacingNodes } from "./roles";
import { Flow, FlowCollector, FlowEnd, selfEnd } from "./flows";
import { NarrowingId } from "./narrowings";

interface ExternalKindInfo {
    rowId?: string;
    section: string;
    communication: string;
    service: string;
    /** Which nodes send to this kind of destination. */
    senders: "application" | "user-facing" | "all";
}

/** What each kind of external destination means, who talks to it, and where the reference says so. */
export const EXTERNAL_KINDS: Readonly<Record<ExternalKind, ExternalKindInfo>> = {
    ucm: {
        rowId: "out-app.ucm",
        section: SECTIONS.outFromApp,
        communication: row("out-app.ucm").communication,
        service: "ucm",
        senders: "application",
    },
    unityConnection: {
        rowId: "out-app.unity-connection",
        section: SECTIONS.outFromApp,
        communication: row("out-app.unity-connection").communication,
        service: "unity-connection",
        senders: "application",
    },
    hcmf: {
        rowId: "out-app.hcmf",
        section: SECTIONS.outFromApp,
        communication: row("out-app.hcmf").communication,
        service: "hcmf",
        senders: "application",
    },
    webex: {
        rowId: "out-app.webex",
        section: SECTIONS.outFromApp,
        communication: row("out-app.webex").communication,
        service: "webex",
        senders: "application",
    },
    sso: {
        rowId: "out-app.sso",
        section: SECTIONS.outFromApp,
        communication: row("out-app.sso").communication,
        service: "sso",
        senders: "application",
    },
    ldap: {
        rowId: "out-app.ldap",
        section: SECTIONS.outFromApp,
        communication: row("out-app.ldap").communication,
        service: "ldap",
        senders: "application",
    },
    apiResponses: {
        rowId: "out-proxy.api-responses",
        section: SECTIONS.outFromProxy,
        communication: row("out-proxy.api-responses").communication,
        service: "api-responses",
        senders: "user-facing",
    },
    notification: {
        rowId: "out-proxy.notifications",
        section: SECTIONS.outFromProxy,
        communication: row("out-proxy.notifications").communication,
        service: "notification",
        senders: "user-facing",
    },
    snmpTrap: {
        rowId: "out-all.snmp",
        section: SECTIONS.outFromAll,
        communication: "SNMP traps",
        service: "snmp-trap",
        senders: "all",
    },
    backup: {
        rowId: "out-all.sftp",
        section: SECTIONS.outFromAll,
        communication: row("out-all.sftp").communication,
        service: "backup",
        senders: "all",
    },
    ntp: {
        rowId: "out-all.ntp",
        section: SECTIONS.outFromAll,
        communication: row("out-all.ntp").communication,
        service: "ntp",
        senders: "all",
    },
    download: {
        section: SECTIONS.uriSpec,
        communication: "download location",
        service: "download",
        senders: "application",
    },
};

/** Nodes that send to an external destination of this kind. */
export function sendersOf(model: ClusterModel, kind: ExternalKind): NodeSpec[] {
    const who = EXTERNAL_KINDS[kind].senders;
    if (who === "all") return model.nodes;
    if (who === "user-facing") return userFacingNodes(model);
    return model.nodes.filter((n) => runsApplication(n.role));
}

/**
 * Rows that say "TCP/UDP" where pinhole's parser fills in one transport for an entry that names none: the
 * reference profile opens the other one too, the named narrowing closes it.
 */
const OTHER_TRANSPORT: Partial<Record<ExternalKind, { protocol: "tcp" | "udp"; narrowing: NarrowingId }>> = {
    ldap: { protocol: "udp", narrowing: "ldapTcpOnly" },
    snmpTrap: { protocol: "tcp", narrowing: "snmpTrapsUdpOnly" },
};

export function externalFlows(model: ClusterModel, out: FlowCollector): void {
    for (const e of model.external) {
        const info = EXTERNAL_KINDS[e.kind];
        const to = externalEnd(e);
        const other = e.protocolsDefaulted ? OTHER_TRANSPORT[e.kind] : undefined;
        for (const node of sendersOf(model, e.kind)) {
            const flow: Flow = {
                from: selfEnd(node),
                to,
                protocol: e.protocol,
                port: e.port,
                service: info.service,
                why: info.communication,
                section: info.section,
                rowId: info.rowId,
                exposed: false,
            };
            out.add(flow);
            if (other && other.protocol !== e.protocol) {
                out.add({
                    ...flow,
                    protocol: other.protocol,
                    why: `${info.communication} (the table says TCP/UDP)`,
                    narrowedBy: [other.narrowing],
                });
            }
        }
    }
}

function externalEnd(e: ExternalEndpoint): FlowEnd {
    return { kind: "external", name: e.name, addresses: [...e.addresses] };
}
