// Network namespaces, the lab bridge, veths, the multisite router (finding/killing lab processes: lab/procs.ts).
import { spawnSync } from "child_process";
import * as fs from "fs";
import { routerNatRuleset } from "./render";
import {
    BRIDGE,
    LAB6_PREFIX_LEN,
    LabNode,
    LabPlan,
    LabVantage,
    LAB_PREFIX_LEN,
    isIpv6,
    NETNS_PREFIX,
    PROVISIONER_ADDRESS,
    PROVISIONER_ADDRESS6,
    VETH_PREFIX,
} from "./shapes";
import { macFor, NdiscThresholds, ndiscThresholdsFor, neighborTable, nodeMac } from "./neighbors";
import { killNetnsProcesses } from "./procs";
import { pool, run, shIn, sleep } from "./sys";

/** Lab namespaces that exist now (ours start with phlab-). */
export async function listLabNamespaces(): Promise<string[]> {
    const r = await run("ip", ["netns", "list"], { allowFail: true });
    return r.stdout
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[0])
        .filter((n) => n && n.startsWith(NETNS_PREFIX));
}

export function netnsExists(ns: string): boolean {
    return fs.existsSync(`/run/netns/${ns}`);
}

/** Links in the root namespace that the lab created (bridge and root-side veths). */
export async function labLinks(): Promise<string[]> {
    const r = await run("ip", ["-o", "link", "show"], { allowFail: true });
    const re = new RegExp(`^\\d+:\\s+((?:${BRIDGE})|(?:${VETH_PREFIX}\\d+))[@:]`);
    return r.stdout
        .split("\n")
        .map((l) => re.exec(l)?.[1])
        .filter((x): x is string => !!x);
}

/** Deletes namespaces (their processes must be gone) in one `ip -batch`; clears any file left behind. */
export async function deleteNamespaces(namespaces: string[]): Promise<void> {
    if (!namespaces.length) return;
    await run("ip", ["-force", "-batch", "-"], {
        input: namespaces.map((n) => `netns del ${n}\n`).join(""),
        allowFail: true,
    });
    for (const n of namespaces) {
        if (!fs.existsSync(`/run/netns/${n}`)) continue;
        spawnSync("umount", ["-l", `/run/netns/${n}`]);
        fs.rmSync(`/run/netns/${n}`, { force: true });
    }
}

/** Removes the bridge and root-side veths left behind (waits a little for the kernel's async netns cleanup). */
export async function removeLabLinks(waitMs = 3000): Promise<void> {
    const deadline = Date.now() + waitMs;
    let links = await labLinks();
    while (links.some((l) => l !== BRIDGE) && Date.now() < deadline) {
        await sleep(50);
        links = await labLinks();
    }
    const ordered = [...links.filter((l) => l !== BRIDGE), ...links.filter((l) => l === BRIDGE)];
    if (ordered.length)
        await run("ip", ["-force", "-batch", "-"], {
            input: ordered.map((l) => `link del ${l}\n`).join(""),
            allowFail: true,
        });
}

/** Unmounts /run/netns when no namespace is left in it (ip netns add mounts it; nothing else needs it). */
export function cleanupNetnsMount(): void {
    // inside scripts/lab-sandbox.sh /run/netns is the sandbox's own tmpfs: unmounting it would expose the machine's
    if (process.env.PINHOLE_LAB_SANDBOX === "inside") return;
    for (let i = 0; i < 8; i++) {
        try {
            if (fs.readdirSync("/run/netns").length) return;
        } catch {
            return;
        }
        const mounted = fs
            .readFileSync("/proc/self/mountinfo", "utf8")
            .split("\n")
            .some((l) => l.split(" ")[4] === "/run/netns");
        if (!mounted) break;
        spawnSync("umount", ["/run/netns"]);
    }
    try {
        fs.rmdirSync("/run/netns");
    } catch {
        /* in use again or not empty */
    }
}

// ------------------------------------------------------------------------------------------ creation

/** The lab bridge in the root namespace; with `ipv6` (dual-stack lab) it carries IPv6 too. */
export async function ensureBridge(ipv6 = false): Promise<void> {
    const exists = (await run("ip", ["link", "show", BRIDGE], { allowFail: true })).code === 0;
    const cmds: string[] = [];
    // a fixed MAC: a bridge takes its lowest port's MAC otherwise, and nodes' ARP entries for the provisioner would go stale
    if (!exists) cmds.push(`link add ${BRIDGE} address ${macFor(PROVISIONER_ADDRESS)} type bridge`);
    cmds.push(`link set ${BRIDGE} up`);
    // no MLD snooping: neighbour solicitations (multicast) reach every port, whatever reports the bridge saw
    cmds.push(`link set ${BRIDGE} type bridge mcast_snooping 0`);
    cmds.push(`link set ${BRIDGE} address ${macFor(PROVISIONER_ADDRESS)}`);
    await run("ip", ["-batch", "-"], { input: cmds.join("\n") + "\n" });
    // IPv6 on the bridge (dual-stack): no DAD (the address is usable at once), no router advertisements or
    // autoconfiguration taken from the lab segment. IPv4-only lab: keep the lab quiet on IPv6 in the root namespace.
    for (const k of ipv6 ? ["disable_ipv6=0", "accept_dad=0", "accept_ra=0", "autoconf=0"] : ["disable_ipv6=1"]) {
        await run("sysctl", ["-q", "-w", `net.ipv6.conf.${BRIDGE}.${k}`], { allowFail: true });
    }
    const addr = await run("ip", ["-o", "addr", "show", "dev", BRIDGE]);
    if (!addr.stdout.includes(` ${PROVISIONER_ADDRESS}/${LAB_PREFIX_LEN} `)) {
        await run("ip", ["addr", "add", `${PROVISIONER_ADDRESS}/${LAB_PREFIX_LEN}`, "dev", BRIDGE]);
    }
    if (ipv6 && !addr.stdout.includes(` ${PROVISIONER_ADDRESS6}/${LAB6_PREFIX_LEN} `)) {
        await run("ip", ["-6", "addr", "add", `${PROVISIONER_ADDRESS6}/${LAB6_PREFIX_LEN}`, "dev", BRIDGE, "nodad"]);
    }
}

/**
 * Multisite: the provisioning host reaches dc2's IPv6 subnet through the router (routed, no NAT). The
 * route goes with the bridge when the lab is removed.
 */
export async function ensureRootRoutes6(plan: LabPlan): Promise<void> {
    const v6 = plan.router?.ipv6;
    if (!v6) return;
    await run("ip", ["-6", "route", "replace", v6.innerPrefix6, "via", v6.outerAddress6, "dev", BRIDGE]);
}

const NS_SYSCTLS = [
    // a probe's "refused" must not turn into "filtered" because ICMP errors are rate-limited
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv4.icmp_msgs_per_sec=100000",
    "net.ipv4.icmp_msgs_burst=100000",
    "net.ipv6.icmp.ratelimit=0",
];

/** eth0's IPv6 settings, before its addresses are added: no DAD delay, nothing learnt from router advertisements. */
const ETH0_SYSCTLS6 = ["disable_ipv6=0", "accept_dad=0", "accept_ra=0", "autoconf=0"].map(
    (k) => `net.ipv6.conf.eth0.${k}`,
);

interface NsNet {
    netns: string;
    veth: string;
    /** IPv4 address; none on an IPv6-only node (then eth0 must have no IPv4 address at all). */
    address?: string;
    prefixLen: number;
    /** eth0's stable MAC (macFor of the lab IPv4, configured or not). */
    mac: string;
    gateway?: string;
    /** Dual-stack: IPv6 address (prefix length LAB6_PREFIX_LEN) and routes ("<prefix> via <gateway>" or "default via <gateway>"). */
    address6?: string;
    routes6?: string[];
    /** Namespace that holds the veth's other end and the bridge to enslave it to. */
    parentNs: string | null;
    parentBridge: string;
    extraAddresses?: string[];
    sysctls?: string[];
}

/** IPv6 routes of a host on the lab bridge: dc2's subnet through the router (multisite). */
function labSegmentRoutes6(plan: LabPlan): string[] {
    const v6 = plan.router?.ipv6;
    return v6 ? [`${v6.innerPrefix6} via ${v6.outerAddress6}`] : [];
}

function nsNetOfNode(n: LabNode, plan: LabPlan): NsNet {
    const only6 = isIpv6(n.address);
    return {
        netns: n.netns,
        veth: n.veth,
        address: only6 ? undefined : n.address,
        prefixLen: n.prefixLen,
        mac: nodeMac(n),
        gateway: n.gateway,
        address6: only6 ? n.address : n.address6,
        routes6: n.gateway6 ? [`default via ${n.gateway6}`] : labSegmentRoutes6(plan),
        parentNs: n.segment === "dc2" ? plan.router!.netns : null,
        parentBridge: n.segment === "dc2" ? plan.router!.innerBridge : BRIDGE,
    };
}

function nsNetOfVantage(v: LabVantage, plan: LabPlan): NsNet {
    return {
        netns: v.netns,
        veth: v.veth,
        address: v.address,
        prefixLen: LAB_PREFIX_LEN,
        mac: macFor(v.address),
        address6: v.address6,
        routes6: labSegmentRoutes6(plan),
        parentNs: null,
        parentBridge: BRIDGE,
    };
}

/** Is the namespace's network as planned (eth0 up with its address, veth enslaved and up)? */
async function networkOk(x: NsNet): Promise<boolean> {
    if (!netnsExists(x.netns)) return false;
    const inside = await run("ip", ["-n", x.netns, "-o", "addr", "show", "dev", "eth0"], { allowFail: true });
    if (inside.code !== 0) return false;
    if (x.address ? !inside.stdout.includes(` ${x.address}/${x.prefixLen} `) : / inet /.test(inside.stdout))
        return false;
    if (x.address6 && !inside.stdout.includes(` ${x.address6}/${LAB6_PREFIX_LEN} `)) return false;
    for (const a of x.extraAddresses ?? []) if (!inside.stdout.includes(` ${a}/32 `)) return false;
    const routes = await run("ip", ["-n", x.netns, "-6", "route", "show"], { allowFail: true });
    for (const r of x.routes6 ?? []) if (!routes.stdout.split("\n").some((l) => l.startsWith(`${r} `))) return false;
    const link = await run("ip", [...(x.parentNs ? ["-n", x.parentNs] : []), "-o", "link", "show", x.veth], {
        allowFail: true,
    });
    return (
        link.code === 0 && link.stdout.includes(`master ${x.parentBridge} `) && /state UP|LOWER_UP/.test(link.stdout)
    );
}

/** Creates the namespace and its veth from scratch (removing any half-made leftover first). */
async function createNsNet(x: NsNet): Promise<void> {
    if (netnsExists(x.netns)) {
        await killNetnsProcesses([x.netns]);
        await deleteNamespaces([x.netns]);
    }
    const p = x.parentNs ? ["-n", x.parentNs] : [];
    await run("ip", [...p, "link", "del", x.veth], { allowFail: true });
    await addNetns(x.netns);
    await run("ip", [
        ...p,
        "link",
        "add",
        x.veth,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "address",
        x.mac,
        "netns",
        x.netns,
    ]);
    await run("ip", [...p, "link", "set", x.veth, "master", x.parentBridge, "up"]);
    const script = [
        ...(x.address6 ? ETH0_SYSCTLS6.map((s) => `sysctl -q -w ${s}`) : []),
        "ip link set lo up",
        ...(x.address ? [`ip addr add ${x.address}/${x.prefixLen} dev eth0`] : []),
        ...(x.address6 ? [`ip -6 addr add ${x.address6}/${LAB6_PREFIX_LEN} dev eth0 nodad`] : []),
        ...(x.extraAddresses ?? []).map((a) => `ip addr add ${a}/32 dev eth0`),
        "ip link set eth0 up",
        ...(x.gateway ? [`ip route add default via ${x.gateway}`] : []),
        ...(x.routes6 ?? []).map((r) => `ip -6 route add ${r} dev eth0`),
        ...[...NS_SYSCTLS, ...(x.sysctls ?? [])].map((s) => `sysctl -q -w ${s} 2>/dev/null || true`),
    ].join("\n");
    await shIn(x.netns, script);
}

let netnsAddChain: Promise<unknown> = Promise.resolve();

/**
 * `ip netns add`, one at a time: the first add in a process sets up the /run/netns mount, and concurrent
 * first adds stack several mounts there (a namespace file then hides under another mount). A leftover file
 * of a half-deleted namespace is cleared first.
 */
function addNetns(ns: string): Promise<void> {
    const next = netnsAddChain.then(async () => {
        const r = await run("ip", ["netns", "add", ns], { allowFail: true });
        if (r.code === 0) return;
        if (/File exists/.test(r.stderr)) {
            spawnSync("umount", ["-l", `/run/netns/${ns}`]);
            fs.rmSync(`/run/netns/${ns}`, { force: true });
            await run("ip", ["netns", "add", ns]);
            return;
        }
        throw new Error(`ip netns add ${ns}: ${r.stderr.trim()}`);
    });
    netnsAddChain = next.catch(() => undefined);
    return next;
}

/** Makes sure the namespace's network is as planned; returns true when it had to be (re)created. */
export async function ensureNsNet(x: NsNet): Promise<boolean> {
    if (await networkOk(x)) return false;
    await createNsNet(x);
    return true;
}

export const ensureNodeNet = (n: LabNode, plan: LabPlan) => ensureNsNet(nsNetOfNode(n, plan));
export const ensureVantageNet = (v: LabVantage, plan: LabPlan) => ensureNsNet(nsNetOfVantage(v, plan));

/**
 * The multisite router: outer leg on the lab bridge (with dc2's advertised addresses), dc2's bridge inside,
 * 1:1 NAT for IPv4; IPv6 is routed between the lab's /64 and dc2's /64 without NAT.
 */
export async function ensureRouter(plan: LabPlan): Promise<boolean> {
    const r = plan.router!;
    const x: NsNet = {
        netns: r.netns,
        veth: r.veth,
        address: r.outerAddress,
        prefixLen: LAB_PREFIX_LEN,
        mac: macFor(r.outerAddress),
        address6: r.ipv6?.outerAddress6,
        parentNs: null,
        parentBridge: BRIDGE,
        extraAddresses: r.nat.map((n) => n.advertised),
        sysctls: ["net.ipv4.ip_forward=1", ...(r.ipv6 ? ["net.ipv6.conf.all.forwarding=1"] : [])],
    };
    const v6 = r.ipv6;
    let created = await ensureNsNet(x);
    const br = await run("ip", ["-n", r.netns, "-o", "addr", "show", "dev", r.innerBridge], { allowFail: true });
    if (
        br.code !== 0 ||
        !br.stdout.includes(` ${r.innerAddress}/${r.innerPrefixLen} `) ||
        (v6 && !br.stdout.includes(` ${v6.innerAddress6}/${LAB6_PREFIX_LEN} `))
    ) {
        await shIn(
            r.netns,
            [
                `ip link del ${r.innerBridge} 2>/dev/null || true`,
                `ip link add ${r.innerBridge} address ${macFor(r.innerAddress)} type bridge mcast_snooping 0`,
                ...(v6
                    ? ["disable_ipv6=0", "accept_dad=0", "accept_ra=0", "autoconf=0"].map(
                          (k) => `sysctl -q -w net.ipv6.conf.${r.innerBridge}.${k}`,
                      )
                    : []),
                `ip addr add ${r.innerAddress}/${r.innerPrefixLen} dev ${r.innerBridge}`,
                ...(v6 ? [`ip -6 addr add ${v6.innerAddress6}/${LAB6_PREFIX_LEN} dev ${r.innerBridge} nodad`] : []),
                `ip link set ${r.innerBridge} up`,
            ].join("\n"),
        );
        created = true;
    }
    await run("ip", ["netns", "exec", r.netns, "nft", "-f", "-"], { input: routerNatRuleset(r) });
    return created;
}

/**
 * Installs the plan's permanent ARP entries in every namespace (and the root namespace's bridge). IPv4 only:
 * IPv6 neighbours are found by neighbour discovery, which the firewall must let through under default-deny.
 */
export async function installNeighbors(plan: LabPlan, parallel = 8): Promise<void> {
    const entries = [...neighborTable(plan).entries()];
    await pool(entries, parallel, async ([ns, list]) => {
        if (!list.length) return;
        const input = list
            .map((e) => `neigh replace ${e.address} lladdr ${e.mac} dev ${e.dev} nud permanent\n`)
            .join("");
        await run("ip", [...(ns ? ["-n", ns] : []), "-batch", "-"], { input });
    });
}

const NDISC_SYSCTL = "/proc/sys/net/ipv6/neigh/default";

/**
 * Room in the kernel's IPv6 neighbour table for every pair of the lab's namespaces (neighbors.ts
 * ndiscThresholdsFor). Only the root network namespace has these sysctls: inside scripts/lab-sandbox.sh they are
 * not there, and the lab says what to raise instead.
 */
export async function ensureNdiscRoom(namespaces: number, log: (m: string) => void): Promise<void> {
    const file = (k: keyof NdiscThresholds) => `${NDISC_SYSCTL}/${k}`;
    if (!fs.existsSync(file("gc_thresh3"))) {
        if (namespaces * namespaces > 1024)
            log(
                `note: ${namespaces} dual-stack namespaces may overflow the kernel's IPv6 neighbour table; from the root namespace run sysctl -w net.ipv6.neigh.default.gc_thresh3=${2 ** Math.ceil(Math.log2(namespaces * namespaces))}`,
            );
        return;
    }
    const read = (k: keyof NdiscThresholds) => Number(fs.readFileSync(file(k), "utf8").trim());
    const current = { gc_thresh1: read("gc_thresh1"), gc_thresh2: read("gc_thresh2"), gc_thresh3: read("gc_thresh3") };
    const next = ndiscThresholdsFor(namespaces, current);
    if (!next) return;
    await run("sysctl", ["-q", "-w", ...Object.entries(next).map(([k, v]) => `net.ipv6.neigh.default.${k}=${v}`)]);
    log(
        `raised the kernel's IPv6 neighbour table for ${namespaces} namespaces: gc_thresh3 ${current.gc_thresh3} -> ${next.gc_thresh3} (machine-wide)`,
    );
}
