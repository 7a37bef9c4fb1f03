// The lab plan's hosts beside the nodes: the vantages (client, admin and one host per external service) and the
// multisite router with its 1:1 NAT table. Pure, no I/O: buildPlan (lab/shapes.ts) calls these steps with its
// PlanNaming, which carries the lab-wide names and the veth counter (lab/shapes.ts owns those and imports this file).
import { EXTERNAL_CONTROL_PORT, EXTERNAL_SERVICES } from "./ports";
import type { LabNode, LabRouter, LabVantage } from "./shapes";

/** What buildPlan shares with its steps: how hosts are named and which address families the lab has. */
export interface PlanNaming {
    /** A host's network namespace (NETNS_PREFIX + name). */
    netns: (host: string) => string;
    /** The next root-side veth name: one counter over the nodes, then the vantages, then the router. */
    nextVeth: () => string;
    /** The IPv6 mirror of a lab IPv4 address (ipv6Of); undefined in an IPv4-only lab. */
    mirror6: ((ipv4: string) => string) | undefined;
}

/** IPv6 fields of an address, in a dual-stack lab only. */
export function six<K extends string>(naming: PlanNaming, key: K, ipv4: string): Partial<Record<K, string>> {
    return (naming.mirror6 ? { [key]: naming.mirror6(ipv4) } : {}) as Partial<Record<K, string>>;
}

/** The vantages, in plan order (their veths follow the nodes'): client, admin, then each external service. */
export function labVantages(naming: PlanNaming): LabVantage[] {
    return [
        {
            name: "client",
            vantage: "client",
            description: "outside user (client network, not admin)",
            address: "10.77.200.10",
            ...six(naming, "address6", "10.77.200.10"),
            netns: naming.netns("client"),
            veth: naming.nextVeth(),
            ports: [],
        },
        {
            name: "admin",
            vantage: "admin",
            description: "operator in the admin network",
            address: "10.77.100.10",
            ...six(naming, "address6", "10.77.100.10"),
            netns: naming.netns("admin"),
            veth: naming.nextVeth(),
            ports: [],
        },
        ...EXTERNAL_SERVICES.map((e): LabVantage => ({
            name: e.vantage,
            vantage: e.vantage,
            description: e.description,
            address: `10.77.50.${e.host}`,
            ...six(naming, "address6", `10.77.50.${e.host}`),
            netns: naming.netns(e.vantage),
            veth: naming.nextVeth(),
            ports: [...e.ports, EXTERNAL_CONTROL_PORT],
        })),
    ];
}

/** A node and a vantage of the same name would share a namespace: refused. */
export function checkNameClash(nodes: LabNode[], vantages: LabVantage[]): void {
    const clash = nodes.filter((n) => vantages.some((v) => v.name === n.name));
    if (clash.length) throw new Error(`node names clash with vantage names: ${clash.map((n) => n.name).join(", ")}`);
}

/**
 * Multisite: the router between the lab bridge and dc2's bridge, with 1:1 NAT for every dc2 node (the nodes with an
 * advertised address). Dual-stack: IPv6 is routed into dc2's /64 (`innerPrefix6`), never NATed.
 */
export function labRouter(naming: PlanNaming, nodes: LabNode[], innerPrefix6: string): LabRouter {
    const mirror6 = naming.mirror6;
    return {
        netns: naming.netns("router"),
        veth: naming.nextVeth(),
        outerAddress: "10.77.0.254",
        innerAddress: "10.78.2.1",
        innerPrefixLen: 24,
        innerBridge: "brdc2",
        ...(mirror6
            ? { ipv6: { outerAddress6: mirror6("10.77.0.254"), innerAddress6: mirror6("10.78.2.1"), innerPrefix6 } }
            : {}),
        nat: nodes
            .filter((n) => n.advertisedAddress)
            .map((n) => ({ advertised: n.advertisedAddress!, internal: n.address, node: n.name })),
    };
}
