// Stable MACs and the static ARP table of a lab plan. Pure: no I/O (lab/net.ts installs them).
import { isIpv6, LabPlan } from "./shapes";

/**
 * A stable, locally administered MAC for a lab address (02:4c:<the four octets>): a namespace that is
 * recreated keeps its MAC, so its peers' ARP caches stay right.
 */
export function macFor(ipv4: string): string {
    const o = ipv4.split(".").map((x) => Number(x));
    if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255))
        throw new Error(`not an IPv4 address: ${ipv4}`);
    return ["02", "4c", ...o.map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

/** The node's stable MAC (macFor its lab IPv4, configured or not: an IPv6-only node keeps its MAC). */
export const nodeMac = (n: { address: string; labIpv4?: string }): string => macFor(n.labIpv4 ?? n.address);

export interface NeighborEntry {
    dev: string;
    address: string;
    mac: string;
}

/**
 * Permanent ARP entries (IPv4 only) for every namespace (key: netns name, "" for the root namespace): each lab address
 * its segment can reach, with its stable MAC (dc2's advertised addresses resolve to the router). No ARP
 * traffic means no ARP storm or queueing when a probe opens thousands of connections at once.
 */
export function neighborTable(plan: LabPlan): Map<string, NeighborEntry[]> {
    const lab: { address: string; mac: string; owner: string }[] = [
        { address: plan.provisioner.address, mac: macFor(plan.provisioner.address), owner: "" },
        ...plan.nodes
            .filter((n) => n.segment === "lab" && !isIpv6(n.address))
            .map((n) => ({ address: n.address, mac: macFor(n.address), owner: n.netns })),
        ...plan.vantages.map((v) => ({ address: v.address, mac: macFor(v.address), owner: v.netns })),
    ];
    const dc2: { address: string; mac: string; owner: string }[] = [];
    if (plan.router) {
        const r = plan.router;
        const routerMac = macFor(r.outerAddress);
        lab.push({ address: r.outerAddress, mac: routerMac, owner: r.netns });
        for (const n of r.nat) lab.push({ address: n.advertised, mac: routerMac, owner: r.netns });
        dc2.push({ address: r.innerAddress, mac: macFor(r.innerAddress), owner: r.netns });
        for (const n of plan.nodes.filter((x) => x.segment === "dc2"))
            dc2.push({ address: n.address, mac: macFor(n.address), owner: n.netns });
    }
    const out = new Map<string, NeighborEntry[]>();
    const add = (ns: string, dev: string, list: typeof lab) =>
        out.set(ns, [
            ...(out.get(ns) ?? []),
            ...list.filter((e) => e.owner !== ns).map((e) => ({ dev, address: e.address, mac: e.mac })),
        ]);
    add("", plan.bridge, lab);
    // an IPv6-only node speaks no IPv4: no ARP entries (its IPv6 neighbours come from neighbour discovery)
    for (const n of plan.nodes.filter((x) => !isIpv6(x.address))) add(n.netns, "eth0", n.segment === "lab" ? lab : dc2);
    for (const v of plan.vantages) add(v.netns, "eth0", lab);
    if (plan.router) {
        add(plan.router.netns, "eth0", lab);
        add(plan.router.netns, plan.router.innerBridge, dc2);
    }
    return out;
}

/** The kernel's IPv6 neighbour table thresholds (net.ipv6.neigh.default.gc_thresh1..3), machine-wide. */
export interface NdiscThresholds {
    gc_thresh1: number;
    gc_thresh2: number;
    gc_thresh3: number;
}

/**
 * IPv6 neighbours are learned (installNeighbors pins IPv4 only): one entry per namespace and peer it talks to,
 * counted machine-wide against gc_thresh3 (1024 by default), so a 48-node dual-stack lab (61 namespaces) overflows
 * it ("ndisc_cache: neighbor table overflow!") and its probes fail with EINVAL or time out. The thresholds that give
 * room for every pair of `namespaces` (the root namespace included), or undefined when `current` has it already.
 */
export function ndiscThresholdsFor(namespaces: number, current: NdiscThresholds): NdiscThresholds | undefined {
    const need = namespaces * namespaces;
    if (current.gc_thresh3 >= need) return undefined;
    const gc_thresh3 = 2 ** Math.ceil(Math.log2(need));
    return {
        gc_thresh1: current.gc_thresh1,
        gc_thresh2: Math.max(current.gc_thresh2, gc_thresh3 / 2),
        gc_thresh3,
    };
}
