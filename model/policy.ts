// Policy: who may talk to whom, on what, and why — derived from a validated ClusterModel.
//
//   buildFlows(model)  → every allowed flow once (from, to, protocol, port, why, section)
//   buildPolicy(model) → per node: inbound allow list + outbound allow list (one Opening per flow end)
//   buildClusterPolicy(model) → both at once (flows, narrowed flows, per-node policies): what Cluster keeps
//
// A node-to-node flow gives an outbound Opening at the initiator AND an inbound Opening at the acceptor,
// so a firewall with default-deny egress lets it through. Decisions referred to here are written down in
// docs/decisions.md; the rows come from model/catalog.ts.

import {
    ClusterModel,
    ExternalEndpoint,
    ExternalKind,
    FirewallSettings,
    NodePolicy,
    NodeSpec,
    Opening,
    Peer,
    Role,
} from "./types";
import { INTER_NODE_ROWS, PORTS, SECTIONS, row } from "./catalog";
import { SERVICE_LIST_ROWS, isProxy, runsApplication } from "./roles";
import { Flow, FlowCollector, FlowEnd, NarrowedFlow, nodeEnd, selfEnd } from "./flows";
import { NarrowingId, activeNarrowings } from "./narrowings";
import { serviceListFlows } from "./service-list";
import { acmeFlows } from "./acme";

export type { Flow, FlowEnd, NarrowedFlow } from "./flows";
export { addressSeenBy, addressesSeenBy, nodeAddresses } from "./flows";

/** Section used for openings that come from pinhole:firewall.extraInbound rather than from the reference. */
export const STACK_OVERRIDE_SECTION = "Stack override: pinhole:firewall.extraInbound";

/** Settings with every optional field filled, for models built by hand (tests, lab) rather than by the parser. */
export function effectiveFirewall(fw: FirewallSettings): Required<FirewallSettings> {
    return {
        ...fw,
        profile: fw.profile ?? "reference",
        narrow: fw.narrow ?? {},
        httpRedirect: fw.httpRedirect ?? false,
        extraInbound: fw.extraInbound ?? [],
        otherFirewalls: fw.otherFirewalls ?? "refuse",
    };
}

const SERVICE_BY_PORT: Record<number, string> = {
    443: "https",
    8443: "https-cluster",
    27017: "database",
    27030: "arbiter",
};

/**
 * The inter-node tables as written: for each ordered pair of nodes a row pairs, initiator → acceptor, and the
 * reverse where the row says bi-directional. 27030 into a node without an arbiter is a reference opening the
 * strict profile narrows (arbiterOnArbiterNodes).
 */
function interNodeFlows(model: ClusterModel, out: FlowCollector): void {
    const byRole = (roles: readonly string[]) => model.nodes.filter((n) => roles.includes(n.role));
    for (const r of INTER_NODE_ROWS) {
        if (r.ports === "dependant") continue;
        const ports = r.ports;
        // Same roles at both ends (proxy↔proxy, unified↔unified, ...): every ordered pair is already a forward flow.
        const sameRoles = r.from.length === r.to.length && r.from.every((x) => r.to.includes(x));
        const add = (a: NodeSpec, b: NodeSpec, reverse: boolean) => {
            for (const port of ports) {
                const arbiter = port === PORTS.arbiter;
                const note = arbiter ? (b.arbiter ? " (arbiter)" : " (arbiter port; no arbiter on this node)") : "";
                out.add({
                    from: nodeEnd(a, b),
                    to: nodeEnd(b, a),
                    protocol: "tcp",
                    port,
                    service: SERVICE_BY_PORT[port] ?? "https",
                    why: `${a.role} to ${b.role}${reverse ? " (bi-directional)" : ""}, ${r.communication.toLowerCase()}${note}`,
                    section: r.section,
                    rowId: r.id,
                    exposed: false,
                    ...(arbiter && !b.arbiter ? { narrowedBy: ["arbiterOnArbiterNodes" as const] } : {}),
                });
            }
        };
        for (const a of byRole(r.from)) {
            for (const b of byRole(r.to)) {
                if (a === b) continue;
                add(a, b, false);
                if (r.bidirectional && !sameRoles) add(b, a, true);
            }
        }
    }
}

/** Nodes that do the reference's "proxy node" duties: web proxies, or application nodes when there are none. */
export function userFacingNodes(model: ClusterModel): NodeSpec[] {
    const proxies = model.nodes.filter((n) => isProxy(n.role));
    return proxies.length > 0 ? proxies : model.nodes.filter((n) => runsApplication(n.role));
}

function serviceListRowFor(role: Role): string {
    return SERVICE_LIST_ROWS[role][0];
}

function networkFlows(model: ClusterModel, out: FlowCollector): void {
    const fw = effectiveFirewall(model.firewall);
    const net = (name: "admin" | "client" | "monitoring"): FlowEnd => ({
        kind: "network",
        name,
        addresses: [...model.networks[name]],
    });
    const ssh = row("in-all.ssh");
    for (const node of model.nodes) {
        if (model.networks.admin.length > 0) {
            out.add({
                from: net("admin"),
                to: selfEnd(node),
                protocol: "tcp",
                port: PORTS.ssh,
                service: "ssh",
                why: ssh.communication,
                section: ssh.section,
                rowId: ssh.id,
                exposed: false,
            });
            out.add({
                from: net("admin"),
                to: selfEnd(node),
                protocol: "udp",
                port: PORTS.ssh,
                service: "ssh",
                why: `${ssh.communication} (the table says TCP/UDP 22)`,
                section: ssh.section,
                rowId: ssh.id,
                exposed: false,
                narrowedBy: ["sshTcpOnly"],
            });
            // pinhole's own SSH port, when it connects straight to the node on a non-standard port.
            if (node.ssh.port !== PORTS.ssh && node.ssh.host === node.address) {
                out.add({
                    from: net("admin"),
                    to: selfEnd(node),
                    protocol: "tcp",
                    port: node.ssh.port,
                    service: "ssh",
                    why: `SSH for pinhole on this node's own SSH port (its ssh.port)`,
                    section: ssh.section,
                    rowId: ssh.id,
                    exposed: false,
                });
            }
        }
        if (model.networks.monitoring.length > 0) {
            out.add({
                from: net("monitoring"),
                to: selfEnd(node),
                protocol: "udp",
                port: PORTS.snmpPoll,
                service: "snmp",
                why: "SNMP polling (161 snmp; traps on 162 are outbound only)",
                section: SECTIONS.serviceList,
                rowId: serviceListRowFor(node.role),
                exposed: false,
            });
        }
    }
    if (model.networks.client.length > 0) {
        const web = row("in-proxy.web");
        for (const node of userFacingNodes(model)) {
            const direct = isProxy(node.role) ? "" : " (no web proxy in this cluster: this node serves users directly)";
            out.add({
                from: net("client"),
                to: selfEnd(node),
                protocol: "tcp",
                port: PORTS.https,
                service: "https",
                why: `${web.communication} and ${row("in-proxy.api").communication}${direct}`,
                section: web.section,
                rowId: web.id,
                exposed: true,
            });
            if (fw.httpRedirect) {
                out.add({
                    from: net("client"),
                    to: selfEnd(node),
                    protocol: "tcp",
                    port: PORTS.http,
                    service: "http",
                    why: "http to https redirect (80 http; firewall.httpRedirect: true)",
                    section: SECTIONS.serviceList,
                    rowId: serviceListRowFor(node.role),
                    exposed: true,
                });
            }
        }
    }
    fw.extraInbound.forEach((extra, i) => {
        const targets = model.nodes.filter(
            (n) =>
                (extra.roles.length === 0 && extra.nodes.length === 0) ||
                extra.roles.includes(n.role) ||
                extra.nodes.includes(n.name),
        );
        const sources: FlowEnd[] = extra.from.map((f) =>
            f === "admin" || f === "client" || f === "monitoring"
                ? net(f)
                : { kind: "network", name: f, addresses: [f] },
        );
        for (const node of targets) {
            for (const source of sources) {
                if (source.addresses.length === 0) continue;
                out.add({
                    from: source,
                    to: selfEnd(node),
                    protocol: extra.protocol,
                    port: extra.port,
                    service: "extra",
                    why: `${extra.reason} (firewall.extraInbound[${i}])`,
                    section: STACK_OVERRIDE_SECTION,
                    exposed: extra.exposed,
                });
            }
        }
    });
}

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

function externalFlows(model: ClusterModel, out: FlowCollector): void {
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

/**
 * Every allowed flow of the cluster, once each (inter-node tables, the Service list between nodes, networks,
 * external systems), and the reference flows the stack's firewall profile narrowed away.
 */
export function buildFlowReport(model: ClusterModel): { flows: Flow[]; narrowed: NarrowedFlow[] } {
    const out = new FlowCollector(activeNarrowings(model.firewall));
    interNodeFlows(model, out);
    serviceListFlows(model, out);
    networkFlows(model, out);
    externalFlows(model, out);
    acmeFlows(model, out);
    return { flows: out.flows, narrowed: out.narrowed() };
}

/** Every allowed flow of the cluster, once each. */
export function buildFlows(model: ClusterModel): Flow[] {
    return buildFlowReport(model).flows;
}

function peerLabel(end: FlowEnd): string {
    if (end.kind === "network")
        return end.name === "admin" || end.name === "client" || end.name === "monitoring"
            ? `${end.name} networks`
            : end.name;
    return end.name;
}

function toPeer(end: FlowEnd): Peer {
    return { kind: end.kind, name: end.name, addresses: [...end.addresses] };
}

function opening(f: Flow, direction: "inbound" | "outbound"): Opening {
    const peerEnd = direction === "inbound" ? f.from : f.to;
    const o: Opening = {
        direction,
        protocol: f.protocol,
        port: f.port,
        peer: toPeer(peerEnd),
        service: f.service,
        reason: `${f.port}/${f.protocol} ${direction === "inbound" ? "from" : "to"} ${peerLabel(peerEnd)}: ${f.why}`,
        section: f.section,
        exposed: direction === "inbound" && f.exposed,
    };
    if (f.rowId !== undefined) o.rowId = f.rowId;
    return o;
}

/** Deterministic order: port, protocol, peer name, then service and reason. */
export function compareOpenings(a: Opening, b: Opening): number {
    return (
        a.port - b.port ||
        cmp(a.protocol, b.protocol) ||
        cmp(a.peer.name, b.peer.name) ||
        cmp(a.service, b.service) ||
        cmp(a.reason, b.reason)
    );
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Per-node policies from already computed flows (lets callers compute flows once). */
export function policyFromFlows(model: ClusterModel, flows: readonly Flow[]): NodePolicy[] {
    const byName = new Map<string, NodePolicy>(
        model.nodes.map((node) => [node.name, { node, inbound: [], outbound: [] }]),
    );
    for (const f of flows) {
        if (f.to.kind === "node") byName.get(f.to.name)?.inbound.push(opening(f, "inbound"));
        if (f.from.kind === "node") byName.get(f.from.name)?.outbound.push(opening(f, "outbound"));
    }
    const policies = [...byName.values()];
    for (const p of policies) {
        p.inbound.sort(compareOpenings);
        p.outbound.sort(compareOpenings);
    }
    return policies;
}

/** For each node, in model order: what it accepts (inbound) and what it may initiate (outbound), and why. */
export function buildPolicy(model: ClusterModel): NodePolicy[] {
    return policyFromFlows(model, buildFlows(model));
}

/**
 * Everything the policy decides for a cluster, computed once: the flows (who may talk to whom, on what, and why:
 * the matrix, the outputs, verify and the proof after apply read these, never the openings' reason text), the
 * reference flows the profile narrowed away, and each node's openings (one per flow end, for its firewall).
 */
export interface ClusterPolicy {
    flows: Flow[];
    narrowed: NarrowedFlow[];
    /** In model order. */
    nodes: NodePolicy[];
}

export function buildClusterPolicy(model: ClusterModel): ClusterPolicy {
    const { flows, narrowed } = buildFlowReport(model);
    return { flows, narrowed, nodes: policyFromFlows(model, flows) };
}
