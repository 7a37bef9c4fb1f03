// Flows from networks into the nodes: admin SSH, monitoring's SNMP polls, clients' HTTPS (and the optional
// redirect), and the stack's own firewall.extraInbound. Pure.

import { ClusterModel, FirewallSettings, NodeSpec, Role } from "./types";
import { PORTS, SECTIONS, row } from "./catalog";
import { SERVICE_LIST_ROWS, isProxy, userFacingNodes } from "./roles";
import { Flow, FlowCollector, FlowEnd, selfEnd } from "./flows";

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

function serviceListRowFor(role: Role): string {
    return SERVICE_LIST_ROWS[role][0];
}

type NamedNetwork = "admin" | "client" | "monitoring";

const networkEnd = (model: ClusterModel, name: NamedNetwork): FlowEnd => ({
    kind: "network",
    name,
    addresses: [...model.networks[name]],
});

/** Flows from the networks into the nodes, and the stack's extra inbound openings. */
export function networkFlows(model: ClusterModel, out: FlowCollector): void {
    for (const node of model.nodes) {
        if (model.networks.admin.length > 0) adminFlows(model, node, out);
        if (model.networks.monitoring.length > 0) monitoringFlows(model, node, out);
    }
    if (model.networks.client.length > 0) {
        for (const node of userFacingNodes(model)) clientFlows(model, node, out);
    }
    extraInboundFlows(model, out);
}

/** SSH from the admin networks (TCP; the table's UDP 22 is narrowed), and pinhole's own SSH port when other. */
function adminFlows(model: ClusterModel, node: NodeSpec, out: FlowCollector): void {
    const ssh = row("in-all.ssh");
    const flow = (protocol: "tcp" | "udp", port: number, why: string): Flow => ({
        from: networkEnd(model, "admin"),
        to: selfEnd(node),
        protocol,
        port,
        service: "ssh",
        why,
        section: ssh.section,
        rowId: ssh.id,
        exposed: false,
    });
    out.add(flow("tcp", PORTS.ssh, ssh.communication));
    out.add({
        ...flow("udp", PORTS.ssh, `${ssh.communication} (the table says TCP/UDP 22)`),
        narrowedBy: ["sshTcpOnly"],
    });
    // pinhole's own SSH port, when it connects straight to the node on a non-standard port.
    if (node.ssh.port !== PORTS.ssh && node.ssh.host === node.address) {
        out.add(flow("tcp", node.ssh.port, `SSH for pinhole on this node's own SSH port (its ssh.port)`));
    }
}

function monitoringFlows(model: ClusterModel, node: NodeSpec, out: FlowCollector): void {
    out.add({
        from: networkEnd(model, "monitoring"),
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

/** HTTPS from the client networks to a user-facing node, and the optional http redirect. */
function clientFlows(model: ClusterModel, node: NodeSpec, out: FlowCollector): void {
    const web = row("in-proxy.web");
    const direct = isProxy(node.role) ? "" : " (no web proxy in this cluster: this node serves users directly)";
    out.add({
        from: networkEnd(model, "client"),
        to: selfEnd(node),
        protocol: "tcp",
        port: PORTS.https,
        service: "https",
        why: `${web.communication} and ${row("in-proxy.api").communication}${direct}`,
        section: web.section,
        rowId: web.id,
        exposed: true,
    });
    if (effectiveFirewall(model.firewall).httpRedirect) {
        out.add({
            from: networkEnd(model, "client"),
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

/** pinhole:firewall.extraInbound: each entry's sources to each node it names (by role or name; none: all). */
function extraInboundFlows(model: ClusterModel, out: FlowCollector): void {
    effectiveFirewall(model.firewall).extraInbound.forEach((extra, i) => {
        const targets = model.nodes.filter(
            (n) =>
                (extra.roles.length === 0 && extra.nodes.length === 0) ||
                extra.roles.includes(n.role) ||
                extra.nodes.includes(n.name),
        );
        const sources: FlowEnd[] = extra.from.map((f) =>
            f === "admin" || f === "client" || f === "monitoring"
                ? networkEnd(model, f)
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
